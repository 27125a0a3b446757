/**
 * Recommendations name the planted bottlenecks with their figures (the provider with the long tail, the module
 * with the low cache hit rate, the slowest stage); the cost-benefit report divides gains by spend; the history
 * feed turns the application's events into series.
 */
import { CoreEvents } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { CostBenefit, HistoryFeed, MetricHistory, Recommendations, ServicesEvents } from "../../src/index.js"

describe("Recommendations", () => {
  it.scoped("names the provider whose tail dominates, the low-hit module and the slowest stage", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      for (let i = 0; i < 200; i++) {
        // "slowpoke" has a heavy tail (1 in 20 calls takes 3 s); "steady" never exceeds 120 ms.
        const slow = i % 20 === 0 ? 3_000 : 100
        const steady = 100 + (i % 20)
        yield* history.record({ metric: "lm.latency_ms", provider: "default", module: "qa" }, slow)
        yield* history.record({ metric: "lm.latency_ms", provider: "default", module: "qa" }, steady)
        yield* history.record({ metric: "provider.latency_ms", provider: "slowpoke" }, slow)
        yield* history.record({ metric: "provider.latency_ms", provider: "steady" }, steady)
        // A module call makes both LM calls and spends 20 ms of its own.
        yield* history.record({ metric: "module.latency_ms", module: "qa" }, slow + steady + 20)
        // "summarize" almost never hits the cache; "qa" mostly does.
        yield* history.record({ metric: "lm.cache_hit", module: "summarize", provider: "steady" }, i % 50 === 0 ? 1 : 0)
        yield* history.record({ metric: "lm.cache_hit", module: "qa", provider: "steady" }, i % 4 === 0 ? 0 : 1)
      }
      yield* TestClock.adjust("1 second")
      const report = yield* Recommendations.fromHistory(history, 0, 2_000)
      const tail = report.findings.find((f) => f.kind === "provider_tail")!
      assert.strictEqual(tail.subject, "slowpoke")
      assert.approximately(tail.figures.p99_ms!, 3_000, 30)
      assert.isAbove(tail.figures.tail_ratio!, 10)
      const lowHit = report.findings.filter((f) => f.kind === "low_cache_hit_rate")
      assert.deepStrictEqual(
        lowHit.map((f) => f.subject),
        ["summarize"]
      )
      assert.approximately(lowHit[0]!.figures.hit_rate!, 0.02, 1e-9)
      const stage = report.findings.find((f) => f.kind === "slowest_stage")!
      assert.strictEqual(stage.subject, "LM calls")
      assert.isAbove(stage.figures.lm_share!, 0.5)
    })
  )

  it("says nothing without enough calls, and flags a blocked event loop", () => {
    const empty = Recommendations.analyze({
      from: 0,
      to: 1,
      moduleLatency: [],
      lmLatency: [],
      providerLatency: [],
      cacheHits: [],
      eventLoopP99: [],
      cpu: []
    })
    assert.deepStrictEqual(empty.findings, [])
    const point = (metric: string, value: number) => ({
      series: { metric },
      start: 0,
      intervalMs: 1_000,
      count: 1,
      sum: value,
      min: value,
      max: value,
      mean: value,
      p50: value,
      p95: value,
      p99: value
    })
    const blocked = Recommendations.analyze({
      from: 0,
      to: 1,
      moduleLatency: [],
      lmLatency: [],
      providerLatency: [],
      cacheHits: [],
      eventLoopP99: [point("process.event_loop_delay_p99_ms", 250)],
      cpu: [point("process.cpu_percent", 97)]
    })
    assert.deepStrictEqual(
      blocked.findings.map((f) => [f.kind, Object.values(f.figures)[0]]),
      [
        ["event_loop", 250],
        ["cpu", 97]
      ]
    )
  })
})

