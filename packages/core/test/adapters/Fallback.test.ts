import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type * as Adapter from "../../src/adapters/Adapter.js"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as JSONAdapter from "../../src/adapters/JSONAdapter.js"
import { LMServerError } from "../../src/lm/LMError.js"
import * as Signature from "../../src/signature/Signature.js"

const sig = Signature.make("question -> answer: int")

// A scripted LM: answers the i-th call with the i-th list of choices and records every request.
const scripted = (answers: ReadonlyArray<ReadonlyArray<string>>) =>
  Effect.map(Ref.make<ReadonlyArray<Adapter.Formatted>>([]), (seen) => {
    const complete: Adapter.Complete<never, never> = (request) =>
      Ref.modify(seen, (xs) => [answers[xs.length] ?? [], [...xs, request]])
    return { seen, complete }
  })

describe("Adapter.call and the Chat -> JSON fallback", () => {
  it.effect("parses every choice of a chat answer in one call", () =>
    Effect.gen(function* () {
      const lm = yield* scripted([["[[ ## answer ## ]]\n5\n\n[[ ## completed ## ]]", "[[ ## answer ## ]]\n6"]])
      const r = yield* ChatAdapter.make().call(sig, [], { question: "2 + 3?" }, lm.complete)
      assert.deepStrictEqual(r.outputs, [{ answer: 5 }, { answer: 6 }])
      assert.strictEqual(r.adapter, "ChatAdapter")
      assert.strictEqual(r.calls, 1)
      const requests = yield* Ref.get(lm.seen)
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(requests[0]!.responseFormat, undefined)
    })
  )

  it.effect("re-runs through the JSONAdapter when the chat answer does not parse", () =>
    Effect.gen(function* () {
      const lm = yield* scripted([["The answer is 5."], ['{"answer": 5}']])
      const r = yield* ChatAdapter.withJSONFallback(sig, [], { question: "2 + 3?" }, lm.complete)
      assert.deepStrictEqual(r.outputs, [{ answer: 5 }])
      assert.strictEqual(r.adapter, "JSONAdapter")
      assert.strictEqual(r.calls, 2)
      const requests = yield* Ref.get(lm.seen)
      assert.strictEqual(requests.length, 2)
      assert.deepStrictEqual(requests[1]!.responseFormat?.type, "json_schema")
      assert.include(requests[1]!.messages[0]!.content, "Outputs will be a JSON object")
    })
  )

  it.effect("a failure that survives the fallback carries the raw completion and both messages", () =>
    Effect.gen(function* () {
      const lm = yield* scripted([["nope"], ["still nope"]])
      const error = yield* Effect.flip(ChatAdapter.make().call(sig, [], { question: "q" }, lm.complete))
      assert.strictEqual(error._tag, "AdapterParseError")
      if (error._tag === "AdapterParseError") {
        assert.strictEqual(error.adapter, "JSONAdapter")
        assert.strictEqual(error.completion, "still nope")
        assert.deepStrictEqual(error.outputFields, ["answer"])
        assert.include(error.message, "after ChatAdapter failed")
        assert.strictEqual(error.context?.primaryCompletion, "nope")
      }
    })
  )

  it.effect("does not fall back on LM errors, nor when the fallback is off", () =>
    Effect.gen(function* () {
      let calls = 0
      const failing: Adapter.Complete<LMServerError, never> = () => {
        calls++
        return Effect.fail(new LMServerError({ message: "down", provider: "test" }))
      }
      const error = yield* Effect.flip(ChatAdapter.make().call(sig, [], { question: "q" }, failing))
      assert.strictEqual(error._tag, "LMServerError")
      assert.strictEqual(calls, 1)
      const lm = yield* scripted([["nope"], ['{"answer": 1}']])
      const plain = yield* Effect.flip(
        ChatAdapter.make({ jsonFallback: false }).call(sig, [], { question: "q" }, lm.complete)
      )
      assert.strictEqual(plain._tag, "AdapterParseError")
      assert.strictEqual((yield* Ref.get(lm.seen)).length, 1)
    })
  )

  it.effect("the JSONAdapter passes structuredOutputs through and fails on an empty choice list", () =>
    Effect.gen(function* () {
      const lm = yield* scripted([['{"answer": 3}'], []])
      const r = yield* JSONAdapter.make().call(sig, [], { question: "q" }, lm.complete, { structuredOutputs: false })
      assert.deepStrictEqual(r.outputs, [{ answer: 3 }])
      assert.deepStrictEqual((yield* Ref.get(lm.seen))[0]!.responseFormat, { type: "json_object" })
      const empty = yield* Effect.flip(JSONAdapter.make().call(sig, [], { question: "q" }, lm.complete))
      assert.strictEqual(empty._tag, "AdapterParseError")
      assert.include(empty.message, "no choices")
    })
  )
})
