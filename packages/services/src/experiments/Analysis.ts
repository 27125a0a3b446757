/**
 * The analysis of an experiment, per arm and against the baseline: latency p50/p95, error rate, cost per call,
 * quality with an always-valid interval, the sequential tests of each arm against the baseline (quality and error
 * rate, see `Sequential`), and a recommendation: promote an arm, roll back to the baseline, or keep testing.
 *
 * The tests are checked as often as the caller analyses (each analysis is one check of every comparison; pass
 * the previous analysis so the p-values and intervals carry over). With several candidates, each comparison uses
 * `alpha / candidates` (Bonferroni), so the chance of any false promotion stays at most `alpha`.
 *
 * @example
 * ```ts
 * import { Analysis, ArmStats } from "@effect-dspy/services"
 *
 * const baseline = ArmStats.empty()
 * const candidate = ArmStats.empty()
 * // ... ArmStats.record(...) as outcomes arrive ...
 * const analysis = Analysis.analyze({ baseline: "1", arms: { "1": baseline, "2": candidate } })
 * analysis.recommendation._tag // "KeepTesting" until the evidence is enough
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as ArmStats from "./ArmStats.js"
import * as Sequential from "./Sequential.js"
import * as TrafficPolicy from "./TrafficPolicy.js"

/**
 * An interval.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Interval = Schema.Struct({ lower: Schema.Number, upper: Schema.Number })

/**
 * One arm's figures: requests routed, outcomes observed, latency p50/p95 (ms), error rate, cost per call (USD),
 * quality (mean reward) with its always-valid interval and how many rewards it rests on.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ArmReport = Schema.Struct({
  arm: Schema.String,
  requests: Schema.Number,
  observed: Schema.Number,
  latencyP50Ms: Schema.optional(Schema.Number),
  latencyP95Ms: Schema.optional(Schema.Number),
  errorRate: Schema.Number,
  costPerCallUsd: Schema.Number,
  quality: Schema.optional(Schema.Number),
  qualityInterval: Schema.optional(Interval),
  rewards: Schema.Number
})

/**
 * One arm's figures.
 *
 * @since 0.1.0
 * @category models
 */
export type ArmReport = typeof ArmReport.Type

/**
 * An arm against the baseline: the sequential tests of quality (arm minus baseline) and error rate.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Comparison = Schema.Struct({
  arm: Schema.String,
  baseline: Schema.String,
  quality: Sequential.Result,
  errorRate: Sequential.Result
})

/**
 * An arm against the baseline.
 *
 * @since 0.1.0
 * @category models
 */
export type Comparison = typeof Comparison.Type

/**
 * What to do: promote `arm`; roll back to the baseline (`arm` is the arm at fault, `breach` the guard rail when
 * one broke); keep testing. `reason` is a sentence for people and events.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Recommendation = Schema.Union(
  Schema.TaggedStruct("Promote", { arm: Schema.String, reason: Schema.String }),
  Schema.TaggedStruct("RollBack", {
    arm: Schema.String,
    reason: Schema.String,
    breach: Schema.optional(TrafficPolicy.Breach)
  }),
  Schema.TaggedStruct("KeepTesting", { reason: Schema.String })
)

/**
 * What to do.
 *
 * @since 0.1.0
 * @category models
 */
export type Recommendation = typeof Recommendation.Type

/**
 * An analysis: each arm's figures, each candidate against the baseline, the recommendation.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Analysis = Schema.Struct({
  baseline: Schema.String,
  arms: Schema.Array(ArmReport),
  comparisons: Schema.Array(Comparison),
  recommendation: Recommendation
})

/**
 * An analysis.
 *
 * @since 0.1.0
 * @category models
 */
export type Analysis = typeof Analysis.Type

/**
 * Settings of {@link analyze}: the test's `alpha` and mixing variances for quality and error rate, the guard
 * rails checked on every candidate, and the rewards each arm needs before a promotion (default 30).
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly alpha?: number
  readonly qualityTau2?: number
  readonly errorTau2?: number
  readonly guardRails?: TrafficPolicy.GuardRails
  readonly minRewards?: number
}

/**
 * The default settings: alpha 0.05, quality tau2 0.01 (differences of about 0.1), error-rate tau2 0.0025 (about
 * 0.05), 30 rewards per arm before a promotion.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Required<Omit<Settings, "guardRails">> = {
  alpha: 0.05,
  qualityTau2: 0.01,
  errorTau2: 0.0025,
  minRewards: 30
}

/**
 * One arm's figures from its statistics (`alpha` for the quality interval).
 *
 * @since 0.1.0
 * @category analysis
 */
export const armReport = (arm: string, stats: typeof ArmStats.ArmStats.Type, alpha = defaults.alpha): ArmReport => {
  const quality = ArmStats.meanReward(stats)
  const interval =
    quality === undefined
      ? undefined
      : Sequential.meanInterval(
          { n: stats.rewardN, mean: quality, variance: ArmStats.rewardVariance(stats) },
          { alpha, tau2: defaults.qualityTau2 }
        )
  const p50 = ArmStats.latencyQuantile(stats, 0.5)
  const p95 = ArmStats.latencyQuantile(stats, 0.95)
  return {
    arm,
    requests: stats.pulls,
    observed: stats.n,
    ...(p50 === undefined ? {} : { latencyP50Ms: p50 }),
    ...(p95 === undefined ? {} : { latencyP95Ms: p95 }),
    errorRate: ArmStats.errorRate(stats),
    costPerCallUsd: ArmStats.costPerCall(stats),
    ...(quality === undefined ? {} : { quality }),
    // A mean reward lies in [0, 1]: so does its interval (the normal-mixture width can reach past either end).
    ...(interval === undefined
      ? {}
      : { qualityInterval: { lower: clip(interval.lower, 0, 1), upper: clip(interval.upper, 0, 1) } }),
    rewards: stats.rewardN
  }
}

