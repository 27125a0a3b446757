/**
 * The loop end to end through the real application (TestRuntime, TestClock): steady traffic with feedback, then the
 * simulated LM drifts (its arithmetic accuracy drops); the loop detects the degradation, starts an optimization job
 * on recent experiences by itself, canaries the result and promotes it, and quality comes back. The test never
 * calls the coordinator: it sends traffic and feedback only.
 */
import { SimDrift } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  ExperienceStore,
  Experiments,
  Loop,
  ModuleManager,
  OptimizationCoordinator,
  TestRuntime
} from "../../src/index.js"
import { driftSettings, runTraffic } from "./support.js"

describe("the real-time loop: drift scenario", () => {
  it.effect(
    "steady traffic -> drift -> detected -> job on recent experiences -> canary -> promoted -> quality restored",
    () => {
      const drift = SimDrift.make()
      return Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        const loop = yield* Loop.Loop
        yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer" })
        const onset = 600
        const result = yield* runTraffic({
          moduleId: "qa",
          requests: 5000,
          seed: 11,
          onRequest: (i) => {
            if (i === onset) drift.set({ _tag: "AccuracyDrop", task: "arithmetic", logits: 1.2 })
          },
          stopWhen: (decisions, i) => i > onset + 400 && decisions.some((d) => d.action === "promote") && i > 0
        })
        const decisions = yield* loop.decisions
        const started = decisions.find((d) => d.action === "start_job")
        assert.isDefined(started, `no job started: ${JSON.stringify(decisions.slice(-5))}`)
        assert.strictEqual(started!.rule, "degradation")
        const detectedAt = result.requestAtDecision(started!)
        assert.isAbove(detectedAt, onset, "no false alarm before the drift")
        assert.isAtMost(detectedAt - onset, 500, "detected within 500 requests")
        const canary = decisions.find((d) => d.action === "canary")
        assert.isDefined(canary, `no canary: ${JSON.stringify(decisions)}`)
        const promoted = decisions.find((d) => d.action === "promote")
        assert.isDefined(promoted, `not promoted: ${JSON.stringify(decisions)}`)
        // The job was the loop's, on its own data, and the experiment records the promotion.
        const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
        const job = yield* coordinator.status(started!.jobId!)
        assert.strictEqual(job.status, "swapped")
        const experiments = yield* Experiments.Experiments
        const records = yield* experiments.list("qa")
        assert.isTrue(records.some((r) => r.status === "promoted"))
        assert.strictEqual((yield* modules.describe("qa")).version, job.swappedVersion)
        // Quality after recovery, on fresh traffic (the drift still in force), against quality before it.
        const after = yield* runTraffic({ moduleId: "qa", requests: 600, seed: 12, from: 100_000 })
        assert.isAtLeast(after.quality, result.qualityBefore(onset) - 0.02)
        assert.isBelow(result.qualityBetween(onset, detectedAt + 1) + 0.05, result.qualityBefore(onset))
      }).pipe(
        Effect.provide(
          TestRuntime.layer({ sim: { default: { drift } }, application: { loop: { settings: driftSettings } } })
        )
      )
    },
    120_000
  )

  it.effect("without feedback nothing is learned and nothing starts", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const loop = yield* Loop.Loop
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      for (let i = 0; i < 300; i++) yield* modules.execute("qa", { question: `What is ${i} + 1?` })
      yield* loop.evaluate
      assert.deepStrictEqual(yield* loop.decisions, [])
      assert.strictEqual((yield* loop.status).spent.jobs, 0)
      // The executions were recorded all the same.
      const store = yield* ExperienceStore.ExperienceStore
      assert.strictEqual((yield* store.stats).recorded, 300)
    }).pipe(Effect.provide(TestRuntime.layer({ application: { loop: { settings: driftSettings } } })))
  )
})
