import { Correlation, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Module from "../../src/primitives/Module.js"
import * as MultiHopQA from "../../src/predict/MultiHopQA.js"
import * as Fake from "./FakeProvider.js"

const fake = () =>
  Fake.make((r) => {
    const sys = Fake.system(r)
    const user = Fake.lastUser(r)
    if (sys.includes("`sub_questions`")) {
      return Fake.chat({
        reasoning: "two facts",
        sub_questions: JSON.stringify(["Where does Ann work?", "Where is Acme?"])
      })
    }
    if (sys.includes("`sub_answers`")) return Fake.chat({ reasoning: "combine", answer: "Oslo" })
    const q = Fake.field(user, "question") ?? ""
    const ctx = Fake.field(user, "context") ?? ""
    return Fake.chat({
      reasoning: `from ${ctx.includes("doc:") ? "docs" : "memory"}`,
      answer: q.includes("Ann") ? "Acme" : "Oslo"
    })
  })

describe("MultiHopQA", () => {
  it.effect("decomposes, answers sub-questions with retrieved context, synthesizes", () => {
    const f = fake()
    const retrieved: Array<string> = []
    const qa = MultiHopQA.make({
      retrieve: (q) =>
        Effect.sync(() => {
          retrieved.push(q)
          return [`doc: ${q}`]
        })
    })
    return Effect.gen(function* () {
      const prediction = yield* Module.call(qa, { question: "In which city is Ann's employer?" })
      assert.strictEqual(prediction.get("answer"), "Oslo")
      assert.deepStrictEqual(
        prediction.get("reasoning_steps").map((s) => [s.question, s.answer, s.rationale]),
        [
          ["Where does Ann work?", "Acme", "from docs"],
          ["Where is Acme?", "Oslo", "from docs"]
        ]
      )
      // In order, the second hop's retrieval carries the first hop's answer (the bridge entity) ...
      assert.deepStrictEqual(retrieved, ["Where does Ann work?", "Where is Acme? Acme"])
      assert.strictEqual(prediction.lmCalls, 4)
      assert.include(Fake.lastUser(f.requests[3]!), "Where does Ann work? -> Acme")
      // ... and the synthesis sees every document retrieved on the way.
      assert.include(Fake.lastUser(f.requests[3]!), "doc: Where does Ann work?")
      assert.include(Fake.lastUser(f.requests[3]!), "doc: Where is Acme? Acme")
      assert.deepStrictEqual(
        Module.namedPredictors(qa).map((p) => p.path),
        ["decompose.predict", "answer.predict", "synthesize.predict"]
      )
    }).pipe(Effect.provide(f.layer))
  })

  it.effect("records each step's events under one correlation id with correct parent ids", () => {
    const f = fake()
    return Effect.gen(function* () {
      yield* Module.call(MultiHopQA.make({ concurrency: 2 }), { question: "Q?", context: ["c"] }).pipe(
        Correlation.withCorrelationId("req_multi")
      )
      const events = yield* Effect.flatMap(Events.Events, (e) => e.query({}))
      const mine = events.filter((e) => e.type !== "lm_request")
      assert.isTrue(mine.every((e) => e.correlationId === "req_multi"))
      const byType = (t: string) => mine.filter((e) => e.type === t)
      const root = byType("module_execution_start").find((e) => e.data.module === "MultiHopQA")!
      const decompose = byType("question_decomposition_start")[0]!
      assert.strictEqual(decompose.parentId, root.id)
      const decomposeDone = byType("question_decomposition_complete")[0]!
      assert.strictEqual(decomposeDone.parentId, decompose.id)
      assert.strictEqual(decomposeDone.data.sub_question_count, 2)
      const subs = byType("sub_question_start")
      assert.strictEqual(subs.length, 2)
      assert.isTrue(subs.every((s) => s.parentId === root.id))
      const synthesis = byType("synthesis_start")[0]!
      assert.strictEqual(synthesis.parentId, root.id)
      // the chains of thought inside each step hang under that step's start event
      const cots = byType("module_execution_start").filter((e) => e.data.module === "ChainOfThought")
      assert.strictEqual(cots.length, 4)
      assert.deepStrictEqual(
        cots.map((c) => c.parentId).sort(),
        [decompose.id, subs[0]!.id, subs[1]!.id, synthesis.id].sort()
      )
    }).pipe(Effect.provide(Layer.merge(f.layer, Events.layerMemory)))
  })
})
