/**
 * The one-step means of each model's state, without allocating (the ensemble's hot path).
 */
import type * as Ewma from "../Ewma.js"
import type * as Holt from "../Holt.js"
import type * as HoltWinters from "../HoltWinters.js"
import type * as LinearTrend from "../LinearTrend.js"
import type * as Naive from "../Naive.js"
import type * as Sma from "../Sma.js"

export const naive = (s: Naive.State): number => s.last
export const sma = (s: Sma.State): number => (s.count === 0 ? Number.NaN : s.sum / s.count)
export const ewma = (s: Ewma.State): number => s.level
export const holt = (s: Holt.State): number => s.level + s.trend
/** NaN until the first season initialised the state. */
export const holtWinters = (s: HoltWinters.State): number =>
  s.n < s.seasonLength ? Number.NaN : s.level + s.trend + s.season[s.n % s.seasonLength]!

/** The line's value at position x when `c` points sit at 0..c-1. */
export const lineAt = (c: number, sy: number, sxy: number, x: number): number => {
  if (c === 0) return Number.NaN
  if (c === 1) return sy
  const sxxc = ((c - 1) * c * (c + 1)) / 12
  const meanX = (c - 1) / 2
  const slope = (sxy - meanX * sy) / sxxc
  return sy / c + slope * (x - meanX)
}
export const linear = (s: LinearTrend.State): number => lineAt(s.count, s.sy, s.sxy, s.count)
