import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { LMServerError } from "../../src/lm/LMError.js"
import * as Module from "../../src/primitives/Module.js"
import * as Prediction from "../../src/primitives/Prediction.js"
import * as Trace from "../../src/primitives/Trace.js"
import * as BestOfN from "../../src/predict/BestOfN.js"
import * as ChainOfThought from "../../src/predict/ChainOfThought.js"
import { majority } from "../../src/predict/Majority.js"
import * as MultiChainComparison from "../../src/predict/MultiChainComparison.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Refine from "../../src/predict/Refine.js"
import * as Signature from "../../src/signature/Signature.js"
import * as Fake from "./FakeProvider.js"

const qa = Signature.make("question -> answer")
const inner = Module.make({
  name: "QA",
  parameters: { predict: Predict.make(qa) },
  forward: (p, inputs: { readonly question: string }) => p.predict(inputs)
})
const reward = (_: unknown, p: Prediction.Prediction<{ readonly answer: string }>) =>
  p.get("answer") === "r2" ? 1 : 0.2

describe("BestOfN", () => {
  it.effect("tries rollout ids 0.. at temperature 1 until the threshold; the best attempt's trace is kept", () => {
    const fake = Fake.make((r) => Fake.chat({ answer: `r${r.rolloutId}` }))
    return Effect.gen(function* () {
      const best = BestOfN.make(inner, { n: 5, reward, threshold: 1 })
      const { value, trace } = yield* Trace.traced(Module.call(best, { question: "q" }))
      assert.strictEqual(value.get("answer"), "r2")
      assert.deepStrictEqual(
        fake.requests.map((r) => [r.rolloutId, r.temperature]),
        [
          [0, 1],
          [1, 1],
          [2, 1]
        ]
      )
      assert.deepStrictEqual(trace, [
        { predictorPath: "module.predict", inputs: { question: "q" }, outputs: { answer: "r2" } }
      ])
      assert.deepStrictEqual(
        Module.namedPredictors(best).map((p) => p.path),
        ["module.predict"]
      )
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("wraps a bare predictor with a string signature, typed by it", () => {
    const fake = Fake.make((r) => Fake.chat({ answer: String(r.rolloutId ?? 0) }))
    return Effect.gen(function* () {
      const best = BestOfN.make(Predict.make("question -> answer: int"), {
        n: 4,
        reward: (_, p) => (p.get("answer") === 2 ? 1 : 0),
        threshold: 1
      })
      const answer: number = (yield* Module.call(best, { question: "q" })).get("answer")
      assert.strictEqual(answer, 2)
      assert.strictEqual(fake.requests.length, 3)
      assert.deepStrictEqual(
        Module.namedPredictors(best).map((p) => p.path),
        ["module"]
      )
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("keeps the highest reward when none reaches the threshold; starts at the caller's rollout id", () => {
    const fake = Fake.make((r) => Fake.chat({ answer: `r${r.rolloutId}` }))
    return Effect.gen(function* () {
      const best = BestOfN.make(inner, {
        n: 3,
        reward: (_, p) => Number(String(p.get("answer")).slice(1)) % 11,
        threshold: 100
      })
      const value = yield* Module.call(best, { question: "q" }).pipe(Predict.withOverrides({ rolloutId: 9 }))
      assert.strictEqual(value.get("answer"), "r10")
      assert.deepStrictEqual(
        fake.requests.map((r) => r.rolloutId),
        [9, 10, 11]
      )
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("skips failed attempts up to failCount, then fails with BestOfNFailed", () => {
    const failing = (ids: ReadonlyArray<number>) =>
      Fake.make((r) =>
        ids.includes(r.rolloutId ?? -1)
          ? Effect.fail(new LMServerError({ provider: "fake", message: "down" }))
          : Fake.chat({ answer: `r${r.rolloutId}` })
      )
    const tolerant = failing([0, 1])
    const ok = Module.call(BestOfN.make(inner, { n: 3, reward, threshold: 1 }), { question: "q" }).pipe(
      Effect.provide(tolerant.layer)
    )
    const strict = failing([0])
    const tooMany = Module.call(BestOfN.make(inner, { n: 3, reward, threshold: 1, failCount: 0 }), {
      question: "q"
    }).pipe(Effect.provide(strict.layer), Effect.flip)
    const all = failing([0, 1, 2])
    const none = Module.call(BestOfN.make(inner, { n: 3, reward, threshold: 1 }), { question: "q" }).pipe(
      Effect.provide(all.layer),
      Effect.flip
    )
    return Effect.gen(function* () {
      assert.strictEqual((yield* ok).get("answer"), "r2")
      const e1 = yield* tooMany
      assert.strictEqual(e1._tag, "BestOfNFailed")
      assert.strictEqual(strict.requests.length, 1)
      const e2 = yield* none
      assert.strictEqual(e2._tag, "BestOfNFailed")
      assert.include(e2.message, "all 3 attempts failed")
    })
  })
})

describe("Refine", () => {
  it.effect("asks the LM for advice after a failed attempt and passes it as a hint", () => {
    const fake = Fake.make((r) => {
      const sys = Fake.system(r)
      if (sys.includes("`advice`")) {
        return Fake.chat({
          discussion: "module.predict answered a number",
          advice: JSON.stringify({ "module.predict": "Answer with the city name Paris." })
        })
      }
      const hint = Fake.field(Fake.lastUser(r), "hint_")
      return Fake.chat({ answer: hint?.includes("Paris") ? "Paris" : "42" })
    })
    return Effect.gen(function* () {
      const refine = Refine.make(inner, {
        n: 3,
        reward: (_, p) => (p.get("answer") === "Paris" ? 1 : 0),
        threshold: 1
      })
      const value = yield* Module.call(refine, { question: "Capital of France?" })
      assert.strictEqual(value.get("answer"), "Paris")
      assert.strictEqual(fake.requests.length, 3)
      const feedback = fake.requests[1]!
      assert.include(Fake.lastUser(feedback), "module.predict")
      assert.include(Fake.lastUser(feedback), "42")
      assert.strictEqual(Fake.field(Fake.lastUser(fake.requests[2]!), "hint_"), "Answer with the city name Paris.")
      assert.isUndefined(Fake.field(Fake.lastUser(fake.requests[0]!), "hint_"))
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("refines a bare predictor: the advice for path module reaches it as a hint", () => {
    const fake = Fake.make((r) => {
      if (Fake.system(r).includes("`advice`")) {
        return Fake.chat({ discussion: "it guessed", advice: JSON.stringify({ module: "Answer Paris." }) })
      }
      return Fake.chat({ answer: Fake.field(Fake.lastUser(r), "hint_")?.includes("Paris") ? "Paris" : "42" })
    })
    return Effect.gen(function* () {
      const refine = Refine.make(Predict.make("question -> answer"), {
        n: 2,
        reward: (_, p) => (p.get("answer") === "Paris" ? 1 : 0),
        threshold: 1
      })
      const answer: string = (yield* Module.call(refine, { question: "Capital of France?" })).get("answer")
      assert.strictEqual(answer, "Paris")
      assert.strictEqual(Fake.field(Fake.lastUser(fake.requests[2]!), "hint_"), "Answer Paris.")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("describes the reward in words, never by its source code", () => {
    const fake = Fake.make((r) =>
      Fake.system(r).includes("`advice`")
        ? Fake.chat({ discussion: "d", advice: JSON.stringify({ "module.predict": "Be brief." }) })
        : Fake.chat({ answer: "42" })
    )
    // A reward whose source holds a secret: it must never reach the LM.
    const reward = (_: unknown, p: Prediction.Prediction<{ readonly answer: string }>) =>
      p.get("answer") === "sk-secret-in-reward-source" ? 1 : 0
    return Effect.gen(function* () {
      yield* Module.call(Refine.make(inner, { n: 2, reward, threshold: 1 }), { question: "q" })
      yield* Module.call(
        Refine.make(inner, { n: 2, reward, threshold: 1, rewardDescription: "1 when the answer is a city name" }),
        { question: "q" }
      )
      const feedback = fake.requests.filter((r) => Fake.system(r).includes("`advice`")).map(Fake.lastUser)
      assert.strictEqual(feedback.length, 2)
      for (const text of feedback) {
        assert.notInclude(text, "sk-secret-in-reward-source")
        assert.notInclude(text, "=>")
      }
      assert.strictEqual(Fake.field(feedback[0]!, "reward_code"), Refine.defaultRewardDescription)
      assert.strictEqual(Fake.field(feedback[1]!, "reward_code"), "1 when the answer is a city name")
    }).pipe(Effect.provide(fake.layer))
  })
})

describe("MultiChainComparison", () => {
  it.effect("compares M attempts and fails on a count mismatch", () => {
    const fake = Fake.make((r, i) =>
      Fake.system(r).includes("reasoning_attempt_1")
        ? Fake.chat({ rationale: "most say 5", answer: "5" })
        : Fake.chat({ reasoning: `step ${i}\nmore`, answer: i === 1 ? "6" : "5" })
    )
    return Effect.gen(function* () {
      const cot = ChainOfThought.make(qa, { n: 3 })
      const attempts = yield* Module.call(cot, { question: "2 + 3?" })
      const compare = MultiChainComparison.make(qa)
      const result = yield* Module.call(compare, { question: "2 + 3?", completions: attempts.completions })
      assert.strictEqual(result.get("answer"), "5")
      const user = Fake.lastUser(fake.requests[1]!)
      assert.strictEqual(
        Fake.field(user, "reasoning_attempt_2"),
        "«I'm trying to step 1 I'm not sure but my prediction is 6»"
      )
      assert.strictEqual(fake.requests[1]!.temperature, 0.7)
      const error = yield* Effect.flip(
        Module.call(compare, { question: "q", completions: attempts.completions.slice(0, 2) })
      )
      assert.strictEqual(error._tag, "AttemptCountMismatch")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("takes DSPy's string signature, typed by it", () => {
    const fake = Fake.make(() => Fake.chat({ rationale: "two of three say 5", answer: "5" }))
    return Effect.gen(function* () {
      const compare = MultiChainComparison.make("question -> answer: int", { m: 2 })
      const result = yield* Module.call(compare, {
        question: "2 + 3?",
        completions: [
          { reasoning: "2 + 3", answer: 5 },
          { reasoning: "guess", answer: 6 }
        ]
      })
      const answer: number = result.get("answer")
      assert.strictEqual(answer, 5)
      assert.include(Fake.lastUser(fake.requests[0]!), "my prediction is 6")
    }).pipe(Effect.provide(fake.layer))
  })
})

describe("majority", () => {
  it("picks the most common normalised value, first seen on ties, ignoring empty values", () => {
    const p = Prediction.make([
      { reasoning: "x", answer: "Paris." },
      { reasoning: "y", answer: "Lyon" },
      { reasoning: "z", answer: "the paris" },
      { reasoning: "w", answer: "" },
      { reasoning: "v", answer: "" }
    ])
    assert.strictEqual(majority(p).get("reasoning"), "x")
    assert.strictEqual(majority([{ a: "b" }, { a: "c" }]).get("a"), "b")
    assert.strictEqual(
      majority(
        [
          { a: "1", b: "q" },
          { a: "2", b: "r" },
          { a: "2", b: "s" }
        ],
        { field: "a" }
      ).get("b"),
      "r"
    )
  })
})
