/**
 * What every forecaster shares: a forecast with its prediction interval, the interval options, the streaming
 * contract (`make`, `update`, `forecast`) and the batch helpers that run a forecaster over a whole series.
 *
 * Streaming states are small mutable records (plain numbers and typed arrays) owned by the caller: `update`
 * folds a point in place and returns the same state, in O(1) time and without allocating, so a metric series
 * can be followed at millions of points per second. `clone` copies a state for a snapshot. A non-finite point
 * is not folded in; it is counted in the state's `skipped`.
 *
 * @example
 * ```ts
 * import { Forecast, Holt } from "@effect-dspy/analytics"
 *
 * const state = Holt.make({ alpha: 0.5, beta: 0.1 })
 * for (const x of [10, 12, 14, 16, 18, 20, 22, 24, 26, 28]) Holt.update(state, x)
 * const next: Forecast.Forecast = Holt.forecast(state, 1) // mean close to 30
 * ```
 *
 * @since 0.1.0
 */

/**
 * A point forecast `horizon` steps after the last point, with its prediction interval `[lower, upper]` at the
 * forecaster's confidence. Before enough residuals are seen (8 by default) the interval is infinite.
 *
 * @since 0.1.0
 * @category models
 */
export interface Forecast {
  readonly horizon: number
  readonly mean: number
  readonly lower: number
  readonly upper: number
}

/**
 * Options of the prediction intervals, shared by every forecaster.
 *
 * @since 0.1.0
 * @category models
 */
export interface IntervalOptions {
  /** Nominal coverage of the intervals, in (0, 1); default 0.95. */
  readonly confidence?: number
  /** Weight of a new squared one-step error in the residual scale, in (0, 1]; default 0.02 (about 50 points). */
  readonly residualDecay?: number
  /** Step of the adaptive interval multiplier (log space), in [0, 1]; 0 keeps the normal quantile. Default 0.02. */
  readonly adapt?: number
}

/**
 * A forecaster as a value: how to make a state, fold a point, and forecast. Every model module has a
 * `forecaster(options)` returning one, so generic code (the batch helpers, benchmarks) runs any of them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Forecaster<S> {
  readonly name: string
  readonly make: () => S
  readonly update: (state: S, value: number) => S
  readonly forecast: (state: S, horizon: number) => Forecast
}

/**
 * One-step-ahead forecasts over a series: `mean[i]`, `lower[i]`, `upper[i]` forecast `values[i]` from the
 * points before it (NaN where no forecast exists yet, e.g. at index 0).
 *
 * @since 0.1.0
 * @category models
 */
export interface Path {
  readonly mean: Float64Array
  readonly lower: Float64Array
  readonly upper: Float64Array
}

/**
 * The result of a batch run: the one-step-ahead path over the series and the forecasts for horizons
 * 1..`horizon` after its last point.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  readonly oneStep: Path
  readonly ahead: ReadonlyArray<Forecast>
}

/**
 * Folds every value of a series into a fresh state of the forecaster.
 *
 * @since 0.1.0
 * @category batch
 */
export const run = <S>(forecaster: Forecaster<S>, values: ArrayLike<number>): S => {
  const state = forecaster.make()
  for (let i = 0; i < values.length; i++) forecaster.update(state, values[i]!)
  return state
}

/**
 * The one-step-ahead path of a forecaster streamed over a series (forecast, then update, point by point).
 *
 * @since 0.1.0
 * @category batch
 */
export const oneStep = <S>(forecaster: Forecaster<S>, values: ArrayLike<number>): Path => {
  const n = values.length
  const mean = new Float64Array(n)
  const lower = new Float64Array(n)
  const upper = new Float64Array(n)
  const state = forecaster.make()
  for (let i = 0; i < n; i++) {
    const f = forecaster.forecast(state, 1)
    mean[i] = f.mean
    lower[i] = f.lower
    upper[i] = f.upper
    forecaster.update(state, values[i]!)
  }
  return { mean, lower, upper }
}

/**
 * A forecast of `mean` with half width `half` (Infinity before the interval exists, NaN when there is no mean).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (horizon: number, mean: number, half: number): Forecast =>
  Number.isNaN(mean)
    ? { horizon, mean, lower: Number.NaN, upper: Number.NaN }
    : { horizon, mean, lower: mean - half, upper: mean + half }

/**
 * Options of `crossing`: the `threshold`, the `direction` of the crossing (`"above"`: the first horizon where
 * the forecast rises to or over it; `"below"`: falls to or under it), which part of the forecast counts
 * (`"mean"`, or a bound of the interval: `"upper"` for an early warning of a rise, `"lower"` of a fall), the
 * longest horizon searched, and `cumulative`: compare the running sum of the forecasts from `start` (a budget
 * spent per interval: "the daily budget runs out at this rate in h intervals").
 *
 * @since 0.1.0
 * @category models
 */
export interface CrossingOptions {
  readonly threshold: number
  readonly direction: "above" | "below"
  readonly maxHorizon: number
  readonly bound?: "mean" | "lower" | "upper"
  readonly cumulative?: boolean
  readonly start?: number
}

/**
 * The first horizon (1..`maxHorizon`) at which a forecaster's forecast crosses a threshold, with that forecast,
 * or undefined when it does not within `maxHorizon`. Cumulative: the sums of the means (and of the bounds) from
 * horizon 1, plus `start`.
 *
 * @example
 * ```ts
 * import { Forecast, Holt } from "@effect-dspy/analytics"
 *
 * // Queue length rising by about 2 a minute; when does it pass 100?
 * const queue = Holt.forecaster({ alpha: 0.5, beta: 0.2 })
 * const state = Forecast.run(queue, [10, 12, 14, 16, 18, 20, 22, 24, 26, 28])
 * const hit = Forecast.crossing(queue, state, { threshold: 100, direction: "above", maxHorizon: 120 })
 * // hit?.horizon === 36 (28 + 2·36 = 100)
 * ```
 *
 * @since 0.1.0
 * @category forecasts
 */
export const crossing = <S>(
  forecaster: Forecaster<S>,
  state: S,
  options: CrossingOptions
): { readonly horizon: number; readonly forecast: Forecast; readonly value: number } | undefined => {
  const bound = options.bound ?? "mean"
  let sum = options.start ?? 0
  let lowerSum = sum
  let upperSum = sum
  for (let h = 1; h <= options.maxHorizon; h++) {
    const f = forecaster.forecast(state, h)
    if (Number.isNaN(f.mean)) return undefined
    let value: number
    if (options.cumulative === true) {
      sum += f.mean
      lowerSum += f.lower
      upperSum += f.upper
      value = bound === "mean" ? sum : bound === "lower" ? lowerSum : upperSum
    } else value = f[bound]
    if (options.direction === "above" ? value >= options.threshold : value <= options.threshold) {
      return { horizon: h, forecast: f, value }
    }
  }
  return undefined
}
