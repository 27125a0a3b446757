/**
 * The prediction-interval machinery every forecaster shares, O(1) per point and allocation-free: an
 * exponentially weighted mean of the squared one-step errors (the residual scale) times a multiplier that
 * starts at the normal quantile of the confidence and adapts to the misses it observes (adaptive conformal
 * inference: its log raised by adapt·(1 - alpha) on a miss, lowered by adapt·alpha on a hit, so the long-run
 * miss rate settles at alpha whatever the residuals' distribution). The batch paths fold their arrays of errors
 * through the same recursion (the batch functions differ in how they compute the means).
 */
import type { IntervalOptions, Path } from "../Forecast.js"
import * as check from "./check.js"
import { normalQuantile } from "./stats.js"

/** The spread's settings, validated by the forecasters' `make`. */
export interface SpreadOptions {
  readonly confidence: number
  /** Weight of a new squared error in the residual scale (after the first 1/decay points, a plain mean). */
  readonly decay: number
  /** Step of the multiplier's adaptation, in log space. */
  readonly adapt: number
  /** Residuals seen before an interval is finite. */
  readonly minResiduals: number
}

/** Defaults: 95% intervals, residual scale over ~50 points, adaptation 0.02, 8 residuals first. */
export const defaults: SpreadOptions = { confidence: 0.95, decay: 0.02, adapt: 0.02, minResiduals: 8 }

/** The mutable spread state. */
export interface Spread {
  n: number
  msq: number
  /** The interval multiplier and its square (kept together so an update needs no exp or sqrt). */
  k: number
  k2: number
  /** exp(adapt·(1 - alpha)) and exp(-adapt·alpha): the multiplier's step after a miss and after a hit. */
  readonly up: number
  readonly down: number
  readonly decay: number
  readonly minResiduals: number
}

export const make = (o: SpreadOptions): Spread => {
  const k = normalQuantile(1 - (1 - o.confidence) / 2)
  const alpha = 1 - o.confidence
  return {
    n: 0,
    msq: 0,
    k,
    k2: k * k,
    up: Math.exp(o.adapt * (1 - alpha)),
    down: Math.exp(-o.adapt * alpha),
    decay: o.decay,
    minResiduals: o.minResiduals
  }
}

export const clone = (s: Spread): Spread => ({ ...s })

/**
 * The one-step error actual - forecast, with rounding noise (below 1e-12 of the operands) read as 0: two exact
 * computations of the same mean (a running sum and a two-pass sum) then see the same residual, and a constant
 * series has none.
 */
export const errorOf = (actual: number, forecast: number): number => {
  const e = actual - forecast
  return Math.abs(e) <= 1e-12 * Math.max(Math.abs(actual), Math.abs(forecast)) ? 0 : e
}

/** Folds the one-step error of `forecast` for `actual` into the spread. */
export const observe = (s: Spread, actual: number, forecast: number): void => {
  const error = errorOf(actual, forecast)
  const e2 = error * error
  if (s.n >= s.minResiduals) {
    s.k *= e2 > s.k2 * s.msq ? s.up : s.down
    s.k2 = s.k * s.k
  }
  const w = 1 / (s.n + 1)
  s.msq += Math.max(w, s.decay) * (e2 - s.msq)
  s.n++
}

/** The half width of the one-step interval times `factor` (Infinity before `minResiduals` residuals). */
export const halfWidth = (s: Spread, factor: number): number =>
  s.n < s.minResiduals ? Number.POSITIVE_INFINITY : s.k * Math.sqrt(s.msq) * factor

/**
 * The batch counterpart: half widths of the one-step intervals for a sequence of errors (NaN = no forecast);
 * one more entry at the end: the half width after the last error.
 */
export const batchHalfWidths = (errors: ArrayLike<number>, o: SpreadOptions): Float64Array => {
  const out = new Float64Array(errors.length + 1)
  const state = make(o)
  for (let i = 0; i < errors.length; i++) {
    const e = errors[i]!
    out[i] = halfWidth(state, 1)
    if (!Number.isNaN(e)) observe(state, e, 0)
  }
  out[errors.length] = halfWidth(state, 1)
  return out
}

/** The validated interval options of a forecaster. */
export const fromOptions = (module: string, o: IntervalOptions | undefined): SpreadOptions => ({
  confidence: check.confidence(module, o?.confidence ?? defaults.confidence),
  decay: check.unitInterval(module, "residualDecay", o?.residualDecay ?? defaults.decay),
  adapt: check.unitInterval(module, "adapt", o?.adapt ?? defaults.adapt, true),
  minResiduals: defaults.minResiduals
})

/** The batch one-step path from the one-step means (NaN = no forecast) of a series, and the final half width. */
export const pathOf = (
  values: ArrayLike<number>,
  mean: Float64Array,
  o: SpreadOptions
): { readonly path: Path; readonly half: number } => {
  const n = values.length
  const errors = new Float64Array(n)
  for (let i = 0; i < n; i++) errors[i] = Number.isNaN(mean[i]!) ? Number.NaN : errorOf(values[i]!, mean[i]!)
  const half = batchHalfWidths(errors, o)
  const lower = new Float64Array(n)
  const upper = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    lower[i] = Number.isNaN(mean[i]!) ? Number.NaN : mean[i]! - half[i]!
    upper[i] = Number.isNaN(mean[i]!) ? Number.NaN : mean[i]! + half[i]!
  }
  return { path: { mean, lower, upper }, half: half[n]! }
}
