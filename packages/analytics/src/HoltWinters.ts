/**
 * Additive Holt-Winters (triple exponential smoothing): a level, a trend and `seasonLength` seasonal offsets
 * (e.g. 24 for hourly points with a daily season, 1440 for minutes), smoothed by `alpha`, `beta`, `gamma`.
 * The first season initialises the state (level = its mean, offsets = each point minus it, trend = 0); until
 * then the forecast is the running mean and no residual is recorded.
 *
 * @example
 * ```ts
 * import { HoltWinters } from "@effect-dspy/analytics"
 *
 * const state = HoltWinters.make({ seasonLength: 24 })
 * for (let i = 0; i < 24 * 7; i++) HoltWinters.update(state, 50 + 10 * Math.sin((2 * Math.PI * i) / 24))
 * const nextHour = HoltWinters.forecast(state, 1).mean // close to 50 (the season restarts)
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
 * Options: `seasonLength` (points per season, >= 2, required), `alpha` (level, default 0.2), `beta` (trend,
 * default 0.02), `gamma` (season, default 0.15), each in (0, 1], and the intervals.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Forecast.IntervalOptions {
  readonly seasonLength: number
  readonly alpha?: number
  readonly beta?: number
  readonly gamma?: number
}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly seasonLength: number
  readonly alpha: number
  readonly beta: number
  readonly gamma: number
  readonly level: number
  readonly trend: number
  /** The seasonal offsets, indexed by point index modulo `seasonLength`. */
  readonly season: Float64Array
  readonly n: number
  readonly skipped: number
  /** @internal */
  readonly sum: number
  /** @internal */
  readonly spread: Spread.Spread
}

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): State => {
  const m = check.integerAtLeast("HoltWinters", "seasonLength", options.seasonLength, 2)
  return {
    seasonLength: m,
    alpha: check.unitInterval("HoltWinters", "alpha", options.alpha ?? 0.2),
    beta: check.unitInterval("HoltWinters", "beta", options.beta ?? 0.02),
    gamma: check.unitInterval("HoltWinters", "gamma", options.gamma ?? 0.15),
    level: Number.NaN,
    trend: 0,
    season: new Float64Array(m),
    n: 0,
    skipped: 0,
    sum: 0,
    spread: Spread.make(Spread.fromOptions("HoltWinters", options))
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
  const m = s.seasonLength
  const season = s.season
  if (s.n < m) {
    season[s.n] = value
    s.sum += value
    s.level = s.sum / (s.n + 1)
    if (s.n === m - 1) for (let i = 0; i < m; i++) season[i] = season[i]! - s.level
  } else {
    const slot = s.n % m
    const offset = season[slot]!
    const base = s.level + s.trend
    const e = value - base - offset
    Spread.observe(s.spread, value, base + offset)
    const level = base + s.alpha * e
    s.trend += s.beta * (level - s.level - s.trend)
    season[slot] = offset + s.gamma * (value - level - offset)
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
  const h = check.horizon("HoltWinters", horizon)
  const m = state.seasonLength
  const mean = state.n < m ? state.level : state.level + h * state.trend + state.season[(state.n - 1 + h) % m]!
  return Forecast.make(
    h,
    mean,
    Spread.halfWidth(state.spread, factors.holtWinters(state.alpha, state.beta, state.gamma, m, h))
  )
}

/**
 * A copy of the state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = (state: State): State => ({
  ...state,
  season: Float64Array.from(state.season),
  spread: Spread.clone(state.spread)
})

/**
 * The Holt-Winters forecaster as a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecaster = (options: Options): Forecast.Forecaster<State> => {
  make(options)
  return { name: "holt_winters", make: () => make(options), update, forecast }
}

/**
 * The Holt-Winters forecasts of a whole series, from the textbook recursions over arrays (level, trend and
 * seasonal index series, s[t] = gamma·(x[t] - level[t]) + (1-gamma)·s[t-m]); throws InvalidSeries on a
 * non-finite value.
 *
 * @since 0.1.0
 * @category batch
 */
export const batch = (values: ArrayLike<number>, options: Options, horizon = 1): Forecast.Batch => {
  const { alpha, beta, gamma, seasonLength: m } = make(options)
  const o = Spread.fromOptions("HoltWinters", options)
  const xs = check.series("HoltWinters", values)
  const n = xs.length
  const mean = new Float64Array(n).fill(Number.NaN)
  const levels = new Float64Array(n)
  const trends = new Float64Array(n)
  const seasons = new Float64Array(n)
  let prefix = 0
  for (let t = 0; t < Math.min(n, m); t++) {
    if (t > 0) mean[t] = prefix / t
    prefix += xs[t]!
    levels[t] = prefix / (t + 1)
  }
  if (n >= m) for (let t = 0; t < m; t++) seasons[t] = xs[t]! - levels[m - 1]!
  for (let t = m; t < n; t++) {
    const x = xs[t]!
    mean[t] = levels[t - 1]! + trends[t - 1]! + seasons[t - m]!
    levels[t] = alpha * (x - seasons[t - m]!) + (1 - alpha) * (levels[t - 1]! + trends[t - 1]!)
    trends[t] = beta * (levels[t]! - levels[t - 1]!) + (1 - beta) * trends[t - 1]!
    seasons[t] = gamma * (x - levels[t]!) + (1 - gamma) * seasons[t - m]!
  }
  const errorsMean = mean.map((v, t) => (t < m ? Number.NaN : v))
  const { path, half } = Spread.pathOf(xs, errorsMean, o)
  for (let t = 1; t < Math.min(n, m); t++) {
    path.mean[t] = mean[t]!
    path.lower[t] = Number.NEGATIVE_INFINITY
    path.upper[t] = Number.POSITIVE_INFINITY
  }
  const ahead = Array.from({ length: check.horizon("HoltWinters", horizon) }, (_, i) => {
    const h = i + 1
    const f =
      n === 0
        ? Number.NaN
        : n < m
          ? levels[n - 1]!
          : levels[n - 1]! + h * trends[n - 1]! + seasons[n - m + ((h - 1) % m)]!
    return Forecast.make(h, f, half * factors.holtWinters(alpha, beta, gamma, m, h))
  })
  return { oneStep: path, ahead }
}
