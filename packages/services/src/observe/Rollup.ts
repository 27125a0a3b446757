/**
 * One series over one interval: count, sum, min, max and a quantile sketch of the values recorded in it. Rollups
 * of the same series merge (two intervals into a longer one, or the same interval from two processes): count and
 * sum add, min and max compare, sketches merge.
 *
 * @since 0.1.0
 */
import * as QuantileSketch from "./QuantileSketch.js"
import type * as Series from "./Series.js"

/**
 * A rollup (mutable while its interval is open, then stored).
 *
 * @since 0.1.0
 * @category models
 */
export interface Rollup {
  readonly series: Series.Series
  /** The interval's start (epoch ms) and length. */
  readonly start: number
  readonly intervalMs: number
  count: number
  sum: number
  min: number
  max: number
  readonly sketch: QuantileSketch.QuantileSketch
}

/**
 * A rollup read back as figures: what queries return.
 *
 * @since 0.1.0
 * @category models
 */
export interface Point {
  readonly series: Series.Series
  readonly start: number
  readonly intervalMs: number
  readonly count: number
  readonly sum: number
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
}

/**
 * An empty rollup of a series over `[start, start + intervalMs)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (series: Series.Series, start: number, intervalMs: number): Rollup => ({
  series,
  start,
  intervalMs,
  count: 0,
  sum: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
  sketch: QuantileSketch.make()
})

/**
 * Folds one value in (non-finite values are ignored).
 *
 * @since 0.1.0
 * @category mutations
 */
export const add = (rollup: Rollup, value: number): void => {
  if (!Number.isFinite(value)) return
  rollup.count++
  rollup.sum += value
  if (value < rollup.min) rollup.min = value
  if (value > rollup.max) rollup.max = value
  rollup.sketch.add(value)
}

/**
 * Folds another rollup of the same series in.
 *
 * @since 0.1.0
 * @category mutations
 */
export const merge = (into: Rollup, other: Rollup): void => {
  into.count += other.count
  into.sum += other.sum
  if (other.min < into.min) into.min = other.min
  if (other.max > into.max) into.max = other.max
  into.sketch.merge(other.sketch)
}

/**
 * The rollups merged into one over `[start, start + intervalMs)` (the first one's series).
 *
 * @since 0.1.0
 * @category constructors
 */
export const combine = (rollups: ReadonlyArray<Rollup>, start: number, intervalMs: number): Rollup | undefined => {
  const first = rollups[0]
  if (first === undefined) return undefined
  const out = empty(first.series, start, intervalMs)
  for (const r of rollups) merge(out, r)
  return out
}

/**
 * The quantile `q` of a rollup, clamped to its min and max (exact at 0 and 1).
 *
 * @since 0.1.0
 * @category getters
 */
export const quantile = (rollup: Rollup, q: number): number => {
  if (rollup.count === 0) return Number.NaN
  if (q <= 0) return rollup.min
  if (q >= 1) return rollup.max
  return Math.min(rollup.max, Math.max(rollup.min, rollup.sketch.quantile(q)))
}

/**
 * The rollup as figures.
 *
 * @since 0.1.0
 * @category getters
 */
export const toPoint = (rollup: Rollup): Point => ({
  series: rollup.series,
  start: rollup.start,
  intervalMs: rollup.intervalMs,
  count: rollup.count,
  sum: rollup.sum,
  min: rollup.count === 0 ? Number.NaN : rollup.min,
  max: rollup.count === 0 ? Number.NaN : rollup.max,
  mean: rollup.count === 0 ? Number.NaN : rollup.sum / rollup.count,
  p50: quantile(rollup, 0.5),
  p95: quantile(rollup, 0.95),
  p99: quantile(rollup, 0.99)
})