const sampleOf = (stats: typeof ArmStats.ArmStats.Type): Sequential.Sample => ({
  n: stats.rewardN,
  mean: ArmStats.meanReward(stats) ?? 0,
  variance: ArmStats.rewardVariance(stats)
})

const clip = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

/** A difference of two quantities in [0, 1] lies in [-1, 1]: so does its interval. */
const clipDifference = (test: Sequential.Result): Sequential.Result =>
  test.lower === undefined || test.upper === undefined
    ? test
    : { ...test, lower: clip(test.lower, -1, 1), upper: clip(test.upper, -1, 1) }

const fmt = (x: number) => (Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(2))

/**
 * Analyses an experiment: one check of every comparison (carrying over `previous`), then the recommendation, in
 * this order: a candidate that broke a guard rail, or is significantly worse in quality or error rate, rolls back;
 * the candidate significantly better in quality (with `minRewards` rewards and no significantly worse error rate)
 * with the best estimate is promoted; otherwise keep testing.
 *
 * @since 0.1.0
 * @category analysis
 */
export const analyze = (input: {
  readonly baseline: string
  readonly arms: Readonly<Record<string, typeof ArmStats.ArmStats.Type>>
  readonly settings?: Settings
  readonly previous?: Analysis
}): Analysis => {
  const settings = { ...defaults, ...input.settings }
  const baselineStats = input.arms[input.baseline] ?? ArmStats.empty()
  const candidates = Object.keys(input.arms).filter((arm) => arm !== input.baseline)
  const alpha = settings.alpha / Math.max(1, candidates.length)
  const reports = [input.baseline, ...candidates].map((arm) =>
    armReport(arm, input.arms[arm] ?? ArmStats.empty(), settings.alpha)
  )
  const comparisons: Array<Comparison> = candidates.map((arm) => {
    const stats = input.arms[arm]!
    const before = input.previous?.comparisons.find((c) => c.arm === arm && c.baseline === input.baseline)
    return {
      arm,
      baseline: input.baseline,
      quality: clipDifference(
        Sequential.meanDifference(
          sampleOf(baselineStats),
          sampleOf(stats),
          { alpha, tau2: settings.qualityTau2 },
          before?.quality ?? Sequential.initial
        )
      ),
      errorRate: clipDifference(
        Sequential.proportionDifference(
          { n: baselineStats.n, successes: baselineStats.errors },
          { n: stats.n, successes: stats.errors },
          { alpha, tau2: settings.errorTau2 },
          before?.errorRate ?? Sequential.initial
        )
      )
    }
  })
  return {
    baseline: input.baseline,
    arms: reports,
    comparisons,
    recommendation: recommend(input.baseline, input.arms, comparisons, settings)
  }
}

const recommend = (
  baseline: string,
  arms: Readonly<Record<string, typeof ArmStats.ArmStats.Type>>,
  comparisons: ReadonlyArray<Comparison>,
  settings: Settings & Required<Omit<Settings, "guardRails">>
): Recommendation => {
  if (settings.guardRails !== undefined)
    for (const c of comparisons) {
      const breach = TrafficPolicy.checkGuardRails(settings.guardRails, arms[c.arm]!)
      if (breach !== undefined)
        return { _tag: "RollBack", arm: c.arm, reason: `${c.arm} broke a guard rail: ${breach.reason}`, breach }
    }
  for (const c of comparisons) {
    if (c.errorRate.significant && c.errorRate.estimate > 0)
      return {
        _tag: "RollBack",
        arm: c.arm,
        reason: `${c.arm} has a higher error rate than ${baseline} (+${fmt(c.errorRate.estimate)}, always-valid p = ${fmt(c.errorRate.pValue)})`
      }
    if (c.quality.significant && c.quality.estimate < 0)
      return {
        _tag: "RollBack",
        arm: c.arm,
        reason: `${c.arm} has a lower quality than ${baseline} (${fmt(c.quality.estimate)}, always-valid p = ${fmt(c.quality.pValue)})`
      }
  }
  const winners = comparisons
    .filter(
      (c) =>
        c.quality.significant &&
        c.quality.estimate > 0 &&
        (arms[c.arm]?.rewardN ?? 0) >= settings.minRewards &&
        (arms[baseline]?.rewardN ?? 0) >= settings.minRewards
    )
    .sort((a, b) => b.quality.estimate - a.quality.estimate)
  const best = winners[0]
  if (best !== undefined)
    return {
      _tag: "Promote",
      arm: best.arm,
      reason: `${best.arm} has a higher quality than ${baseline} (+${fmt(best.quality.estimate)}, interval [${fmt(best.quality.lower ?? 0)}, ${fmt(best.quality.upper ?? 0)}], always-valid p = ${fmt(best.quality.pValue)})`
    }
  const smallest = Math.min(...[baseline, ...comparisons.map((c) => c.arm)].map((arm) => arms[arm]?.rewardN ?? 0))
  const p = Math.min(1, ...comparisons.map((c) => c.quality.pValue))
  return {
    _tag: "KeepTesting",
    reason: `no significant difference yet (smallest arm: ${smallest} rewards; best always-valid p = ${fmt(p)})`
  }
}
