import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import type * as Adapter from "../../src/adapters/Adapter.js"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as JSONAdapter from "../../src/adapters/JSONAdapter.js"
import * as Signature from "../../src/signature/Signature.js"

const sig = Signature.make("question -> reasoning, answer: int, tags: list[str]")

const run = (
  adapter: Pick<Adapter.Adapter, "streamFields">,
  chunks: ReadonlyArray<string>
): Either.Either<ReadonlyArray<Adapter.FieldEvent>, Adapter.AdapterParseError> =>
  Effect.runSync(
    Effect.either(
      Stream.fromIterable(chunks).pipe(adapter.streamFields(sig), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
    )
  )

const splitAt = (text: string, cuts: ReadonlyArray<number>): Array<string> => {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  const out: Array<string> = []
  let last = 0
  for (const p of points) {
    out.push(text.slice(last, p))
    last = p
  }
  out.push(text.slice(last))
  return out.filter((c) => c.length > 0)
}

const summary = (events: ReadonlyArray<Adapter.FieldEvent>) => {
  const deltas: Record<string, string> = {}
  const values: Record<string, unknown> = {}
  const order: Array<string> = []
  for (const e of events) {
    if (e._tag === "FieldDelta") deltas[e.field] = (deltas[e.field] ?? "") + e.delta
    else {
      values[e.field] = e.value
      order.push(e.field)
    }
  }
  return { deltas, values, order }
}

const chatAnswer = [
  "[[ ## reasoning ## ]]",
  "First, 2 + 3.",
  "Then [[ not a header ]] 5.",
  "",
  "[[ ## answer ## ]]",
  "5",
  "",
  "[[ ## tags ## ]]",
  '["math", "sum"]',
  "",
  "[[ ## completed ## ]]",
  "ignored"
].join("\n")

describe("field-level streaming", () => {
  it("ChatAdapter: deltas per field, values when each field closes, in order", () => {
    const r = run(ChatAdapter.plain, [
      "[[ ## reas",
      "oning ## ]]\nFirst, 2 + 3.\nThen [[ not a",
      " header ]] 5.\n\n[[",
      " ## answer ## ]]\n5\n\n",
      '[[ ## tags ## ]]\n["math", "sum"]\n\n[[ ## completed ## ]]\nignored'
    ])
    assert.isTrue(Either.isRight(r))
    if (Either.isRight(r)) {
      const s = summary(r.right)
      assert.deepStrictEqual(s.deltas, {
        reasoning: "First, 2 + 3.\nThen [[ not a header ]] 5.",
        answer: "5",
        tags: '["math", "sum"]'
      })
      assert.deepStrictEqual(s.values, {
        reasoning: "First, 2 + 3.\nThen [[ not a header ]] 5.",
        answer: 5,
        tags: ["math", "sum"]
      })
      assert.deepStrictEqual(s.order, ["reasoning", "answer", "tags"])
      // The reasoning value is emitted before any answer text arrives.
      const firstAnswerDelta = r.right.findIndex((e) => e._tag === "FieldDelta" && e.field === "answer")
      const reasoningValue = r.right.findIndex((e) => e._tag === "FieldValue" && e.field === "reasoning")
      assert.isTrue(reasoningValue >= 0 && reasoningValue < firstAnswerDelta)
    }
  })

  it("ChatAdapter: any chunking gives the same result as parse", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const r = run(ChatAdapter.plain, splitAt(chatAnswer, cuts))
        assert.isTrue(Either.isRight(r))
        if (Either.isRight(r)) {
          const s = summary(r.right)
          assert.deepStrictEqual(
            Either.right(s.values),
            ChatAdapter.parse(sig, chatAnswer) as Either.Either<unknown, unknown>
          )
          assert.strictEqual(s.deltas.reasoning, "First, 2 + 3.\nThen [[ not a header ]] 5.")
        }
      }),
      { numRuns: 60 }
    )
  })

  it("ChatAdapter: a bad value or a missing field fails the stream with AdapterParseError", () => {
    const bad = run(ChatAdapter.plain, ["[[ ## reasoning ## ]]\nr\n[[ ## answer ## ]]\nfive\n[[ ## tags ## ]]\n[]"])
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad))
      assert.deepStrictEqual(
        bad.left.invalid.map((i) => i.field),
        ["answer"]
      )
    const missing = run(ChatAdapter.plain, ["[[ ## reasoning ## ]]\nr\n[[ ## answer ## ]]\n5"])
    assert.isTrue(Either.isLeft(missing))
    if (Either.isLeft(missing)) {
      assert.deepStrictEqual(missing.left.missing, ["tags"])
      assert.include(missing.left.completion, "[[ ## answer ## ]]")
    }
  })

  const jsonAnswer =
    'Sure: {"reasoning": "Add \\"2\\" and 3.\\nDone", "answer": 5, "tags": ["math", "s,u]m"], "extra": {"a": [1]}}'

  it("JSONAdapter: string values stream as decoded text, others as JSON", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const r = run(JSONAdapter.make(), splitAt(jsonAnswer, cuts))
        assert.isTrue(Either.isRight(r))
        if (Either.isRight(r)) {
          const s = summary(r.right)
          assert.deepStrictEqual(s.deltas, {
            reasoning: 'Add "2" and 3.\nDone',
            answer: "5",
            tags: '["math", "s,u]m"]'
          })
          assert.deepStrictEqual(s.values, { reasoning: 'Add "2" and 3.\nDone', answer: 5, tags: ["math", "s,u]m"] })
          assert.deepStrictEqual(s.order, ["reasoning", "answer", "tags"])
        }
      }),
      { numRuns: 60 }
    )
  })

  it("JSONAdapter: a truncated stream is completed tolerantly, or fails naming the missing field", () => {
    const cut = run(JSONAdapter.make(), ['{"reasoning": "r", "answer": 5, "tags": ["a"'])
    assert.isTrue(Either.isRight(cut))
    if (Either.isRight(cut))
      assert.deepStrictEqual(summary(cut.right).values, { reasoning: "r", answer: 5, tags: ["a"] })
    const missing = run(JSONAdapter.make(), ['{"reasoning": "r", "answer": 5}'])
    assert.isTrue(Either.isLeft(missing))
    if (Either.isLeft(missing)) assert.deepStrictEqual(missing.left.missing, ["tags"])
  })
})
