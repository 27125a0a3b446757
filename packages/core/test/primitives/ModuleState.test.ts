import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import * as Example from "../../src/primitives/Example.js"
import * as Module from "../../src/primitives/Module.js"
import * as ChainOfThought from "../../src/predict/ChainOfThought.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Signature from "../../src/signature/Signature.js"
import * as Effect from "effect/Effect"

const program = Module.make({
  name: "P",
  parameters: {
    first: Predict.make(Signature.make("question -> query")),
    rest: [ChainOfThought.make(Signature.make("question, context: list[str] -> answer: int"))]
  },
  forward: (p, inputs: { readonly question: string }) => p.first(inputs)
})
const paths = Module.namedPredictors(program).map((p) => p.path)

describe("Module state (properties)", () => {
  it("dump -> JSON -> load -> dump is the identity for any instructions, demos and config", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { minLength: paths.length, maxLength: paths.length }),
        fc.array(fc.array(fc.record({ question: fc.string(), answer: fc.integer() }), { maxLength: 3 }), {
          minLength: paths.length,
          maxLength: paths.length
        }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        (instructions, demos, n) => {
          let tuned = program
          paths.forEach((path, i) => {
            tuned = Either.getOrThrow(
              Module.updatePredictor(tuned, path, (p) =>
                Predict.withConfig(
                  Predict.withDemos(
                    Predict.withInstructions(p, instructions[i]!),
                    demos[i]!.map((d) => Example.make(d).withInputs("question"))
                  ),
                  { n }
                )
              )
            )
          })
          const state = Module.dumpState(tuned)
          const loaded = Either.getOrThrow(Module.loadState(program, JSON.parse(JSON.stringify(state))))
          assert.deepStrictEqual(Module.dumpState(loaded), state)
          assert.deepStrictEqual(Module.instructions(loaded), Module.instructions(tuned))
          // the original program is untouched
          assert.deepStrictEqual(
            Object.values(Module.demos(program)).map((d) => d.length),
            paths.map(() => 0)
          )
        }
      ),
      { numRuns: 50 }
    )
  })

  it.effect("mapPredictors keeps the tree shape and every path", () =>
    Effect.sync(() => {
      const mapped = Module.mapPredictors(program, (p) => Predict.withConfig(p, { temperature: 0.3 }))
      assert.deepStrictEqual(
        Module.namedPredictors(mapped).map((p) => p.path),
        paths
      )
      assert.isTrue(Module.predictors(mapped).every((p) => p.config.temperature === 0.3))
      assert.isTrue(Module.predictors(program).every((p) => p.config.temperature === undefined))
    })
  )
})
