import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Evaluate from "../../src/evaluate/Evaluate.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Signature from "../../src/signature/Signature.js"
import * as FakeProvider from "../predict/FakeProvider.js"
import * as Example from "../../src/primitives/Example.js"
import * as Prediction from "../../src/primitives/Prediction.js"

const devset = Array.from({ length: 7 }, (_, i) => ({ q: i, answer: i * 2 }))
const double = (x: { q: number }) => Effect.succeed(x.q * 2)

describe("Evaluate", () => {
  it.effect("scores as a percentage rounded to 2 decimals, with per-example results in order", () =>
    Effect.gen(function* () {
      const result = yield* Evaluate.run({
        devset,
        program: (x) => Effect.succeed(x.q % 3 === 0 ? x.answer : -1),
        metric: (x, p) => x.answer === p,
        concurrency: 3
      })
      // 3 of 7 correct: round(100 * 3 / 7, 2) = 42.86
      assert.strictEqual(result.score, 42.86)
      assert.deepStrictEqual(
        result.results.map((r) => r.score),
        [1, 0, 0, 1, 0, 0, 1]
      )
      assert.deepStrictEqual(result.results[3]!.prediction, Option.some(6))
      assert.strictEqual(result.errors, 0)
    })
  )

  it.effect("failed examples get failureScore and their error; effectful metrics work", () =>
    Effect.gen(function* () {
      const result = yield* Evaluate.run({
        devset,
        program: (x) => (x.q === 2 ? Effect.fail(new Error("bad input")) : double(x)),
        metric: (x, p) => Effect.succeed(x.answer === p ? 0.5 : 0),
        failureScore: 0.25
      })
      assert.strictEqual(result.errors, 1)
      assert.strictEqual(result.results[2]!.score, 0.25)
      assert.isTrue(Option.isNone(result.results[2]!.prediction))
      assert.include(result.results[2]!.error ?? "", "bad input")
      // (6 * 0.5 + 0.25) / 7
      assert.strictEqual(result.score, Evaluate.roundHalfEven((100 * 3.25) / 7))
    })
  )

  it.effect("stops with a typed error after maxErrors failures and starts no more work", () =>
    Effect.gen(function* () {
      let started = 0
      const exit = yield* Effect.exit(
        Evaluate.run({
          devset: Array.from({ length: 100 }, (_, i) => i),
          program: (i) =>
            Effect.suspend(() => {
              started++
              return i % 2 === 0 ? Effect.fail("boom") : Effect.succeed(i)
            }),
          metric: () => true,
          concurrency: 1,
          maxErrors: 3
        })
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "EvaluateMaxErrors")
        if (error?._tag === "EvaluateMaxErrors") {
          assert.strictEqual(error.errors, 3)
          assert.strictEqual(error.lastError, "boom")
        }
      }
      // examples 0, 2, 4 fail; nothing after example 4 starts
      assert.strictEqual(started, 5)
    })
  )

  it.effect("rejects bad options with a message saying what to fix", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Evaluate.run({ devset, program: double, metric: () => 1, concurrency: 0 }))
      assert.strictEqual(error._tag, "EvaluateConfigError")
      assert.include(error.message, "concurrency must be a positive integer")
    })
  )

  it.effect("reports progress to a callback and as a stream; concurrency is bounded", () =>
    Effect.gen(function* () {
      const seen: Array<Evaluate.Progress> = []
      let running = 0
      let peak = 0
      const program = (x: { q: number; answer: number }) =>
        Effect.gen(function* () {
          running++
          peak = Math.max(peak, running)
          yield* Effect.sleep("50 millis")
          running--
          return x.q * 2
        })
      const fiber = yield* Effect.fork(
        Evaluate.run({
          devset,
          program,
          metric: (x, p) => x.answer === p,
          concurrency: 2,
          onProgress: (p) => Effect.sync(() => seen.push(p))
        })
      )
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.score, 100)
      assert.strictEqual(peak, 2)
      assert.deepStrictEqual(
        seen.map((p) => p.done),
        [1, 2, 3, 4, 5, 6, 7]
      )
      assert.strictEqual(seen[6]!.total, 7)

      const events = yield* Stream.runCollect(
        Evaluate.stream({ devset, program: double, metric: (x, p) => x.answer === p, keepResults: false })
      )
      const list = Chunk.toReadonlyArray(events)
      assert.strictEqual(list.length, 8)
      const last = list[7]!
      assert.strictEqual(last._tag, "Done")
      if (last._tag === "Done") {
        assert.strictEqual(last.result.score, 100)
        assert.strictEqual(last.result.results.length, 0)
      }
    })
  )

  it("rounds half to even like Python and renders a progress bar only on a TTY", () => {
    assert.strictEqual(Evaluate.roundHalfEven(0.125), 0.12)
    assert.strictEqual(Evaluate.roundHalfEven(0.375), 0.38)
    assert.strictEqual(Evaluate.roundHalfEven(2.675), 2.67)
    assert.strictEqual(Evaluate.roundHalfEven(66.66666), 66.67)
    assert.strictEqual(
      Evaluate.renderProgress({ done: 1, total: 4, errors: 0, score: 50 }, 8),
      "[##------] 1/4 score 50.00% errors 0"
    )
    const written: Array<string> = []
    Effect.runSync(
      Evaluate.progressBar({ isTTY: false, write: (t) => written.push(t) })({ done: 1, total: 1, errors: 0, score: 1 })
    )
    assert.strictEqual(written.length, 0)
    Effect.runSync(
      Evaluate.progressBar({ isTTY: true, write: (t) => written.push(t) })({ done: 1, total: 1, errors: 0, score: 1 })
    )
    assert.strictEqual(written[0], "\r[##############################] 1/1 score 1.00% errors 0\n")
  })
})

