import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Module from "../../src/primitives/Module.js"
import * as Parallel from "../../src/predict/Parallel.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Signature from "../../src/signature/Signature.js"
import * as Fake from "./FakeProvider.js"

describe("Parallel", () => {
  it.effect("keeps results in order with failures as Left, bounded concurrency", () =>
    Effect.gen(function* () {
      let running = 0
      let peak = 0
      const fiber = yield* Effect.fork(
        Parallel.forEach(
          [1, 2, 3, 4, 5, 6],
          (x) =>
            Effect.gen(function* () {
              running++
              peak = Math.max(peak, running)
              yield* Effect.sleep(`${10 * x} millis`)
              running--
              if (x === 3) return yield* Effect.fail(`bad ${x}`)
              return x * 10
            }),
          { concurrency: 2, maxErrors: 5 }
        )
      )
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(peak, 2)
      assert.deepStrictEqual(results, [
        Either.right(10),
        Either.right(20),
        Either.left("bad 3"),
        Either.right(40),
        Either.right(50),
        Either.right(60)
      ])
    })
  )

  it.effect("stops with ParallelMaxErrors once maxErrors calls failed; no more calls start", () =>
    Effect.gen(function* () {
      let started = 0
      const error = yield* Effect.flip(
        Parallel.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (x) =>
            Effect.suspend(() => {
              started++
              return x % 2 === 1 ? Effect.fail(`odd ${x}`) : Effect.succeed(x)
            }),
          { concurrency: 1, maxErrors: 2 }
        )
      )
      assert.strictEqual(error._tag, "ParallelMaxErrors")
      if (error._tag === "ParallelMaxErrors") {
        assert.strictEqual(error.errors, 2)
        assert.strictEqual(error.lastError, "odd 3")
      }
      assert.strictEqual(started, 4)
    })
  )

  it.effect("times out slow calls and rejects bad options", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        Parallel.forEach([1, 50], (ms) => Effect.as(Effect.sleep(`${ms} millis`), ms), { timeout: "20 millis" })
      )
      yield* TestClock.adjust("100 millis")
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results[0], Either.right(1))
      assert.isTrue(Either.isLeft(results[1]!) && results[1].left._tag === "ParallelTimeout")
      const bad = yield* Effect.flip(Parallel.forEach([1], Effect.succeed, { concurrency: 0 }))
      assert.strictEqual(bad._tag, "ParallelConfigError")
      assert.include(bad.message, "concurrency must be a positive integer")
      const failed = yield* Effect.flip(Parallel.all([1, 2], (x) => (x === 2 ? Effect.fail("no") : Effect.succeed(x))))
      assert.strictEqual(failed, "no")
    })
  )
})

describe("Parallel.batch", () => {
  it.effect("runs a module over many inputs in order", () => {
    const fake = Fake.make((r) => Fake.chat({ answer: (Fake.field(Fake.lastUser(r), "question") ?? "").toUpperCase() }))
    const qa = Module.make({
      name: "QA",
      parameters: { predict: Predict.make(Signature.make("question -> answer")) },
      forward: (p, inputs: { readonly question: string }) => p.predict(inputs)
    })
    return Effect.gen(function* () {
      const results = yield* Parallel.batch(qa, [{ question: "a" }, { question: "b" }, { question: "c" }], {
        concurrency: 2
      })
      assert.deepStrictEqual(
        results.map((r) => (Either.isRight(r) ? r.right.get("answer") : "error")),
        ["A", "B", "C"]
      )
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("runs a bare predictor as Program.batch does, typed by its string signature", () => {
    const fake = Fake.make((r) => Fake.chat({ answer: (Fake.field(Fake.lastUser(r), "question") ?? "").toUpperCase() }))
    const qa = Predict.make("question -> answer")
    return Effect.gen(function* () {
      const results = yield* Parallel.batch(qa, [{ question: "x" }, { question: "y" }], { maxErrors: 1 })
      const answers: ReadonlyArray<string> = results.map((r) => (Either.isRight(r) ? r.right.get("answer") : "error"))
      assert.deepStrictEqual(answers, ["X", "Y"])
    }).pipe(Effect.provide(fake.layer))
  })
})
