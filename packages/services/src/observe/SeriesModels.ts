/**
 * The forecasting and detection the alert rules (anomaly, rate of change, forecast crossing) and the reports use,
 * behind one small interface: `@effect-dspy/analytics` provides the implementation ({@link analytics}); a test
 * may give its own. Nothing here computes a forecast or a detection itself.
 *
 * @since 0.1.0
 */
import type * as AlertRule from "./AlertRule.js"

/**
 * One forecast step: the point forecast and its prediction interval.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForecastStep {
  readonly mean: number
  readonly lower: number
  readonly upper: number
}

/**
 * What a detector says about the newest value of a sequence.
 *
 * @since 0.1.0
 * @category models
 */
export interface Verdict {
  readonly anomalous: boolean
  /** The detector's statistic and why, in words (for the alert's message). */
  readonly detail: string
}

/**
 * The models.
 *
 * @since 0.1.0
 * @category models
 */
export interface Models {
  /** The least-squares slope of equally spaced values, per step (undefined with fewer than 2). */
  readonly slope: (values: ReadonlyArray<number>) => number | undefined
  /** Runs the detector over the values in order and judges the last one (warm-up rules apply). */
  readonly detect: (detector: AlertRule.Detector, values: ReadonlyArray<number>) => Verdict
  /** The next `steps` values of an equally spaced series, with 95% prediction intervals. */
  readonly forecast: (values: ReadonlyArray<number>, steps: number) => ReadonlyArray<ForecastStep>
}
