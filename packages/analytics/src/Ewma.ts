/**
 * The exponentially weighted moving average (simple exponential smoothing): the level moves toward each point
 * by `alpha` of the error, and the forecast is the level at every horizon. Its h-step interval widens by
 * sqrt(1 + (h - 1)·alpha²), the factor of the local-level model.
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import * as Forecast from "./Forecast.js"
import * as check from "./internal/check.js"
import * as factors from "./internal/factors.js"
import * as Spread from "./internal/spread.js"

/**
 * Options: the smoothing factor `alpha` in (0, 1] (default 0.3; 1 is the naive forecast) and the intervals.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Forecast.IntervalOptions {
  readonly alpha?: number
}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly alpha: number
  readonly level: number
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
  alpha: check.unitInterval("Ewma", "alpha", options?.alpha ?? 0.3),
  level: Number.NaN,
  n: 0,
  skipped: 0,
  spread: Spread.make(Spread.fromOptions("Ewma", options))
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
  else {
    const e = value - s.level
    Spread.observe(s.spread, value, s.level)
    s.level += s.alpha * e
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
  const h = check.horizon("Ewma", horizon)
  return Forecast.make(h, state.level, Spread.halfWidth(state.spread, factors.ewma(state.alpha, h)))
}

/**
 * A copy of the state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = (state: State): State => ({ ...state, spread: Spread.clone(state.spread) })

/**
 * The EWMA forecaster as a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecaster = (options?: Options): Forecast.Forecaster<State> => {
  make(options)
  return { name: "ewma", make: () => make(options), update, forecast }
}

/**
 * The EWMA forecasts of a whole series, from the closed form: the level after point i is the weighted sum
 * (1-alpha)^i·x0 + sum over j of alpha·(1-alpha)^(i-j)·xj (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const batch = (values: ArrayLike<number>, options?: Options, horizon = 1): Forecast.Batch => {
  const alpha = make(options).alpha
  const o = Spread.fromOptions("Ewma", options)
  const xs = check.series("Ewma", values)
  const n = xs.length
  const mean = new Float64Array(n).fill(Number.NaN)
  // Horner form of the closed-form weighted sum, accumulated as a discounted sum and its weight.
  let weighted = 0
  let weight = 0
  for (let i = 1; i <= n; i++) {
    const x = xs[i - 1]!
    weighted = (1 - alpha) * weighted + (i === 1 ? x : alpha * x)
    weight = (1 - alpha) * weight + (i === 1 ? 1 : alpha)
    if (i < n) mean[i] = weighted / weight
  }
  const level = n === 0 ? Number.NaN : weighted / weight
  const { path, half } = Spread.pathOf(xs, mean, o)
  const ahead = Array.from({ length: check.horizon("Ewma", horizon) }, (_, i) =>
    Forecast.make(i + 1, level, half * factors.ewma(alpha, i + 1))
  )
  return { oneStep: path, ahead }
}
