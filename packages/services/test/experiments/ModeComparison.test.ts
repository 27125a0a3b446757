import { Random } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import { ArmStats, ModeComparison } from "../../src/index.js"

const records = (seed: number) => {
  const rng = Random.make(seed, "mode-comparison")
  const modes = {
    baseline: { time: 800, cost: 0.001, quality: 0.6, success: 0.98 },
    optimized: { time: 1000, cost: 0.0025, quality: 0.8, success: 0.98 },
    cheap: { time: 300, cost: 0.0002, quality: 0.6, success: 0.85 }
  }
  const out: Array<ModeComparison.CallRecord> = []
  for (let i = 0; i < 3000; i++) {
    const arm = (["baseline", "optimized", "cheap"] as const)[i % 3]!
    const m = modes[arm]
    const success = rng.chance(m.success)
    out.push({
      arm,
      timeMs: m.time * (0.8 + 0.4 * rng.next()),
      costUsd: m.cost,
      success,
      ...(success ? { quality: rng.chance(m.quality) ? 1 : 0 } : {})
    })
  }
  return out
}

describe("ModeComparison", () => {
  it("compares baseline vs optimized and other arms on time, cost, quality and success", () => {
    const report = ModeComparison.compare({ baseline: "baseline", records: records(1) })
    assert.deepStrictEqual(
      report.arms.map((a) => [a.arm, a.observed]),
      [
        ["baseline", 1000],
        ["optimized", 1000],
        ["cheap", 1000]
      ]
    )
    const optimized = report.comparisons.find((c) => c.arm === "optimized")!
    assert.strictEqual(optimized.verdict, "better")
    assert.closeTo(optimized.costRatio!, 2.5, 1e-9)
    assert.closeTo(optimized.timeRatio!, 1.25, 0.06)
    assert.closeTo(optimized.quality.estimate, 0.2, 0.06)
    assert.isAbove(optimized.quality.lower!, 0)
    const cheap = report.comparisons.find((c) => c.arm === "cheap")!
    assert.strictEqual(cheap.verdict, "worse")
    assert.isTrue(cheap.successRate.significant)
    assert.isBelow(cheap.successRate.estimate, 0)
    assert.closeTo(cheap.timeRatio!, 0.375, 0.03)
    const text = ModeComparison.render(report)
    assert.include(text, "| baseline (baseline) | 1000 |")
    assert.include(text, "- optimized vs baseline: quality +")
    assert.include(text, ": worse")
  })

  it("finds no difference between identical modes", () => {
    const rng = Random.make(2, "same")
    const same: Array<ModeComparison.CallRecord> = []
    for (let i = 0; i < 2000; i++)
      same.push({
        arm: i % 2 ? "a" : "b",
        timeMs: 100,
        costUsd: 0.001,
        success: true,
        quality: rng.chance(0.7) ? 1 : 0
      })
    const report = ModeComparison.compare({ baseline: "a", records: same })
    assert.strictEqual(report.comparisons[0]?.verdict, "no significant difference")
    assert.closeTo(report.comparisons[0]!.costRatio!, 1, 1e-12)
  })

  it("builds the same report from gathered statistics", () => {
    const direct = ModeComparison.compare({ baseline: "baseline", records: records(3) })
    const stats: Record<string, ArmStats.ArmStats> = {}
    for (const r of records(3)) {
      const s = (stats[r.arm] ??= ArmStats.empty())
      ArmStats.pull(s)
      ArmStats.record(s, { latencyMs: r.timeMs, costUsd: r.costUsd, error: !r.success, reward: r.quality })
    }
    assert.deepStrictEqual(ModeComparison.compareStats({ baseline: "baseline", arms: stats }), direct)
  })
})
