/**
 * The simple moving average: the forecast at every horizon is the mean of the last `window` points (a ring
 * buffer and a running sum, re-summed once per window so rounding does not drift).
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import * as Forecast from "./Forecast.js"
import * as check from "./internal/check.js"
import * as Spread from "./internal/spread.js"

/**
 * Options: the `window` (points, >= 1, default 20) and the intervals.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Forecast.IntervalOptions {
  readonly window?: number
}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly window: number
  /** The last `window` points, a ring; `count` of them filled, the oldest at `position` once full. */
  readonly buffer: Float64Array
  readonly position: number
  readonly count: number
  readonly sum: number
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
export const make = (options?: Options): State => {
  const window = check.integerAtLeast("Sma", "window", options?.window ?? 20, 1)
  return {
    window,
    buffer: new Float64Array(window),
    position: 0,
    count: 0,
    sum: 0,
    n: 0,
    skipped: 0,
    spread: Spread.make(Spread.fromOptions("Sma", options))
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
  if (s.count > 0) Spread.observe(s.spread, value, s.sum / s.count)
  const buffer = s.buffer
  if (s.count === s.window) s.sum -= buffer[s.position]!
  else s.count++
  buffer[s.position] = value
  s.sum += value
  s.position = s.position + 1 === s.window ? 0 : s.position + 1
  if (s.position === 0) {
    let sum = 0
    for (let i = 0; i < s.count; i++) sum += buffer[i]!
    s.sum = sum
  }
  s.n++
  return state
}

/**
 * The forecast `horizon` steps after the last point (the window mean; the interval does not widen with h).
 *
 * @since 0.1.0
 * @category streaming
 */
export const forecast = (state: State, horizon: number): Forecast.Forecast => {
  const h = check.horizon("Sma", horizon)
  return Forecast.make(h, state.count === 0 ? Number.NaN : state.sum / state.count, Spread.halfWidth(state.spread, 1))
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
 * The SMA forecaster as a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecaster = (options?: Options): Forecast.Forecaster<State> => {
  make(options)
  return { name: "sma", make: () => make(options), update, forecast }
}

/**
 * The SMA forecasts of a whole series, each mean summed afresh over its window (throws InvalidSeries on a
 * non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const batch = (values: ArrayLike<number>, options?: Options, horizon = 1): Forecast.Batch => {
  const { window } = make(options)
  const o = Spread.fromOptions("Sma", options)
  const xs = check.series("Sma", values)
  const n = xs.length
  const windowMean = (end: number): number => {
    const start = Math.max(0, end - window)
    let sum = 0
    for (let j = start; j < end; j++) sum += xs[j]!
    return end === 0 ? Number.NaN : sum / (end - start)
  }
  const mean = new Float64Array(n)
  for (let i = 0; i < n; i++) mean[i] = windowMean(i)
  const { path, half } = Spread.pathOf(xs, mean, o)
  const last = windowMean(n)
  const ahead = Array.from({ length: check.horizon("Sma", horizon) }, (_, i) => Forecast.make(i + 1, last, half))
  return { oneStep: path, ahead }
}
