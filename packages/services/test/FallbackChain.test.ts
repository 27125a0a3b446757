/**
 * A module's fallback chain: each step (previous version, stale cached answer, simpler module, declared default)
 * is taken when the one before it fails, recorded in the Execution, an event and a metric; an open module breaker
 * serves from the chain.
 */
import { Errors, Events } from "@effect-dspy/foundation"
import { Module, Predict, Signature } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { ModuleManager, ServicesEvents, TestRuntime } from "../src/index.js"

const q1 = { question: "What is 2 + 3?" }
const q2 = { question: "What is 7 - 4?" }

/** A simpler program: answers without a model. */
const simpler = Module.make({
  name: "simpler",
  parameters: { p: Predict.make(Signature.make("question -> answer")) },
  forward: (_parameters, _inputs: unknown) => Effect.succeed("simple answer")
})

class Broken extends Errors.TaggedError<Broken>()("Broken", {}, { code: "broken", retryable: false }) {}

/** A simpler program that fails too. */
const failing = Module.make({
  name: "failing",
  parameters: { p: Predict.make(Signature.make("question -> answer")) },
  forward: (_parameters, _inputs: unknown) => Effect.fail(new Broken({ message: "the simpler module failed" }))
})

const steps: ReadonlyArray<ModuleManager.FallbackStep> = ["previous", "stale_cache", "simpler", "default"]

describe("Fallback chains", () => {
  it.effect("each step is taken when the one before it fails", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const sim = yield* TestRuntime.SimControl
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* modules.setFallback("qa", { steps, simpler, default: "no answer" })
      const first = yield* modules.execute("qa", q1)
      assert.strictEqual(first.fallback, undefined)
      assert.isFalse(first.stale)

      // Version 2 fails (the LM refuses its temperature): version 1 serves.
      yield* modules.swap("qa", { config: { self: { temperature: 5 } } })
      const previous = yield* modules.execute("qa", q1)
      assert.strictEqual(previous.fallback, "previous")
      assert.strictEqual(previous.version, 1)

      // Every LM answer is empty now: version 1 fails too; q1 was answered before, so its stale answer serves.
      yield* sim.setFaults("default", { rates: { empty: 1 } })
      const stale = yield* modules.execute("qa", q1)
      assert.strictEqual(stale.fallback, "stale_cache")
      assert.isTrue(stale.stale)
      assert.deepStrictEqual(stale.output, first.output)

      // q2 was never answered: the simpler module serves.
      const simple = yield* modules.execute("qa", q2)
      assert.strictEqual(simple.fallback, "simpler")
      assert.strictEqual(simple.output, "simple answer")

      // The simpler module fails as well: the declared default.
      yield* modules.setFallback("qa", { steps, simpler: failing, default: "no answer" })
      const fallbackDefault = yield* modules.execute("qa", q2)
      assert.strictEqual(fallbackDefault.fallback, "default")
      assert.strictEqual(fallbackDefault.output, "no answer")

      // No default: the chain is exhausted and the original failure is the caller's.
      yield* modules.setFallback("qa", { steps: ["previous", "simpler"], simpler: failing })
      const exhausted = yield* Effect.flip(modules.execute("qa", q2))
      assert.isTrue(Errors.isDSPyError(exhausted))

      const recorded = yield* Events.queryOf(ServicesEvents.ModuleFallback, {})
      assert.deepStrictEqual(
        recorded.map((e) => e.data.step),
        ["previous", "stale_cache", "simpler", "default"]
      )
      const counted = yield* Metric.value(
        Metric.tagged(Metric.tagged(ModuleManager.fallbacks, "module_id", "qa"), "step", "previous")
      )
      assert.strictEqual(counted.count, 1)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("an open module breaker serves from the chain", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      let calls = 0
      const flaky = Module.make({
        name: "flaky",
        parameters: { p: Predict.make(Signature.make("question -> answer")) },
        forward: (_parameters, _inputs: unknown) =>
          Effect.suspend(() => (++calls <= 2 ? Effect.dieMessage("the module crashed") : Effect.succeed("fine")))
      })
      yield* modules.register("qa", flaky, { protection: { breaker: { failureThreshold: 2, recoveryTimeMs: 60_000 } } })
      yield* modules.setFallback("qa", { steps: ["default"], default: "served from the chain" })
      for (let i = 0; i < 2; i++) {
        const crashed = yield* modules.execute("qa", q1)
        assert.strictEqual(crashed.fallback, "default")
      }
      assert.strictEqual((yield* modules.describe("qa")).breaker, "open")
      // The breaker is open: the program is not called, the chain serves.
      const open = yield* modules.execute("qa", q1)
      assert.strictEqual(open.fallback, "default")
      assert.strictEqual(open.output, "served from the chain")
      assert.strictEqual(calls, 2)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
