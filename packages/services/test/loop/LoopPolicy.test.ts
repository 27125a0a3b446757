/**
 * The loop's policy as pure functions: the degradation rule with its baseline, minimum samples and hysteresis; the
 * errors and interval rules; the guard rails; the adaptive threshold within its bounds; settings validation.
 */
import { assert, describe, it } from "@effect/vitest"
import { LoopPolicy } from "../../src/index.js"

const settings = LoopPolicy.settings({
  enabled: true,
  window: 50,
  minSamples: 40,
  baselineSamples: 100,
  relativeDrop: 0.2,
  absoluteDrop: 0.05,
  hysteresis: 0.05,
  reoptimizeIntervalMs: 1000,
  minNewLabelled: 10,
  cooldownMs: 100,
  adapt: { k: 2, step: 0.1, min: 0.1, max: 0.3 }
})

const feed = (w: LoopPolicy.Watch, n: number, reward: number, ok = true) => {
  for (let i = 0; i < n; i++) LoopPolicy.observe(w, settings, { reward, ok, latencyMs: 5 })
}

describe("LoopPolicy", () => {
  it("degradation fires below the baseline by the threshold, once, and re-arms past the hysteresis", () => {
    const w = LoopPolicy.watch("qa", 1, settings)
    feed(w, 100, 0.8)
    assert.closeTo(LoopPolicy.baseline(w, settings)!, 0.8, 1e-9)
    assert.isUndefined(LoopPolicy.fire(w, settings, 0))
    // 0.8 * (1 - 0.2) = 0.64: a window mean of 0.6 fires.
    feed(w, 50, 0.6)
    const fired = LoopPolicy.fire(w, settings, 0)
    assert.strictEqual(fired?.rule, "degradation")
    assert.match(fired!.reason, /below its baseline 0.800/)
    // Disarmed: no second firing while it stays low.
    assert.isUndefined(LoopPolicy.fire(w, settings, 0))
    // Back to 0.66 is above 0.64 but within the hysteresis (0.69): still disarmed.
    feed(w, 50, 0.66)
    assert.isUndefined(LoopPolicy.fire(w, settings, 0))
    feed(w, 50, 0.6)
    assert.isUndefined(LoopPolicy.fire(w, settings, 0))
    // Past the hysteresis it re-arms; the next drop fires again.
    feed(w, 50, 0.75)
    assert.isUndefined(LoopPolicy.fire(w, settings, 0))
    feed(w, 50, 0.6)
    assert.strictEqual(LoopPolicy.fire(w, settings, 0)?.rule, "degradation")
  })

  it("needs the baseline and the minimum samples before it fires", () => {
    const w = LoopPolicy.watch("qa", 1, settings)
    feed(w, 60, 0)
    assert.isUndefined(LoopPolicy.fire(w, settings, 0))
  })

  it("errors and interval rules", () => {
    const w = LoopPolicy.watch("qa", 1, settings)
    feed(w, 100, 0.8)
    feed(w, 20, 0.8, false)
    feed(w, 30, 0.8)
    assert.strictEqual(LoopPolicy.fire(w, settings, 0)?.rule, "errors")
    const v = LoopPolicy.watch("qa", 1, settings)
    v.lastJobAt = 0
    for (let i = 0; i < 10; i++) LoopPolicy.observe(v, settings, { reward: 1, ok: true, latencyMs: 1, labelled: true })
    assert.isUndefined(LoopPolicy.fire(v, settings, 999))
    assert.strictEqual(LoopPolicy.fire(v, settings, 1000)?.rule, "interval")
  })

  it("guard rails hold: busy, cooldown, concurrent jobs, daily budgets per module and overall", () => {
    const w = LoopPolicy.watch("qa", 1, settings)
    const spend = LoopPolicy.emptySpend()
    const base = { watch: w, settings, spend, busy: undefined, runningJobs: 0, now: 1000 }
    assert.isUndefined(LoopPolicy.hold(base))
    assert.strictEqual(LoopPolicy.hold({ ...base, busy: "a canary runs" }), "a canary runs")
    w.lastJobAt = 950
    assert.match(LoopPolicy.hold(base)!, /cooldown/)
    w.lastJobAt = 0
    assert.match(LoopPolicy.hold({ ...base, runningJobs: 1 })!, /at most 1/)
    LoopPolicy.spent(spend, "qa", settings.dailyLmCalls.perModule, 0, 1000)
    assert.match(LoopPolicy.hold(base)!, /LM-call budget/)
    // Another module still has its own budget; the next day starts afresh.
    assert.isUndefined(LoopPolicy.hold({ ...base, watch: LoopPolicy.watch("other", 1, settings) }))
    assert.isUndefined(LoopPolicy.hold({ ...base, now: 1000 + 24 * 60 * 60 * 1000 }))
    LoopPolicy.spent(spend, "other", 0, settings.dailyCostUsd.overall, 2 * 24 * 60 * 60 * 1000)
    assert.match(
      LoopPolicy.hold({ ...base, watch: LoopPolicy.watch("third", 1, settings), now: 2 * 24 * 60 * 60 * 1000 })!,
      /cost budget/
    )
  })

  it("adapts: k rejections in a row raise the threshold by a step, an acceptance lowers it, within bounds", () => {
    const w = LoopPolicy.watch("qa", 1, settings)
    assert.isUndefined(LoopPolicy.adapt(w, settings, "degradation", false))
    const raised = LoopPolicy.adapt(w, settings, "degradation", false)
    assert.strictEqual(raised?.from, 0.2)
    assert.closeTo(raised!.to, 0.3, 1e-9)
    LoopPolicy.adapt(w, settings, "degradation", false)
    assert.isUndefined(LoopPolicy.adapt(w, settings, "degradation", false))
    assert.closeTo(w.rules.degradation.threshold, 0.3, 1e-9)
    LoopPolicy.adapt(w, settings, "degradation", true)
    LoopPolicy.adapt(w, settings, "degradation", true)
    assert.isUndefined(LoopPolicy.adapt(w, settings, "degradation", true))
    assert.closeTo(w.rules.degradation.threshold, 0.1, 1e-9)
  })

  it("refuses unusable settings, naming the field", () => {
    assert.throws(() => LoopPolicy.settings({ window: 0 }), /loop.window/)
    assert.throws(() => LoopPolicy.settings({ minSamples: 500 }), /minSamples/)
    assert.throws(() => LoopPolicy.settings({ relativeDrop: 0.9 }), /relativeDrop/)
    assert.throws(() => LoopPolicy.settings({ canary: { fraction: 1 } }), /canary.fraction/)
  })
})
