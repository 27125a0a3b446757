/**
 * Fuzzing saved programs: arbitrary text in a program file, arbitrary JSON shapes, and valid saved states with
 * one place replaced by an arbitrary value all load as a program or fail with a typed error of the family
 * (`ModuleStateError`, `UnknownPredictorPath`), never a defect or a throw. A program that loads can be dumped
 * again.
 */
import { Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Example from "../src/primitives/Example.js"
import * as Module from "../src/primitives/Module.js"
import * as ChainOfThought from "../src/predict/ChainOfThought.js"
import * as Predict from "../src/predict/Predict.js"
import * as Signature from "../src/signature/Signature.js"
import { hostileText } from "./hostile.js"

const program = Module.make({
  name: "P",
  parameters: {
    first: Predict.make(Signature.make("question -> query")),
    rest: [ChainOfThought.make(Signature.make("question, context: list[str] -> answer: int"))]
  },
  forward: (p, inputs: { readonly question: string }) => p.first(inputs)
})

const tuned = Either.getOrThrow(
  Module.updatePredictor(program, "first", (p) =>
    Predict.withDemos(Predict.withInstructions(p, "Search well."), [
      Example.make({ question: "Who?", query: "who" }).withInputs("question")
    ])
  )
)
const valid = JSON.parse(JSON.stringify(Module.dumpState(tuned))) as unknown

/** Every place in a JSON value: the path of keys and indexes to it. */
const places = (value: unknown, at: ReadonlyArray<string> = []): Array<ReadonlyArray<string>> => {
  if (typeof value !== "object" || value === null) return [at]
  return [at, ...Object.entries(value).flatMap(([k, v]) => places(v, [...at, k]))]
}
const validPlaces = places(valid)

/** `value` with the place at `at` replaced by `by` (a copy; an empty path replaces the whole). */
const replaced = (value: unknown, at: ReadonlyArray<string>, by: unknown): unknown => {
  if (at.length === 0) return by
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as never) : { ...(value as object) }
  const [key, ...rest] = at
  Object.defineProperty(copy, key!, {
    value: replaced(copy[key!], rest, by),
    enumerable: true,
    writable: true,
    configurable: true
  })
  return copy
}

/** A load's outcome: a program that dumps again, or a typed error of the family. */
const programOrTypedError = (result: Either.Either<Module.Program, unknown>) => {
  if (Either.isLeft(result)) assert.isTrue(Errors.isDSPyError(result.left), String(result.left))
  else Module.dumpState(result.right)
}

const jsonShape = fc.oneof(
  fc.jsonValue(),
  fc.dictionary(
    fc.constantFrom("__proto__", "constructor", "version", "program", "predictors", "fields"),
    fc.jsonValue()
  )
)

describe("saved programs: a program or a typed error, never a defect", () => {
  it("arbitrary JSON shapes", () => {
    fc.assert(
      fc.property(jsonShape, (j) => {
        programOrTypedError(Module.loadState(program, j))
        programOrTypedError(Module.loadState(program, { version: 1, program: "P", predictors: j }))
        programOrTypedError(Module.loadState(program, { version: 1, program: "P", predictors: { first: j } }))
      }),
      { numRuns: 300 }
    )
  })

  it("a valid saved state with one place replaced by an arbitrary value", () => {
    fc.assert(
      fc.property(fc.constantFrom(...validPlaces), jsonShape, (at, by) => {
        programOrTypedError(Module.loadState(program, replaced(valid, at, by)))
      }),
      { numRuns: 500 }
    )
  })

  it.effect("arbitrary text in a program file", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-program-fuzz-"))),
      (dir) =>
        Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.oneof(
                hostileText,
                fc.string({ unit: "binary" }),
                fc.json(),
                jsonShape.map((j) => JSON.stringify(j))
              ),
              async (text) => {
                const file = path.join(dir, "program.json")
                fs.writeFileSync(file, text)
                const exit = await Effect.runPromiseExit(Module.load(program, file))
                if (Exit.isSuccess(exit)) Module.dumpState(exit.value)
                else {
                  const failure = Cause.failureOption(exit.cause)
                  assert.isTrue(
                    failure._tag === "Some" && Errors.isDSPyError(failure.value),
                    `not a typed failure: ${Cause.pretty(exit.cause)}`
                  )
                }
              }
            ),
            { numRuns: 100 }
          )
        ),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
  )

  // Found by the property above: Effect's union decoding turned a tag without a prototype into a string and threw.
  it("a state or a saved signature whose field type tag is an object without a prototype is a typed error", () => {
    const at = ["predictors", "first", "signature", "fields", "0", "type", "_tag"]
    const result = Module.loadState(program, replaced(valid, at, Object.create(null)))
    assert.isTrue(Either.isLeft(result))
    const error = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : undefined))
    assert.strictEqual(error?._tag, "ModuleStateError")
    assert.include(error?.message, "Not a saved program state")
    const signature = JSON.parse(JSON.stringify(Signature.toJSON(Signature.make("q -> a: int"))))
    signature.fields[1].type._tag = Object.create(null)
    const decoded = Signature.fromJSON(signature)
    assert.isTrue(Either.isLeft(decoded) && decoded.left._tag === "SignatureDecodeError")
  })
})
