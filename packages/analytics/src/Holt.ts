/**
 * Holt's linear (double) exponential smoothing: a level and a trend, each smoothed (`alpha`, `beta`); the
 * forecast h steps ahead is level + h·trend. The first point sets the level, the second the trend.
 *
 * @example
 * ```ts
 * import { Holt } from "@effect-dspy/analytics"
 *
 * const state = Holt.make({ alpha: 0.5, beta: 0.1 })
 * for (let i = 0; i < 50; i++) Holt.update(state, 100 + 2 * i)
 * const { mean, lower, upper } = Holt.forecast(state, 5) // mean 208, a finite 95% interval around it
 * ```
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import * as Forecast from "./Forecast.js"
import * as check from "./internal/check.js"
import * as factors from "./internal/factors.js"
import * as Spread from "./internal/spread.js"

/**
 * Options: `alpha` (level, default 0.3) and `beta` (trend, default 0.05), each in (0, 1], and the intervals.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Forecast.IntervalOptions {
  readonly alpha?: number
  readonly beta?: number
}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly alpha: number
  readonly beta: number
  readonly level: number
  readonly trend: number
  readonly n: number
  readonly skipped: number
  /** @internal */
  readonly spread: Spread.Spread
}

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => ({
  alpha: check.unitInterval("Holt", "alpha", options?.alpha ?? 0.3),
  beta: check.unitInterval("Holt", "beta", options?.beta ?? 0.05),
  level: Number.NaN,
  trend: 0,
  n: 0,
  skipped: 0,
  spread: Spread.make(Spread.fromOptions("Holt", options))
})

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
  if (s.n === 0) s.level = value
  else if (s.n === 1) {
    Spread.observe(s.spread, value, s.level)
    s.trend = value - s.level
    s.level = value
  } else {
    const f = s.level + s.trend
    const e = value - f
    Spread.observe(s.spread, value, f)
    const level = f + s.alpha * e
    s.trend += s.beta * (level - s.level - s.trend)
    s.level = level
  }
  s.n++
  return state
}

/**
 * The forecast `horizon` steps after the last point.
 *
 * @since 0.1.0
 * @category streaming
 */
export const forecast = (state: State, horizon: number): Forecast.Forecast => {
  const h = check.horizon("Holt", horizon)
  return Forecast.make(
    h,
    state.level + h * state.trend,
    Spread.halfWidth(state.spread, factors.holt(state.alpha, state.beta, h))
  )
}

/**
 * A copy of the state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = (state: State): State => ({ ...state, spread: Spread.clone(state.spread) })

/**
 * Holt's forecaster as a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecaster = (options?: Options): Forecast.Forecaster<State> => {
  make(options)
  return { name: "holt", make: () => make(options), update, forecast }
}

/**
 * Holt's forecasts of a whole series, from the textbook recursions over arrays of levels and trends
 * (level[t] = alpha·x[t] + (1-alpha)·(level[t-1] + trend[t-1]); trend[t] = beta·(level[t] - level[t-1]) +
 * (1-beta)·trend[t-1]); throws InvalidSeries on a non-finite value.
 *
 * @since 0.1.0
 * @category batch
 */
export const batch = (values: ArrayLike<number>, options?: Options, horizon = 1): Forecast.Batch => {
  const { alpha, beta } = make(options)
  const o = Spread.fromOptions("Holt", options)
  const xs = check.series("Holt", values)
  const n = xs.length
  const levels = new Float64Array(n)
  const trends = new Float64Array(n)
  const mean = new Float64Array(n).fill(Number.NaN)
  for (let t = 0; t < n; t++) {
    const x = xs[t]!
    if (t === 0) {
      levels[0] = x
      trends[0] = 0
    } else if (t === 1) {
      mean[1] = levels[0]!
      levels[1] = x
      trends[1] = x - levels[0]!
    } else {
      mean[t] = levels[t - 1]! + trends[t - 1]!
      levels[t] = alpha * x + (1 - alpha) * (levels[t - 1]! + trends[t - 1]!)
      trends[t] = beta * (levels[t]! - levels[t - 1]!) + (1 - beta) * trends[t - 1]!
    }
  }
  const { path, half } = Spread.pathOf(xs, mean, o)
  const level = n === 0 ? Number.NaN : levels[n - 1]!
  const trend = n === 0 ? 0 : trends[n - 1]!
  const ahead = Array.from({ length: check.horizon("Holt", horizon) }, (_, i) =>
    Forecast.make(i + 1, level + (i + 1) * trend, half * factors.holt(alpha, beta, i + 1))
  )
  return { oneStep: path, ahead }
}
