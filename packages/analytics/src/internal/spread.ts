/**
 * The prediction-interval machinery every forecaster shares, O(1) per point and allocation-free: an
 * exponentially weighted mean of the squared one-step errors (the residual scale) times a multiplier that
 * starts at the normal quantile of the confidence and adapts to the misses it observes (adaptive conformal
 * inference: raised by gamma·(1 - alpha) on a miss, lowered by gamma·alpha on a hit, so the long-run miss rate
 * settles at alpha whatever the residuals' distribution).
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
  logK: number
  readonly alpha: number
  readonly decay: number
  readonly adapt: number
  readonly minResiduals: number
}

export const make = (o: SpreadOptions): Spread => ({
  n: 0,
  msq: 0,
  logK: Math.log(normalQuantile(1 - (1 - o.confidence) / 2)),
  alpha: 1 - o.confidence,
  decay: o.decay,
  adapt: o.adapt,
  minResiduals: o.minResiduals
})

export const clone = (s: Spread): Spread => ({ ...s })

/** Folds one one-step error (actual - forecast) into the spread. */
export const observe = (s: Spread, error: number): void => {
  const e2 = error * error
  if (s.n >= s.minResiduals) {
    const half = Math.exp(s.logK) * Math.sqrt(s.msq)
    s.logK += e2 > half * half ? s.adapt * (1 - s.alpha) : -s.adapt * s.alpha
  }
  const w = 1 / (s.n + 1)
  s.msq += Math.max(w, s.decay) * (e2 - s.msq)
  s.n++
}

/** The half width of the one-step interval times `factor` (Infinity before `minResiduals` residuals). */
export const halfWidth = (s: Spread, factor: number): number =>
  s.n < s.minResiduals ? Number.POSITIVE_INFINITY : Math.exp(s.logK) * Math.sqrt(s.msq) * factor

/**
 * The batch counterpart: half widths of the one-step intervals for a sequence of errors (NaN = no forecast);
 * one more entry at the end: the half width after the last error.
 */
export const batchHalfWidths = (errors: ArrayLike<number>, o: SpreadOptions): Float64Array => {
  const out = new Float64Array(errors.length + 1)
  let n = 0
  let msq = 0
  let logK = Math.log(normalQuantile(1 - (1 - o.confidence) / 2))
  const alpha = 1 - o.confidence
  for (let i = 0; i < errors.length; i++) {
    const e = errors[i]!
    const half = n < o.minResiduals ? Number.POSITIVE_INFINITY : Math.exp(logK) * Math.sqrt(msq)
    out[i] = half
    if (Number.isNaN(e)) continue
    if (n >= o.minResiduals) logK += Math.abs(e) > half ? o.adapt * (1 - alpha) : -o.adapt * alpha
    msq += Math.max(1 / (n + 1), o.decay) * (e * e - msq)
    n++
  }
  out[errors.length] = n < o.minResiduals ? Number.POSITIVE_INFINITY : Math.exp(logK) * Math.sqrt(msq)
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
  for (let i = 0; i < n; i++) errors[i] = Number.isNaN(mean[i]!) ? Number.NaN : values[i]! - mean[i]!
  const half = batchHalfWidths(errors, o)
  const lower = new Float64Array(n)
  const upper = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    lower[i] = Number.isNaN(mean[i]!) ? Number.NaN : mean[i]! - half[i]!
    upper[i] = Number.isNaN(mean[i]!) ? Number.NaN : mean[i]! + half[i]!
  }
  return { path: { mean, lower, upper }, half: half[n]! }
}
