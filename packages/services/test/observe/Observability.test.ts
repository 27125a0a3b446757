/**
 * Observability in the running application: module executions through the ModuleManager reach the history as
 * series of the module's id and version, each tick samples the process and the providers, and the reports and
 * forecasts read the result.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { Config, Events } from "@effect-dspy/foundation"
import * as Layer from "effect/Layer"
import { MetricHistory, ModuleManager, Observability, TestRuntime } from "../../src/index.js"

describe("Observability in the application", () => {
  it.scoped("feeds the history from executions and ticks, and reports on it", () =>
    Effect.gen(function* () {
      const observability = yield* Observability.Observability
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      for (let s = 0; s < 5; s++) {
        for (let i = 0; i < 6; i++) yield* modules.execute("qa", { question: `What is ${s} + ${i}?` })
        yield* TestClock.adjust("1 second")
        yield* observability.tick
      }
      const history = observability.history
      const latency = yield* history.summarize({ metric: "module.latency_ms", module: "qa" }, 0, 10_000)
      assert.strictEqual(latency.length, 1)
      assert.deepStrictEqual(latency[0]!.series, { metric: "module.latency_ms", module: "qa", version: "1" })
      assert.strictEqual(latency[0]!.count, 30)
      const served = yield* history.summarize({ metric: "provider.errors" }, 0, 10_000)
      assert.strictEqual(served[0]!.series.provider, "default")
      assert.strictEqual(served[0]!.sum, 0)
      // Each tick (ours and the loop's) sampled the process and the providers.
      const heap = yield* history.query({ selector: { metric: "process.heap_used_mb" }, from: 0, to: 10_000 })
      assert.isAtLeast(
        heap.reduce((n, p) => n + p.count, 0),
        5
      )
      assert.isAbove(heap[0]!.mean, 0)
      const pool = yield* history.summarize({ metric: "provider.pool_utilization", provider: "default" }, 0, 10_000)
      assert.isAtLeast(pool[0]!.count, 5)
      // The closed intervals were flushed to the store by the ticks, and read back the same.
      const series = yield* history.series
      assert.isTrue(series.some((s) => s.metric === "lm.cache_hit" && s.module === "qa"))
      const report = yield* observability.recommendations(10_000, { minCalls: 10 })
      // Every question was new: no LM call hit the cache.
      const lowHit = report.findings.find((f) => f.kind === "low_cache_hit_rate")
      assert.strictEqual(lowHit?.subject, "qa")
      assert.strictEqual(lowHit?.figures.hit_rate, 0)
      const costs = yield* observability.costBenefit(10_000)
      assert.strictEqual(costs.find((c) => c.module === "qa")!.calls, 30)
      const forecast = yield* observability.forecast({
        selector: { metric: "module.latency_ms", module: "qa" },
        statistic: "count",
        windowMs: 10_000,
        horizonMs: 3_000
      })
      assert.strictEqual(forecast[0]!.points.length, 3)
      assert.approximately(forecast[0]!.points[0]!.mean, 6, 1)
    }).pipe(
      Effect.provide(TestRuntime.layer({ config: { observe: { intervalMs: 1_000, presets: ["seed000", "seed004"] } } }))
    )
  )

  it.scoped("loads the configured presets", () =>
    Effect.gen(function* () {
      const observability = yield* Observability.Observability
      const names = (yield* observability.alerts.rules).map((r) => r.name)
      assert.includeMembers(names, [
        "slow_optimization",
        "error_rate",
        "cache_miss_rate",
        "p95_latency",
        "lm_failure_rate",
        "optimization_stagnation",
        "lm_budget",
        "pool_saturation"
      ])
    }).pipe(
      Effect.provide(TestRuntime.layer({ config: { observe: { presets: ["seed000", "seed004"], dailyBudgetUsd: 5 } } }))
    )
  )

  it.scoped("the controller's workers knob follows the optimization queue through live Config", () =>
    Effect.gen(function* () {
      const config = yield* Config.Config
      const events = yield* Events.Events
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const current = yield* config.current
      const observability = yield* Observability.make({
        history,
        events,
        config,
        knobs: Observability.knobsOf(current, { cooldownMs: 5_000, maxPoolSize: 8, maxWorkers: 4 }),
        optimizationJobs: Effect.succeed({ queued: 3, running: 2, finished: 0, failed: 0 }),
        loop: false
      })
      const first = yield* observability.tick
      assert.deepStrictEqual(
        first.adjustments.map((a) => [a.path, a.from, a.to]),
        [["optimization.workers", 2, 3]]
      )
      // Within the cooldown: no change; after it, one more step, then the bound.
      assert.strictEqual((yield* observability.tick).adjustments.length, 0)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* observability.tick).adjustments[0]!.to, 4)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* observability.tick).adjustments.length, 0)
      assert.strictEqual(yield* config.get("optimization.workers"), 4)
    }).pipe(Effect.provide(Layer.merge(Config.layerTest({}), Events.layerTest)))
  )
})
