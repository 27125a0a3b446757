import { Module, Predict, Signature } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { ModuleManager, TestRuntime } from "../../src/index.js"

/** A program that takes `question` milliseconds (no LM call): only the module's own timeout applies. */
const sleeper = Module.make({
  name: "sleeper",
  parameters: { p: Predict.make(Signature.make("question -> answer")) },
  forward: (_parameters, given: { readonly question: string }) =>
    Effect.as(Effect.sleep(`${Number(given.question)} millis`), { answer: "done" })
})

const run = (ms: number) =>
  Effect.gen(function* () {
    const modules = yield* ModuleManager.ModuleManager
    const fiber = yield* Effect.fork(Effect.either(modules.execute("slow", { question: String(ms) })))
    yield* TestClock.adjust(`${ms} millis`)
    return yield* Fiber.join(fiber)
  })

describe("per-module adaptive timeouts (latency.timeouts)", () => {
  it.effect("a module gets a deadline of clamp(p95 * k) only after minSamples executions", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.register("slow", sleeper)
      // Two samples: no deadline yet, a slower execution still finishes.
      assert.strictEqual((yield* run(100))._tag, "Right")
      assert.strictEqual((yield* run(100))._tag, "Right")
      assert.strictEqual((yield* run(150))._tag, "Right")
      // Three samples (100, 100, 150): the deadline is 150 * 2 = 300 ms.
      const late = yield* run(1_000)
      assert.strictEqual(late._tag, "Left")
      if (late._tag === "Left") {
        assert.strictEqual(late.left._tag, "CallTimeout")
        assert.include(late.left.message, "adaptive timeout of 300 ms")
      }
      // Within the deadline, executions go on.
      assert.strictEqual((yield* run(250))._tag, "Right")
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: { latency: { minSamples: 3, floorMs: 1, timeouts: { enabled: true, quantile: 0.95, multiplier: 2 } } }
        })
      )
    )
  )

  it.effect("off (the default), a module has no adaptive timeout", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.register("slow", sleeper)
      for (let i = 0; i < 25; i++) yield* run(10)
      assert.strictEqual((yield* run(5_000))._tag, "Right")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
