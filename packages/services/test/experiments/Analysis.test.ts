import { Random } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import { Analysis, ArmStats } from "../../src/index.js"

const simulate = (
  seed: number,
  arms: Record<string, { quality: number; error: number; latency: number; cost: number }>,
  requests: number,
  checkEvery = 100,
  settings?: Analysis.Settings
): { analysis: Analysis.Analysis; firstAction?: Analysis.Recommendation } => {
  const rng = Random.make(seed, "analysis-test")
  const names = Object.keys(arms)
  const stats: Record<string, ArmStats.ArmStats> = Object.fromEntries(names.map((n) => [n, ArmStats.empty()]))
  let analysis: Analysis.Analysis | undefined
  let firstAction: Analysis.Recommendation | undefined
  for (let t = 1; t <= requests; t++) {
    const name = names[rng.int(names.length)]!
    const arm = arms[name]!
    const s = stats[name]!
    ArmStats.pull(s)
    const error = rng.chance(arm.error)
    ArmStats.record(s, {
      latencyMs: arm.latency * (0.5 + rng.next()),
      error,
      costUsd: arm.cost,
      ...(error ? {} : { reward: rng.chance(arm.quality) ? 1 : 0 })
    })
    if (t % checkEvery === 0) {
      analysis = Analysis.analyze({
        baseline: names[0]!,
        arms: stats,
        ...(settings ? { settings } : {}),
        ...(analysis ? { previous: analysis } : {})
      })
      if (firstAction === undefined && analysis.recommendation._tag !== "KeepTesting")
        firstAction = analysis.recommendation
    }
  }
  return { analysis: analysis!, ...(firstAction ? { firstAction } : {}) }
}

describe("Analysis", () => {
  it("reports each arm's latency p50/p95, error rate, cost per call and quality with an interval", () => {
    const stats = ArmStats.empty()
    for (let i = 1; i <= 100; i++) {
      ArmStats.pull(stats)
      ArmStats.record(stats, { latencyMs: i, error: i % 10 === 0, costUsd: 0.002, reward: i <= 70 ? 1 : 0 })
    }
    const report = Analysis.armReport("v1", stats)
    assert.strictEqual(report.requests, 100)
    assert.closeTo(report.latencyP50Ms!, 50, 1)
    assert.closeTo(report.latencyP95Ms!, 95, 1.5)
    assert.closeTo(report.errorRate, 0.1, 1e-12)
    assert.closeTo(report.costPerCallUsd, 0.002, 1e-12)
    assert.closeTo(report.quality!, 0.7, 1e-12)
    assert.isBelow(report.qualityInterval!.lower, 0.7)
    assert.isAbove(report.qualityInterval!.upper, 0.7)
    assert.isBelow(report.qualityInterval!.upper - report.qualityInterval!.lower, 0.5)
  })

  it("clips quality intervals to [0, 1] and difference intervals to [-1, 1]", () => {
    // Few rewards, all 1 (or all 0): the mixture's half-width is wide, the interval reaches past 1 (or 0) unclipped.
    const fill = (reward: number) => {
      const stats = ArmStats.empty()
      for (let i = 0; i < 5; i++) {
        ArmStats.pull(stats)
        ArmStats.record(stats, { latencyMs: 10, error: false, costUsd: 0, reward: i === 0 ? 1 - reward : reward })
      }
      return stats
    }
    const high = Analysis.armReport("high", fill(1))
    const low = Analysis.armReport("low", fill(0))
    assert.strictEqual(high.qualityInterval!.upper, 1)
    assert.isAtLeast(high.qualityInterval!.lower, 0)
    assert.strictEqual(low.qualityInterval!.lower, 0)
    assert.isAtMost(low.qualityInterval!.upper, 1)
    const analysis = Analysis.analyze({ baseline: "low", arms: { low: fill(0), high: fill(1) } })
    for (const c of analysis.comparisons)
      for (const test of [c.quality, c.errorRate]) {
        assert.isAtLeast(test.lower!, -1)
        assert.isAtMost(test.upper!, 1)
      }
    assert.strictEqual(analysis.comparisons[0]!.quality.upper, 1)
  })

  it("keeps testing while the evidence is thin, then promotes a better candidate", () => {
    const arms = {
      base: { quality: 0.6, error: 0.01, latency: 100, cost: 0.001 },
      opt: { quality: 0.78, error: 0.01, latency: 120, cost: 0.002 }
    }
    const early = simulate(1, arms, 100).analysis
    assert.strictEqual(early.recommendation._tag, "KeepTesting")
    const { firstAction, analysis } = simulate(1, arms, 4000)
    assert.strictEqual(firstAction?._tag, "Promote")
    assert.strictEqual(firstAction?._tag === "Promote" ? firstAction.arm : "", "opt")
    assert.include(firstAction?.reason ?? "", "higher quality")
    const opt = analysis.arms.find((a) => a.arm === "opt")!
    assert.closeTo(opt.costPerCallUsd, 0.002, 1e-12)
    assert.isAbove(opt.latencyP50Ms!, analysis.arms[0]!.latencyP50Ms!)
  })

  it("rolls back a candidate with a worse quality or a higher error rate", () => {
    const worse = simulate(
      2,
      {
        base: { quality: 0.75, error: 0.01, latency: 100, cost: 0.001 },
        opt: { quality: 0.55, error: 0.01, latency: 100, cost: 0.001 }
      },
      4000
    ).firstAction
    assert.strictEqual(worse?._tag, "RollBack")
    assert.include(worse?.reason ?? "", "lower quality")
    const failing = simulate(
      3,
      {
        base: { quality: 0.7, error: 0.01, latency: 100, cost: 0.001 },
        opt: { quality: 0.7, error: 0.12, latency: 100, cost: 0.001 }
      },
      4000
    ).firstAction
    assert.strictEqual(failing?._tag, "RollBack")
    assert.include(failing?.reason ?? "", "error rate")
  })

  it("rolls back a candidate that breaks a guard rail, saying which", () => {
    const slow = simulate(
      4,
      {
        base: { quality: 0.7, error: 0.01, latency: 100, cost: 0.001 },
        opt: { quality: 0.7, error: 0.01, latency: 400, cost: 0.001 }
      },
      1000,
      100,
      { guardRails: { maxLatencyP95Ms: 300, minSamples: 50 } }
    ).firstAction
    assert.strictEqual(slow?._tag, "RollBack")
    assert.strictEqual(slow?._tag === "RollBack" ? slow.breach?.rail : undefined, "latency_p95")
  })

  it("A/A experiments with three arms rarely recommend anything (<= alpha + 0.01 over 200 seeds)", () => {
    const arm = { quality: 0.7, error: 0.03, latency: 100, cost: 0.001 }
    let actions = 0
    for (let seed = 0; seed < 200; seed++)
      if (simulate(seed, { a: arm, b: arm, c: arm }, 2000).firstAction !== undefined) actions++
    assert.isAtMost(actions / 200, 0.06, `${actions} of 200`)
  })
})
