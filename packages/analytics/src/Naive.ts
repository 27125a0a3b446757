/**
 * The naive forecast: the next value is the last one. The baseline of the accuracy metrics (MASE) and the
 * ensemble's member for random walks. Its h-step interval widens as the square root of h.
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import * as Forecast from "./Forecast.js"
import * as check from "./internal/check.js"
import * as Spread from "./internal/spread.js"

/**
 * Options of the naive forecaster: only its intervals.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Forecast.IntervalOptions {}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly last: number
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
  last: Number.NaN,
  n: 0,
  skipped: 0,
  spread: Spread.make(Spread.fromOptions("Naive", options))
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
  if (s.n > 0) Spread.observe(s.spread, value, s.last)
  s.last = value
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
  const h = check.horizon("Naive", horizon)
  return Forecast.make(h, state.last, Spread.halfWidth(state.spread, Math.sqrt(h)))
}

/**
 * A copy of the state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = (state: State): State => ({ ...state, spread: Spread.clone(state.spread) })

/**
 * The naive forecaster as a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecaster = (options?: Options): Forecast.Forecaster<State> => {
  make(options)
  return { name: "naive", make: () => make(options), update, forecast }
}

/**
 * The naive forecasts of a whole series, computed from the array: the one-step path and the forecasts for
 * horizons 1..`horizon` after its last point (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const batch = (values: ArrayLike<number>, options?: Options, horizon = 1): Forecast.Batch => {
  const o = Spread.fromOptions("Naive", options)
  const xs = check.series("Naive", values)
  const n = xs.length
  const mean = new Float64Array(n).fill(Number.NaN)
  for (let i = 1; i < n; i++) mean[i] = xs[i - 1]!
  const { path, half } = Spread.pathOf(xs, mean, o)
  const last = n === 0 ? Number.NaN : xs[n - 1]!
  const ahead = Array.from({ length: check.horizon("Naive", horizon) }, (_, i) =>
    Forecast.make(i + 1, last, half * Math.sqrt(i + 1))
  )
  return { oneStep: path, ahead }
}