describe("Evaluate's program forms", () => {
  // The fake LM answers each question with its number doubled.
  const fake = FakeProvider.make((request) => {
    const n = Number(/What is (\d+) doubled/.exec(FakeProvider.lastUser(request))?.[1] ?? "0")
    return FakeProvider.chat({ answer: String(2 * n) })
  })
  const questions = [1, 2, 3].map((n) =>
    Example.make({ question: `What is ${n} doubled?`, answer: n === 3 ? 7 : 2 * n }).withInputs("question")
  )

  it.effect("a bare Predict is a program: called on each example's inputs (it crashed before)", () =>
    Effect.gen(function* () {
      const qa = Predict.make(Signature.make("question -> answer: int"))
      const result = yield* Evaluate.run({
        devset: questions,
        program: qa,
        metric: (example, prediction) => prediction.get("answer") === example.get("answer")
      })
      assert.strictEqual(result.errors, 0)
      assert.deepStrictEqual(
        result.results.map((r) => r.score),
        [1, 1, 0]
      )
      assert.strictEqual(result.score, 66.67)
      const first = Option.getOrThrow(result.results[0]!.prediction)
      assert.strictEqual(first.get("answer"), 2)
    }).pipe(Effect.provide(fake.layer))
  )

  it.effect("anything that is not a program is a typed EvaluateConfigError naming the forms accepted", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Evaluate.run({
          devset: questions,
          program: { forward: "not a program" } as unknown as Evaluate.Program<Example.Any>,
          metric: () => 1
        })
      )
      assert.strictEqual(error._tag, "EvaluateConfigError")
      if (error._tag !== "EvaluateConfigError") return
      assert.strictEqual(error.option, "program")
      assert.include(error.message, "Predict.make")
      assert.include(error.message, "an object (forward)")
    })
  )
})

describe("Evaluate's built-in metrics", () => {
  it("exact match, F1 and passage match read the answer and context fields", () => {
    const example = Example.make({ question: "q", answer: ["Paris", "City of Paris"] })
    const prediction = Prediction.make([{ answer: "the paris", context: ["It lies in Paris, France."] }])
    assert.isTrue(Evaluate.answerExactMatch(example, prediction))
    assert.isFalse(Evaluate.exactMatch()(Example.make({ answer: "Lyon" }), prediction))
    assert.strictEqual(Evaluate.f1()(Example.make({ answer: "Paris France" }), prediction), 2 / 3)
    assert.isTrue(Evaluate.exactMatch("answer", 0.5)(Example.make({ answer: "Paris France" }), prediction))
    assert.isTrue(Evaluate.passageMatch()(Example.make({ answer: "france" }), prediction))
    assert.isFalse(Evaluate.passageMatch()(Example.make({ answer: "spain" }), prediction))
  })
})
