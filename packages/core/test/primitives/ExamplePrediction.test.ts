import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as Example from "../../src/primitives/Example.js"
import * as Prediction from "../../src/primitives/Prediction.js"

describe("Example", () => {
  const ex = Example.make({ question: "2 + 3?", context: ["math"], answer: "5" })

  it("splits inputs and labels after withInputs", () => {
    const marked = ex.withInputs("question", "context")
    assert.deepStrictEqual(marked.inputs().toRecord(), { question: "2 + 3?", context: ["math"] })
    assert.deepStrictEqual(marked.labels().toRecord(), { answer: "5" })
    assert.deepStrictEqual(marked.inputKeys, ["question", "context"])
    assert.strictEqual(ex.inputKeys, undefined, "the original is unchanged")
    expectTypeOf(marked.inputs().toRecord()).toEqualTypeOf<{
      readonly question: "2 + 3?"
      readonly context: readonly ["math"]
    }>()
  })

  it("fails inputs() with a typed error when no inputs are set", () => {
    assert.throws(() => ex.inputs(), Example.ExampleInputsNotSet)
    assert.deepStrictEqual(ex.labels().toRecord(), ex.toRecord())
  })

  it("is immutable: with / without return copies", () => {
    const marked = ex.withInputs("question")
    const more = marked.with({ answer: "five", hint: "add" })
    assert.deepStrictEqual(more.toRecord(), { question: "2 + 3?", context: ["math"], answer: "five", hint: "add" })
    assert.strictEqual(marked.get("answer"), "5")
    const less = marked.without("question")
    assert.deepStrictEqual(less.inputKeys, [])
    assert.isFalse(less.has("question"))
    assert.isTrue(Object.isFrozen(marked.toRecord()) === false, "toRecord gives a fresh object")
    const rec = marked.toRecord() as Record<string, unknown>
    rec.answer = "mutated"
    assert.strictEqual(marked.get("answer"), "5")
  })

  it("compares by value and hashes consistently", () => {
    const a = Example.make({ q: "x", tags: ["a", "b"] }).withInputs("q")
    const b = Example.make({ tags: ["a", "b"], q: "x" }).withInputs("q")
    assert.isTrue(Equal.equals(a, b))
    assert.strictEqual(Hash.hash(a), Hash.hash(b))
    assert.isFalse(Equal.equals(a, Example.make({ q: "x", tags: ["a"] }).withInputs("q")))
    assert.isFalse(Equal.equals(a, Example.make({ q: "x", tags: ["a", "b"] })))
  })

  it("round-trips its JSON form", () => {
    const marked = ex.withInputs("question")
    const back = Example.fromJSON(JSON.parse(JSON.stringify(marked)))
    assert.isTrue(Equal.equals(back, marked))
    assert.deepStrictEqual(Example.toRecord(marked), marked.toRecord())
    assert.deepStrictEqual(Example.toRecord({ a: 1 }), { a: 1 })
  })
})

describe("Prediction", () => {
  const usage = { promptTokens: 10, completionTokens: 5, totalTokens: 15 }

  it("holds every completion, usage and the call count", () => {
    const p = Prediction.make([{ answer: "5" }, { answer: "6" }], { usage, lmCalls: 1 })
    assert.strictEqual(p.get("answer"), "5")
    assert.deepStrictEqual(p.pluck("answer"), ["5", "6"])
    assert.deepStrictEqual(p.usage, usage)
    assert.strictEqual(p.lmCalls, 1)
    const more = p.addCalls(usage, 1)
    assert.deepStrictEqual(more.usage, { promptTokens: 20, completionTokens: 10, totalTokens: 30 })
    assert.strictEqual(more.lmCalls, 2)
    assert.strictEqual(p.lmCalls, 1)
    assert.deepStrictEqual(p.toExample().toRecord(), { answer: "5" })
    assert.deepStrictEqual(JSON.parse(JSON.stringify(p)).completions, [{ answer: "5" }, { answer: "6" }])
  })

  it("rejects an empty completion list", () => {
    assert.throws(() => Prediction.make([]), Prediction.PredictionEmpty)
    assert.deepStrictEqual(Prediction.fromOutputs({ a: 1 }).usage, {
      promptTokens: 0,
      completionTokens: 0,
      totalTokens: 0
    })
  })
})

describe("Prediction: a custom module's own fields", () => {
  const usage = (n: number) => ({ promptTokens: n, completionTokens: n, totalTokens: 2 * n })
  const hop1 = Prediction.make([{ search_query: "q1" }], { usage: usage(10), lmCalls: 1 })
  const hop2 = Prediction.make([{ search_query: "q2" }], { usage: usage(20), lmCalls: 2 })
  const final = Prediction.make([{ answer: "Paris" }, { answer: "Lyon" }], { usage: usage(5), lmCalls: 1 })

  it("fromOutputs({ ... }, { from }) keeps the usage and LM calls of the predictions the module made", () => {
    // Before: a module returning `{ context, answer }` had to sum these by hand, or reported 0 LM calls.
    const out = Prediction.fromOutputs(
      { context: ["a", "b"], answer: final.get("answer") },
      { from: [hop1, hop2, final] }
    )
    assert.strictEqual(out.lmCalls, 4)
    assert.deepStrictEqual(out.usage, usage(35))
    assert.deepStrictEqual(out.toRecord(), { context: ["a", "b"], answer: "Paris" })
    assert.deepStrictEqual(Prediction.totals([hop1, hop2]), { usage: usage(30), lmCalls: 3 })
  })

  it("extend adds fields to every completion, keeping its usage and calls plus those of `from`", () => {
    const out = final.extend({ context: ["a"] }, [hop1, hop2])
    assert.deepStrictEqual(out.pluck("answer"), ["Paris", "Lyon"])
    assert.deepStrictEqual(out.pluck("context"), [["a"], ["a"]])
    assert.strictEqual(out.lmCalls, 4)
    assert.deepStrictEqual(out.usage, usage(35))
    const piped = Prediction.extend({ answer: 42 })(final)
    assert.strictEqual(piped.get("answer"), 42)
    assert.strictEqual(piped.lmCalls, 1)
    expectTypeOf(piped.get("answer")).toEqualTypeOf<number>()
    expectTypeOf(out.get("context")).toEqualTypeOf<Array<string>>()
  })
})
