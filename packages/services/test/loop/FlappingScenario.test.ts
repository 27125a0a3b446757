/**
 * A flapping signal through the real application: the simulated LM's accuracy drops and recovers every 150
 * requests, so the degradation rule keeps firing. The guard rails (the module's cooldown on the clock, the daily
 * LM-call budget) bound the automatic jobs, and every fired rule they held is a `hold` decision with its reason.
 */
import { SimDrift } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { Events } from "@effect-dspy/foundation"
import { Loop, ModuleManager, OptimizationCoordinator, ServicesEvents, TestRuntime } from "../../src/index.js"
import { runTraffic } from "./support.js"

const settings = {
  enabled: true,
  window: 60,
  minSamples: 50,
  baselineSamples: 100,
  relativeDrop: 0.15,
  absoluteDrop: 0.05,
  hysteresis: 0.02,
  cooldownMs: 10 * 60_000,
  trainSize: 60,
  minTrainSize: 30,
  dailyLmCalls: { perModule: 60, overall: 1000 },
  canary: { fraction: 0.5, minRewards: 20, maxRewards: 100 }
} as const

describe("the real-time loop: flapping signal", () => {
  it.effect(
    "a flapping signal starts no more jobs than the cooldown and the budget allow; each hold says why",
    () => {
      const drift = SimDrift.make()
      return Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        const loop = yield* Loop.Loop
        yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer" })
        let second = 0
        yield* runTraffic({
          moduleId: "qa",
          requests: 3000,
          seed: 21,
          onRequest: (i) => {
            if (i >= 200 && Math.floor(i / 150) % 2 === 0)
              drift.set({ _tag: "AccuracyDrop", task: "arithmetic", logits: 2 })
            else drift.clear()
          },
          // One request a second on the test clock: 3,000 requests are 50 minutes.
          afterRequest: () => {
            second++
            return TestClock.adjust("1 second")
          }
        })
        const decisions = yield* loop.decisions
        const starts = decisions.filter((d) => d.action === "start_job")
        const holds = decisions.filter((d) => d.action === "hold")
        // 50 minutes under a 10-minute cooldown: at most 5 jobs; the budget of 60 LM calls allows fewer.
        assert.isAtLeast(starts.length, 1)
        assert.isAtMost(starts.length, 5)
        assert.isAbove(holds.length, 0, "the rule fired while guard rails held")
        assert.isTrue(
          holds.every((h) => /cooldown|budget|job of the module is running|labelled experiences/.test(h.reason)),
          JSON.stringify(holds.map((h) => h.reason))
        )
        const status = yield* loop.status
        assert.isAtMost(status.spent.lmCalls, settings.dailyLmCalls.perModule)
        // Every job the coordinator ran was one of the loop's starts.
        const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
        assert.strictEqual((yield* coordinator.list).length, starts.length)
        // Each decision is an event too.
        const events = yield* Events.queryOf(ServicesEvents.LoopDecision, {})
        assert.strictEqual(events.length, decisions.length)
        assert.strictEqual(second, 3000)
      }).pipe(Effect.provide(TestRuntime.layer({ sim: { default: { drift } }, application: { loop: { settings } } })))
    },
    120_000
  )
})
