/**
 * Accuracy of forecasts and detectors: MAE, MAPE, MASE (against the naive forecast), the coverage of
 * prediction intervals, and the precision, recall and F1 of alarms against known events. Pairs where the
 * forecast is missing (NaN) are left out, so a one-step path with its cold start can be scored as is.
 *
 * @example
 * ```ts
 * import { Accuracy, Ensemble, Forecast, Synthetic } from "@effect-dspy/analytics"
 *
 * const { values } = Synthetic.generate("trend_noise", { seed: 1, length: 1000 })
 * const path = Forecast.oneStep(Ensemble.forecaster(), values)
 * const mase = Accuracy.mase(values, path.mean) // about 0.75: better than the naive forecast
 * const coverage = Accuracy.coverage(values, path.lower, path.upper) // about 0.95
 * ```
 *
 * @since 0.1.0
 */

/**
 * The mean absolute error over the pairs with a forecast (NaN when there are none).
 *
 * @since 0.1.0
 * @category forecasts
 */
export const mae = (actual: ArrayLike<number>, predicted: ArrayLike<number>): number => {
  let sum = 0
  let n = 0
  for (let i = 0; i < Math.min(actual.length, predicted.length); i++) {
    const p = predicted[i]!
    if (Number.isNaN(p)) continue
    sum += Math.abs(actual[i]! - p)
    n++
  }
  return n === 0 ? Number.NaN : sum / n
}

/**
 * The mean absolute percentage error, in percent, over the pairs with a forecast and a non-zero actual.
 *
 * @since 0.1.0
 * @category forecasts
 */
export const mape = (actual: ArrayLike<number>, predicted: ArrayLike<number>): number => {
  let sum = 0
  let n = 0
  for (let i = 0; i < Math.min(actual.length, predicted.length); i++) {
    const p = predicted[i]!
    const a = actual[i]!
    if (Number.isNaN(p) || a === 0) continue
    sum += Math.abs((a - p) / a)
    n++
  }
  return n === 0 ? Number.NaN : (100 * sum) / n
}

/**
 * The mean absolute scaled error: the forecasts' MAE divided by the MAE of the naive forecast (the value
 * `seasonality` points earlier, default 1) over the same points. Below 1: better than naive.
 *
 * @since 0.1.0
 * @category forecasts
 */
export const mase = (actual: ArrayLike<number>, predicted: ArrayLike<number>, seasonality = 1): number => {
  let model = 0
  let naive = 0
  for (let i = seasonality; i < Math.min(actual.length, predicted.length); i++) {
    const p = predicted[i]!
    if (Number.isNaN(p)) continue
    model += Math.abs(actual[i]! - p)
    naive += Math.abs(actual[i]! - actual[i - seasonality]!)
  }
  return naive === 0 ? (model === 0 ? 0 : Number.POSITIVE_INFINITY) : model / naive
}

/**
 * The share of points inside their prediction interval, over the points with a finite interval.
 *
 * @since 0.1.0
 * @category forecasts
 */
export const coverage = (actual: ArrayLike<number>, lower: ArrayLike<number>, upper: ArrayLike<number>): number => {
  let inside = 0
  let n = 0
  for (let i = 0; i < Math.min(actual.length, lower.length, upper.length); i++) {
    const lo = lower[i]!
    const hi = upper[i]!
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) continue
    n++
    if (actual[i]! >= lo && actual[i]! <= hi) inside++
  }
  return n === 0 ? Number.NaN : inside / n
}

/**
 * How alarms match known events: an alarm is true when it falls within `within` points at or after an event
 * (default 20); an event is found when such an alarm exists; `delay` is the mean points from an event to its
 * first alarm.
 *
 * @since 0.1.0
 * @category models
 */
export interface DetectionScore {
  readonly precision: number
  readonly recall: number
  readonly f1: number
  readonly truePositives: number
  readonly falsePositives: number
  readonly missed: number
  readonly delay: number
}

/**
 * Scores alarm indices against event indices (precision 1 with no alarm, recall 1 with no event).
 *
 * @since 0.1.0
 * @category detectors
 */
export const detection = (
  alarms: ReadonlyArray<number>,
  events: ReadonlyArray<number>,
  within = 20
): DetectionScore => {
  const sortedEvents = [...events].sort((a, b) => a - b)
  const matched = (a: number) => sortedEvents.some((e) => a >= e && a <= e + within)
  const truePositives = alarms.filter(matched).length
  const falsePositives = alarms.length - truePositives
  let found = 0
  let delays = 0
  for (const e of sortedEvents) {
    const first = alarms.filter((a) => a >= e && a <= e + within).sort((a, b) => a - b)[0]
    if (first !== undefined) {
      found++
      delays += first - e
    }
  }
  const precision = alarms.length === 0 ? 1 : truePositives / alarms.length
  const recall = sortedEvents.length === 0 ? 1 : found / sortedEvents.length
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall)
  return {
    precision,
    recall,
    f1,
    truePositives,
    falsePositives,
    missed: sortedEvents.length - found,
    delay: found === 0 ? Number.NaN : delays / found
  }
}