describe("CostBenefit", () => {
  it.scoped("quality gained per dollar of optimization and serving, per module", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      yield* history.record({ metric: "optimization.gain", module: "qa" }, 6)
      yield* history.record({ metric: "optimization.cost_usd", module: "qa", job: "j1" }, 1.5)
      for (let i = 0; i < 10; i++) {
        yield* history.record({ metric: "module.cost_usd", module: "qa", version: "2" }, 0.15)
        yield* history.record({ metric: "module.latency_ms", module: "qa", version: "2" }, 100)
      }
      yield* history.record({ metric: "module.cost_usd", module: "idle" }, 0)
      const report = yield* CostBenefit.fromHistory(history, 0, 1_000)
      const qa = report.find((m) => m.module === "qa")!
      assert.strictEqual(qa.qualityGain, 6)
      assert.strictEqual(qa.calls, 10)
      assert.approximately(qa.servingCostUsd, 1.5, 1e-9)
      assert.approximately(qa.gainPerDollar, 2, 1e-9)
      assert.approximately(qa.gainPerOptimizationDollar, 4, 1e-9)
      assert.isNaN(report.find((m) => m.module === "idle")!.gainPerDollar)
    })
  )
})

describe("HistoryFeed", () => {
  it.scoped("turns module, LM and optimization events into series (nested module calls are not counted twice)", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      yield* HistoryFeed.subscribe(history, events)
      const stamp = { module_id: "qa", module_version: 2, arm: "none" }
      const module = {
        module: "cot",
        signature: "q -> a",
        duration_ms: 250,
        status: "ok",
        lm_calls: 1,
        cost: 0.02,
        tokens: 10,
        ...stamp
      }
      // Two top-level calls (each complete event's parent is its start), the second with a nested call inside.
      const start = { module: "cot", signature: "q -> a", ...stamp }
      const first = yield* events.publish({ type: CoreEvents.ModuleExecutionStart.type, data: start })
      yield* events.publish({ type: CoreEvents.ModuleExecutionComplete.type, data: module, parentId: first.id })
      const second = yield* events.publish({ type: CoreEvents.ModuleExecutionStart.type, data: start })
      const nested = yield* events.publish({
        type: CoreEvents.ModuleExecutionStart.type,
        data: start,
        parentId: second.id
      })
      yield* events.publish({ type: CoreEvents.ModuleExecutionComplete.type, data: module, parentId: nested.id })
      yield* events.publish({
        type: CoreEvents.ModuleExecutionComplete.type,
        data: { ...module, status: "error" },
        parentId: second.id
      })
      const lm = {
        provider: "sim",
        model: "m",
        input_tokens: 1,
        output_tokens: 1,
        cost_usd: 0.02,
        duration_ms: 200,
        cache_hit: false,
        ...stamp
      }
      yield* events.publish({ type: CoreEvents.LMRequest.type, data: lm })
      yield* events.publish({ type: CoreEvents.LMRequest.type, data: { ...lm, cache_hit: true, duration_ms: 0 } })
      yield* events.publish({
        type: ServicesEvents.OptimizationQueued.type,
        data: { optimization_id: "j1", module_id: "qa", module_version: 2, optimizer: "x", priority: 0 }
      })
      yield* events.publish({
        type: "optimization_completed",
        data: {
          optimization_id: "j1",
          optimizer: "x",
          final_score: 80,
          baseline_score: 70,
          iterations: 3,
          lm_calls: 9,
          cost_usd: 0.5,
          budget_exhausted: false,
          wall_ms: 1_200
        }
      })
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      const read = (metric: string) => history.summarize({ metric }, 0, 1_000)
      const latency = yield* read("module.latency_ms")
      assert.deepStrictEqual(latency[0]!.series, { metric: "module.latency_ms", module: "qa", version: "2" })
      assert.strictEqual(latency[0]!.count, 2)
      assert.strictEqual((yield* read("module.errors"))[0]!.mean, 0.5)
      const hits = yield* read("lm.cache_hit")
      assert.strictEqual(hits[0]!.mean, 0.5)
      assert.deepStrictEqual(hits[0]!.series, { metric: "lm.cache_hit", module: "qa", provider: "sim" })
      // A cache hit has no latency of its own.
      assert.strictEqual((yield* read("lm.latency_ms"))[0]!.count, 1)
      const optimizationCost = yield* read("optimization.cost_usd")
      assert.deepStrictEqual(optimizationCost[0]!.series, { metric: "optimization.cost_usd", module: "qa", job: "j1" })
      assert.strictEqual(optimizationCost[0]!.sum, 0.5)
    })
  )
})
