/**
 * A least-squares line over the last `window` points (positions 0..count-1), kept with running sums in O(1)
 * per point; the forecast extends the line. `slope` tests whether the slope differs from zero (t statistic
 * with count - 2 degrees of freedom and its two-sided p-value).
 *
 * @example
 * ```ts
 * import { LinearTrend } from "@effect-dspy/analytics"
 *
 * const state = LinearTrend.make({ window: 50 })
 * for (let i = 0; i < 50; i++) LinearTrend.update(state, 3 + 0.5 * i + (i % 2 === 0 ? 0.1 : -0.1))
 * const { slope, pValue } = LinearTrend.slope(state) // slope about 0.5, pValue far below 0.05
 * ```
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import * as Forecast from "./Forecast.js"
import * as check from "./internal/check.js"
import * as factors from "./internal/factors.js"
import { lineAt } from "./internal/means.js"
import * as Spread from "./internal/spread.js"
import { studentTwoSidedP } from "./internal/stats.js"

/**
 * Options: the `window` (points, >= 2, default 60) and the intervals.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Forecast.IntervalOptions {
  readonly window?: number
}

/**
 * The streaming state: the ring of the last points and the running sums of y, x·y and y² (x = position in the
 * window).
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly window: number
  readonly buffer: Float64Array
  readonly position: number
  readonly count: number
  readonly sy: number
  readonly sxy: number
  readonly syy: number
  readonly n: number
  readonly skipped: number
  /** @internal */
  readonly spread: Spread.Spread
}

/**
 * A fitted line and the test of its slope. `intercept` is the value at the window's first point;
 * `tStatistic` is slope / standard error; `pValue` the two-sided p-value (NaN with fewer than 3 points;
 * 0 for a perfect line).
 *
 * @since 0.1.0
 * @category models
 */
export interface Fit {
  readonly n: number
  readonly slope: number
  readonly intercept: number
  readonly standardError: number
  readonly tStatistic: number
  readonly pValue: number
  /** The residual standard deviation around the line. */
  readonly residualSd: number
}

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => {
  const window = check.integerAtLeast("LinearTrend", "window", options?.window ?? 60, 2)
  return {
    window,
    buffer: new Float64Array(window),
    position: 0,
    count: 0,
    sy: 0,
    sxy: 0,
    syy: 0,
    n: 0,
    skipped: 0,
    spread: Spread.make(Spread.fromOptions("LinearTrend", options))
  }
}

/**
 * Folds one point into the state, in place; returns the state.
 *
 * @since 0.1.0
 * @category streaming
 */
export const update = (state: State, value: number): State => {
  const s = state as Types.Mutable<State>
  if (!Number.isFinite(value)) {
    s.skipped++
    return state
  }
  const c = s.count
  if (c > 0) Spread.observe(s.spread, value, lineAt(c, s.sy, s.sxy, c))
  const buffer = s.buffer
  if (c === s.window) {
    const oldest = buffer[s.position]!
    s.sxy += (s.window - 1) * value - (s.sy - oldest)
    s.sy += value - oldest
    s.syy += value * value - oldest * oldest
  } else {
    s.sxy += c * value
    s.sy += value
    s.syy += value * value
    s.count = c + 1
  }
  buffer[s.position] = value
  s.position = s.position + 1 === s.window ? 0 : s.position + 1
  if (s.position === 0) resum(s)
  s.n++
  return state
}

/** Recomputes the sums from the ring (oldest first) so rounding does not drift. */
const resum = (s: Types.Mutable<State>): void => {
  let sy = 0
  let sxy = 0
  let syy = 0
  const start = s.count === s.window ? s.position : 0
  for (let i = 0; i < s.count; i++) {
    const y = s.buffer[(start + i) % s.window]!
    sy += y
    sxy += i * y
    syy += y * y
  }
  s.sy = sy
  s.sxy = sxy
  s.syy = syy
}

/**
 * The forecast `horizon` steps after the last point.
 *
 * @since 0.1.0
 * @category streaming
 */
export const forecast = (state: State, horizon: number): Forecast.Forecast => {
  const h = check.horizon("LinearTrend", horizon)
  const c = state.count
  return Forecast.make(
    h,
    lineAt(c, state.sy, state.sxy, c - 1 + h),
    Spread.halfWidth(state.spread, factors.linear(c, h))
  )
}

