/**
 * The errors of the analytics package: an option out of its range (a smoothing factor outside (0, 1], a window
 * below 1, a confidence outside (0, 1)). Thrown by the constructors (`make`, `batch`), which are plain functions.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * An option of a forecaster or detector is out of range; `message` names the option, its value and the range.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  readonly module: string
  readonly option: string
  readonly value: unknown
  readonly message: string
}> {}

/**
 * A batch function was given a series with a value that is not a finite number (`index` says where). The
 * streaming `update` skips such a point and counts it in the state's `skipped` instead.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSeries extends Data.TaggedError("InvalidSeries")<{
  readonly module: string
  readonly index: number
  readonly value: unknown
  readonly message: string
}> {}

/**
 * Every error of the analytics package.
 *
 * @since 0.1.0
 * @category errors
 */
export type AnalyticsError = InvalidOptions | InvalidSeries

/**
 * Whether a value is an error of the analytics package.
 *
 * @since 0.1.0
 * @category guards
 */
export const isAnalyticsError = (u: unknown): u is AnalyticsError =>
  u instanceof InvalidOptions || u instanceof InvalidSeries
