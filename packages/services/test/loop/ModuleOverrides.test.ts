/**
 * Per-module triggers: a module's overrides (a workflow step's `optimization.triggers`) over the loop's settings,
 * checked; registered at run time with `Loop.configure`, they decide when that module's rules fire, and leave the
 * other modules on the loop's settings.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Loop, LoopPolicy, ModuleManager, TestRuntime } from "../../src/index.js"

const base = {
  enabled: true,
  window: 50,
  minSamples: 50,
  baselineSamples: 20,
  relativeDrop: 0.2,
  absoluteDrop: 0.05,
  // No job starts in these tests: a fired rule is held for want of labelled experiences.
  trainSize: 1000,
  minTrainSize: 1000
} as const

describe("Loop per-module overrides", () => {
  it("LoopPolicy.override: a module's minSamples makes its rule fire earlier; bad keys and values are refused", () => {
    const settings = LoopPolicy.settings(base)
    const module = LoopPolicy.override(settings, { minSamples: 10, relativeDrop: 0.1 })
    assert.strictEqual(module.minSamples, 10)
    assert.strictEqual(module.window, 50)
    const feed = (s: LoopPolicy.Settings) => {
      const w = LoopPolicy.watch("qa", 1, s)
      for (let i = 0; i < 20; i++) LoopPolicy.observe(w, s, { reward: 1, ok: true, latencyMs: 5 })
      for (let i = 0; i < 20; i++) LoopPolicy.observe(w, s, { reward: 0, ok: true, latencyMs: 5 })
      return LoopPolicy.fire(w, s, 0)
    }
    // 40 rewards in the window: under the loop's 50, over the module's 10.
    assert.isUndefined(feed(settings))
    assert.strictEqual(feed(module)?.rule, "degradation")
    assert.throws(() => LoopPolicy.override(settings, { window: 5 } as never), /cannot be set per module/)
    assert.throws(() => LoopPolicy.override(settings, { minSamples: 80 }), /minSamples must be at most window/)
    assert.throws(() => LoopPolicy.override(settings, { relativeDrop: 2 }), /relativeDrop/)
  })

  it.effect(
    "Loop.configure registers a module's triggers at run time: its rule fires, the other module's does not",
    () =>
      Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        const loop = yield* Loop.Loop
        for (const id of ["steered", "plain"]) {
          yield* modules.create({ id, kind: "predict", signature: "question -> answer" })
        }
        const configured = yield* loop.configure("steered", { minSamples: 10 })
        assert.strictEqual(configured.minSamples, 10)
        assert.strictEqual(loop.settingsOf("steered").minSamples, 10)
        assert.strictEqual(loop.settingsOf("plain").minSamples, 50)
        const bad = yield* Effect.flip(loop.configure("steered", { minSamples: 0 }))
        assert.strictEqual(bad._tag, "LoopSettingsInvalid")
        // A refused configuration leaves the earlier one in force.
        assert.strictEqual(loop.settingsOf("steered").minSamples, 10)
        for (const id of ["steered", "plain"]) {
          for (let i = 0; i < 40; i++) {
            const execution = yield* modules.execute(id, { question: `What is ${i} + 1?` })
            yield* loop.feedback({ executionId: execution.executionId, outcome: { rating: i < 20 ? 1 : 0 } })
          }
        }
        yield* loop.evaluate
        const decisions = yield* loop.decisions
        const of = (id: string) => decisions.filter((d) => d.moduleId === id)
        assert.isTrue(
          of("steered").some((d) => d.rule === "degradation" && d.action === "hold"),
          JSON.stringify(decisions)
        )
        assert.match(of("steered").find((d) => d.rule === "degradation")!.reason, /a job needs 1000/)
        assert.deepStrictEqual(of("plain"), [])
        // `{}` clears the module's overrides.
        yield* loop.configure("steered", {})
        assert.strictEqual(loop.settingsOf("steered").minSamples, 50)
      }).pipe(Effect.provide(TestRuntime.layer({ application: { loop: { settings: base } } })))
  )
})
