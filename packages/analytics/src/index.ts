/**
 * @since 0.1.0
 */

/**
 * Accuracy of forecasts (MAE, MAPE, MASE, interval coverage) and of detectors (precision, recall, F1).
 *
 * @since 0.1.0
 */
export * as Accuracy from "./Accuracy.js"

/**
 * The errors of the analytics package.
 *
 * @since 0.1.0
 */
export * as AnalyticsError from "./AnalyticsError.js"

/**
 * Spikes (robust z-score) and level shifts (CUSUM) together.
 *
 * @since 0.1.0
 */
export * as Anomaly from "./Anomaly.js"

/**
 * The two-sided CUSUM change-point test.
 *
 * @since 0.1.0
 */
export * as Cusum from "./Cusum.js"

/**
 * What the detectors share: alarms, signals, the detector contract.
 *
 * @since 0.1.0
 */
export * as Detection from "./Detection.js"

/**
 * The ensemble of forecasters weighted by recent error.
 *
 * @since 0.1.0
 */
export * as Ensemble from "./Ensemble.js"

/**
 * The exponentially weighted moving average (simple exponential smoothing).
 *
 * @since 0.1.0
 */
export * as Ewma from "./Ewma.js"

/**
 * The EWMA control chart.
 *
 * @since 0.1.0
 */
export * as EwmaControl from "./EwmaControl.js"

/**
 * What the forecasters share: forecasts with intervals, the streaming contract, batch helpers.
 *
 * @since 0.1.0
 */
export * as Forecast from "./Forecast.js"

/**
 * Holt's linear (double) exponential smoothing.
 *
 * @since 0.1.0
 */
export * as Holt from "./Holt.js"

/**
 * Additive Holt-Winters (triple exponential smoothing) with a daily season.
 *
 * @since 0.1.0
 */
export * as HoltWinters from "./HoltWinters.js"

/**
 * A least-squares trend over a window, with the significance of its slope.
 *
 * @since 0.1.0
 */
export * as LinearTrend from "./LinearTrend.js"

/**
 * The naive forecast (the last value).
 *
 * @since 0.1.0
 */
export * as Naive from "./Naive.js"

/**
 * The Page-Hinkley change-point test.
 *
 * @since 0.1.0
 */
export * as PageHinkley from "./PageHinkley.js"

/**
 * The robust z-score (median and MAD over a window) for spikes.
 *
 * @since 0.1.0
 */
export * as RobustZ from "./RobustZ.js"

/**
 * The simple moving average.
 *
 * @since 0.1.0
 */
export * as Sma from "./Sma.js"

/**
 * The seeded synthetic suite and its targets per family.
 *
 * @since 0.1.0
 */
export * as Synthetic from "./Synthetic.js"
