/**
 * Calibration of a router's confidence: how well the confidence it gave its decisions predicts the rewards they
 * got. Decisions are put in equal-width confidence bins; each bin reports its mean confidence and its mean
 * reward (the observed success), and the expected calibration error (ECE) is the count-weighted mean of their
 * gaps: `sum(n_b / N * |confidence_b - reward_b|)`. A perfectly calibrated router has an ECE of 0. The Brier
 * score (`mean((confidence - reward)^2)`) is reported beside it.
 *
 * @example
 * ```ts
 * import { Calibration } from "@effect-dspy/services"
 *
 * const bins = Calibration.empty(10)
 * Calibration.add(bins, 0.9, 1)
 * Calibration.add(bins, 0.2, 0)
 * const report = Calibration.report(bins) // ece 0.15
 * ```
 *
 * @since 0.1.0
 */

/**
 * One bin's running sums.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bin {
  n: number
  confidenceSum: number
  rewardSum: number
  squaredErrorSum: number
}

/**
 * The bins of a calibration (equal width over [0, 1]).
 *
 * @since 0.1.0
 * @category models
 */
export type Bins = Array<Bin>

/**
 * One bin of a report.
 *
 * @since 0.1.0
 * @category models
 */
export interface BinReport {
  /** The bin's confidence range [lower, upper) (the last bin includes 1). */
  readonly lower: number
  readonly upper: number
  readonly n: number
  /** Mean confidence and mean reward of its decisions (undefined for an empty bin). */
  readonly confidence: number | undefined
  readonly observed: number | undefined
}

/**
 * A calibration report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  /** Rewarded decisions counted. */
  readonly n: number
  readonly bins: ReadonlyArray<BinReport>
  /** Expected calibration error (undefined with no rewarded decision). */
  readonly ece: number | undefined
  /** Mean squared gap between confidence and reward (undefined with no rewarded decision). */
  readonly brier: number | undefined
}

/**
 * `count` empty bins.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (count: number): Bins =>
  Array.from({ length: count }, () => ({ n: 0, confidenceSum: 0, rewardSum: 0, squaredErrorSum: 0 }))

/**
 * The bin of a confidence (clamped to [0, 1]).
 *
 * @since 0.1.0
 * @category algorithms
 */
export const binOf = (count: number, confidence: number): number =>
  Math.min(count - 1, Math.max(0, Math.floor(Math.min(1, Math.max(0, confidence)) * count)))

/**
 * Adds a rewarded decision.
 *
 * @since 0.1.0
 * @category algorithms
 */
export const add = (bins: Bins, confidence: number, reward: number): void => {
  const bin = bins[binOf(bins.length, confidence)]!
  bin.n += 1
  bin.confidenceSum += confidence
  bin.rewardSum += reward
  bin.squaredErrorSum += (confidence - reward) ** 2
}

/**
 * The report of the bins.
 *
 * @since 0.1.0
 * @category algorithms
 */
export const report = (bins: ReadonlyArray<Bin>): Report => {
  const n = bins.reduce((sum, b) => sum + b.n, 0)
  let ece = 0
  let squared = 0
  const reports = bins.map((b, i): BinReport => {
    const confidence = b.n === 0 ? undefined : b.confidenceSum / b.n
    const observed = b.n === 0 ? undefined : b.rewardSum / b.n
    if (confidence !== undefined && observed !== undefined) ece += (b.n / n) * Math.abs(confidence - observed)
    squared += b.squaredErrorSum
    return { lower: i / bins.length, upper: (i + 1) / bins.length, n: b.n, confidence, observed }
  })
  return { n, bins: reports, ece: n === 0 ? undefined : ece, brier: n === 0 ? undefined : squared / n }
}