const fitOf = (c: number, sy: number, sxy: number, syy: number): Fit => {
  if (c < 2) {
    return {
      n: c,
      slope: c === 1 ? 0 : Number.NaN,
      intercept: c === 1 ? sy : Number.NaN,
      standardError: Number.NaN,
      tStatistic: Number.NaN,
      pValue: Number.NaN,
      residualSd: Number.NaN
    }
  }
  const sxxc = ((c - 1) * c * (c + 1)) / 12
  const meanX = (c - 1) / 2
  const sxyc = sxy - meanX * sy
  const syyc = Math.max(0, syy - (sy * sy) / c)
  const slope = sxyc / sxxc
  const intercept = sy / c - slope * meanX
  if (c < 3) {
    return {
      n: c,
      slope,
      intercept,
      standardError: Number.NaN,
      tStatistic: Number.NaN,
      pValue: Number.NaN,
      residualSd: 0
    }
  }
  // Rounding can leave a tiny negative or a noise-level residual for an exact line: clamp relative to syy.
  const sse = Math.max(0, syyc - slope * sxyc)
  const exact = sse <= syyc * 1e-12
  const residualSd = exact ? 0 : Math.sqrt(sse / (c - 2))
  const standardError = residualSd / Math.sqrt(sxxc)
  const tStatistic = exact ? (slope === 0 ? 0 : Math.sign(slope) * Number.POSITIVE_INFINITY) : slope / standardError
  const pValue = exact ? (slope === 0 ? 1 : 0) : studentTwoSidedP(tStatistic, c - 2)
  return { n: c, slope, intercept, standardError, tStatistic, pValue, residualSd }
}

/**
 * The line over the state's window and the test of its slope.
 *
 * @since 0.1.0
 * @category streaming
 */
export const slope = (state: State): Fit => fitOf(state.count, state.sy, state.sxy, state.syy)

/**
 * The least-squares line over a whole series (x = 0..n-1), computed in two passes (means, then centred sums),
 * and the test of its slope (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const fit = (values: ArrayLike<number>): Fit => {
  const xs = check.series("LinearTrend", values)
  const c = xs.length
  if (c < 3) {
    let sy = 0
    let sxy = 0
    let syy = 0
    for (let i = 0; i < c; i++) {
      sy += xs[i]!
      sxy += i * xs[i]!
      syy += xs[i]! * xs[i]!
    }
    return fitOf(c, sy, sxy, syy)
  }
  let meanY = 0
  for (let i = 0; i < c; i++) meanY += xs[i]!
  meanY /= c
  const meanX = (c - 1) / 2
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (let i = 0; i < c; i++) {
    const dx = i - meanX
    const dy = xs[i]! - meanY
    sxx += dx * dx
    sxy += dx * dy
    syy += dy * dy
  }
  const slopeValue = sxy / sxx
  const intercept = meanY - slopeValue * meanX
  let sse = 0
  for (let i = 0; i < c; i++) {
    const r = xs[i]! - intercept - slopeValue * i
    sse += r * r
  }
  const exact = sse <= syy * 1e-12
  const residualSd = exact ? 0 : Math.sqrt(sse / (c - 2))
  const standardError = residualSd / Math.sqrt(sxx)
  const tStatistic = exact
    ? slopeValue === 0
      ? 0
      : Math.sign(slopeValue) * Number.POSITIVE_INFINITY
    : slopeValue / standardError
  const pValue = exact ? (slopeValue === 0 ? 1 : 0) : studentTwoSidedP(tStatistic, c - 2)
  return { n: c, slope: slopeValue, intercept, standardError, tStatistic, pValue, residualSd }
}

/**
 * A copy of the state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = (state: State): State => ({
  ...state,
  buffer: Float64Array.from(state.buffer),
  spread: Spread.clone(state.spread)
})

/**
 * The linear-trend forecaster as a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecaster = (options?: Options): Forecast.Forecaster<State> => {
  make(options)
  return { name: "linear_trend", make: () => make(options), update, forecast }
}

/**
 * The linear-trend forecasts of a whole series: each one-step mean from a fresh two-pass fit over its window
 * (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const batch = (values: ArrayLike<number>, options?: Options, horizon = 1): Forecast.Batch => {
  const { window } = make(options)
  const o = Spread.fromOptions("LinearTrend", options)
  const xs = Array.from(check.series("LinearTrend", values))
  const n = xs.length
  const predict = (end: number, h: number): number => {
    const start = Math.max(0, end - window)
    const c = end - start
    if (c === 0) return Number.NaN
    if (c === 1) return xs[start]!
    const f = fit(xs.slice(start, end))
    return f.intercept + f.slope * (c - 1 + h)
  }
  const mean = new Float64Array(n)
  for (let i = 0; i < n; i++) mean[i] = predict(i, 1)
  const { path, half } = Spread.pathOf(xs, mean, o)
  const c = Math.min(n, window)
  const ahead = Array.from({ length: check.horizon("LinearTrend", horizon) }, (_, i) =>
    Forecast.make(i + 1, predict(n, i + 1), half * factors.linear(c, i + 1))
  )
  return { oneStep: path, ahead }
}
