/**
 * A mode comparison report (seed 001): from production records of a module's arms (baseline, optimized, any
 * other: each call's time, cost, quality when known, success), each arm's figures and each arm against the
 * baseline on time, cost, quality and success rate, with always-valid intervals for the differences and a verdict.
 *
 * @example
 * ```ts
 * import { ModeComparison } from "@effect-dspy/services"
 *
 * const report = ModeComparison.compare({
 *   baseline: "baseline",
 *   records: [
 *     { arm: "baseline", timeMs: 800, costUsd: 0.001, quality: 0, success: true },
 *     { arm: "optimized", timeMs: 950, costUsd: 0.002, quality: 1, success: true }
 *   ]
 * })
 * console.log(ModeComparison.render(report))
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Analysis from "./Analysis.js"
import * as ArmStats from "./ArmStats.js"
import * as Sequential from "./Sequential.js"

/**
 * One production record: the arm that served, its time (ms), cost (USD), quality in [0, 1] when known, and
 * whether it succeeded.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallRecord {
  readonly arm: string
  readonly timeMs: number
  readonly costUsd: number
  readonly quality?: number | undefined
  readonly success: boolean
}

/**
 * An arm against the baseline: time and cost ratios (arm over baseline: p50 time, cost per call), the quality and
 * success-rate differences (arm minus baseline) with their always-valid tests, and a verdict in words.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ArmComparison = Schema.Struct({
  arm: Schema.String,
  baseline: Schema.String,
  timeRatio: Schema.optional(Schema.Number),
  costRatio: Schema.optional(Schema.Number),
  quality: Sequential.Result,
  successRate: Sequential.Result,
  verdict: Schema.Literal("better", "worse", "no significant difference"),
  summary: Schema.String
})

/**
 * An arm against the baseline.
 *
 * @since 0.1.0
 * @category models
 */
export type ArmComparison = typeof ArmComparison.Type

/**
 * The report: each arm's figures (`Analysis.ArmReport`; its error rate is the failure rate) and each other arm
 * against the baseline.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Report = Schema.Struct({
  baseline: Schema.String,
  arms: Schema.Array(Analysis.ArmReport),
  comparisons: Schema.Array(ArmComparison)
})

/**
 * The report.
 *
 * @since 0.1.0
 * @category models
 */
export type Report = typeof Report.Type

const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

/**
 * Builds the report (`alpha` for the tests and intervals, default 0.05). Arms appear in the order first seen,
 * the baseline first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const compare = (input: {
  readonly baseline: string
  readonly records: Iterable<CallRecord>
  readonly alpha?: number
}): Report => {
  const stats: Record<string, ArmStats.ArmStats> = { [input.baseline]: ArmStats.empty() }
  for (const r of input.records) {
    const s = (stats[r.arm] ??= ArmStats.empty())
    ArmStats.pull(s)
    ArmStats.record(s, { latencyMs: r.timeMs, costUsd: r.costUsd, error: !r.success, reward: r.quality })
  }
  return compareStats({
    baseline: input.baseline,
    arms: stats,
    ...(input.alpha === undefined ? {} : { alpha: input.alpha })
  })
}

/**
 * Builds the report from arms' statistics already gathered (a router's `state().arms`, an experiment record's
 * `stats`): an error is a failed call, the reward is the quality. The baseline comes first, then the other arms
 * in their order.
 *
 * @since 0.1.0
 * @category constructors
 */
export const compareStats = (input: {
  readonly baseline: string
  readonly arms: Readonly<Record<string, typeof ArmStats.ArmStats.Type>>
  readonly alpha?: number
}): Report => {
  const alpha = input.alpha ?? Analysis.defaults.alpha
  const stats = new Map<string, typeof ArmStats.ArmStats.Type>([
    [input.baseline, input.arms[input.baseline] ?? ArmStats.empty()]
  ])
  for (const [arm, s] of Object.entries(input.arms)) if (arm !== input.baseline) stats.set(arm, s)
  const base = stats.get(input.baseline)!
  const reports = [...stats].map(([arm, s]) => Analysis.armReport(arm, s, alpha))
  const baseReport = reports[0]!
  const others = [...stats].filter(([arm]) => arm !== input.baseline)
  const options = (tau2: number) => ({ alpha: alpha / Math.max(1, others.length), tau2 })
  const comparisons = others.map(([arm, s]): ArmComparison => {
    const report = reports.find((r) => r.arm === arm)!
    const quality = Sequential.meanDifference(
      { n: base.rewardN, mean: ArmStats.meanReward(base) ?? 0, variance: ArmStats.rewardVariance(base) },
      { n: s.rewardN, mean: ArmStats.meanReward(s) ?? 0, variance: ArmStats.rewardVariance(s) },
      options(Analysis.defaults.qualityTau2)
    )
    const successRate = Sequential.proportionDifference(
      { n: base.n, successes: base.n - base.errors },
      { n: s.n, successes: s.n - s.errors },
      options(Analysis.defaults.errorTau2)
    )
    const worse = (quality.significant && quality.estimate < 0) || (successRate.significant && successRate.estimate < 0)
    const better = !worse && quality.significant && quality.estimate > 0
    const timeRatio = ratio(report.latencyP50Ms, baseReport.latencyP50Ms)
    const costRatio = ratio(report.costPerCallUsd, baseReport.costPerCallUsd)
    const parts = [
      `quality ${quality.estimate >= 0 ? "+" : ""}${quality.estimate.toFixed(3)}${quality.significant ? " (significant)" : ""}`,
      `success rate ${successRate.estimate >= 0 ? "+" : ""}${pct(successRate.estimate)}${successRate.significant ? " (significant)" : ""}`,
      ...(timeRatio === undefined ? [] : [`time ${timeRatio.toFixed(2)}x`]),
      ...(costRatio === undefined ? [] : [`cost ${costRatio.toFixed(2)}x`])
    ]
    return {
      arm,
      baseline: input.baseline,
      ...(timeRatio === undefined ? {} : { timeRatio }),
      ...(costRatio === undefined ? {} : { costRatio }),
      quality,
      successRate,
      verdict: worse ? "worse" : better ? "better" : "no significant difference",
      summary: `${arm} vs ${input.baseline}: ${parts.join(", ")}`
    }
  })
  return { baseline: input.baseline, arms: reports, comparisons }
}

const num = (x: number | undefined, digits: number) => (x === undefined ? "-" : x.toFixed(digits))

/**
 * The report as a Markdown table per arm, then one line per comparison.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (report: Report): string => {
  const lines = [
    "| arm | calls | success | time p50 (ms) | time p95 (ms) | cost/call (USD) | quality | quality interval |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...report.arms.map(
      (a) =>
        `| ${a.arm}${a.arm === report.baseline ? " (baseline)" : ""} | ${a.observed} | ${pct(1 - a.errorRate)} | ${num(a.latencyP50Ms, 1)} | ${num(a.latencyP95Ms, 1)} | ${a.costPerCallUsd.toFixed(5)} | ${num(a.quality, 3)} | ${a.qualityInterval ? `[${a.qualityInterval.lower.toFixed(3)}, ${a.qualityInterval.upper.toFixed(3)}]` : "-"} |`
    ),
    "",
    ...report.comparisons.map((c) => `- ${c.summary}: ${c.verdict}`)
  ]
  return lines.join("\n")
}
