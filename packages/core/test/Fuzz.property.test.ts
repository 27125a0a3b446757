import { Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import * as ChatAdapter from "../src/adapters/ChatAdapter.js"
import * as JSONAdapter from "../src/adapters/JSONAdapter.js"
import * as JsonRepair from "../src/adapters/JsonRepair.js"
import * as OpenAIProvider from "../src/lm/OpenAIProvider.js"
import * as Signature from "../src/signature/Signature.js"
import { hostileText, pieces } from "./hostile.js"

const sig = Signature.make("question, context: list[str] -> reasoning, answer: int, tags: list[str]")

/** A parser's result: a value or a typed error of the family, never a thrown defect. */
const valueOrTypedError = (result: Either.Either<unknown, unknown>) => {
  if (Either.isLeft(result)) assert.isTrue(Errors.isDSPyError(result.left), String(result.left))
}

const text = fc.oneof(hostileText, fc.string({ unit: "binary" }), fc.json())
const json = fc.oneof(fc.jsonValue(), fc.anything())

describe("every parser gives a value or a typed error", () => {
  it("signatures (string form and saved form)", () => {
    fc.assert(
      fc.property(text, json, (s, j) => {
        valueOrTypedError(Signature.parse(s))
        valueOrTypedError(Signature.parse(`q -> a: ${s}`))
        valueOrTypedError(Signature.fromJSON(j))
        valueOrTypedError(Signature.fromJSON({ instructions: "x", fields: [j] }))
      }),
      { numRuns: 300 }
    )
  })

  it("adapters and JSON repair", () => {
    fc.assert(
      fc.property(text, (s) => {
        valueOrTypedError(ChatAdapter.parse(sig, s))
        valueOrTypedError(JSONAdapter.parse(sig, s))
        JsonRepair.parse(s)
        JsonRepair.parseObject(s)
      }),
      { numRuns: 300 }
    )
  })

  it("provider response bodies", () => {
    const context = { provider: "p", model: "m", status: 200, contentType: "application/json" }
    fc.assert(
      fc.property(text, json, (s, j) => {
        valueOrTypedError(OpenAIProvider.parseCompletionBody(s, context))
        valueOrTypedError(OpenAIProvider.parseCompletionBody(JSON.stringify(j) ?? "", context))
        valueOrTypedError(OpenAIProvider.parseCompletionBody(JSON.stringify({ choices: [j] }), context))
      }),
      { numRuns: 300 }
    )
  })
})

// No timing assertions: the test timeout is the bound (quadratic parsing of these took minutes).
describe("1 MB adversarial inputs complete", () => {
  const mb = 1_000_000
  const inputs: Array<[string, string]> = [
    ["nested brackets", "[".repeat(mb)],
    ["open braces", "{".repeat(mb)],
    ["braces and keys", '{"a":'.repeat(mb / 5)],
    ["unquoted values", "{a: b, ".repeat(mb / 7)],
    ["near markers", "[[ ## ".repeat(mb / 6)],
    ["escaped markers", "\\[[ ## a ## ]]\n".repeat(mb / 15)],
    ["whitespace", " ".repeat(mb)],
    ["fences", "```".repeat(mb / 3)],
    ["digits", "1".repeat(mb)],
    ["hostile pieces", pieces.join("").repeat(Math.ceil(mb / pieces.join("").length))]
  ]
  for (const [name, input] of inputs) {
    it(name, () => {
      valueOrTypedError(ChatAdapter.parse(sig, input))
      valueOrTypedError(JSONAdapter.parse(sig, input))
      valueOrTypedError(Signature.parse(`q -> a: ${input}`))
      valueOrTypedError(OpenAIProvider.parseCompletionBody(input, { provider: "p", model: "m" }))
    })
  }
})
