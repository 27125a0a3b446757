/**
 * The forecasting and detection the alert rules (anomaly, rate of change, forecast crossing) and the reports use,
 * behind one small interface: `@effect-dspy/analytics` provides the implementation ({@link analytics}); a test
 * may give its own. Nothing here computes a forecast or a detection itself.
 *
 * @since 0.1.0
 */
import {
  type Detection,
  Ensemble,
  EwmaControl,
  Forecast,
  LinearTrend,
  PageHinkley,
  RobustZ
} from "@effect-dspy/analytics"
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

/** Runs a detector over the values and judges the last one. */
const judge = <S extends Detection.Signal>(d: Detection.Detector<S>, values: ReadonlyArray<number>): Verdict => {
  const state = d.make()
  for (const v of values) d.update(state, v)
  const last = values.length === 0 ? Number.NaN : values[values.length - 1]!
  return state.signal === 0
    ? { anomalous: false, detail: `${d.name}: no anomaly (score ${state.score.toFixed(2)} after ${state.n} intervals)` }
    : {
        anomalous: true,
        detail: `${d.name}: ${state.signal > 0 ? "above" : "below"} its limits (score ${state.score.toFixed(2)}, value ${last})`
      }
}

/**
 * The models of `@effect-dspy/analytics`: the slope of `LinearTrend`, its EWMA control limits, robust z-score
 * and Page-Hinkley detectors (with their warm-up), and the `Ensemble` forecaster (weighted by recent error, 95%
 * intervals from residuals).
 *
 * @since 0.1.0
 * @category constructors
 */
export const analytics = (options?: { readonly ensemble?: Ensemble.Options }): Models => ({
  slope: (values) => (values.length < 2 ? undefined : LinearTrend.fit(values).slope),
  detect: (detector, values) =>
    detector === "ewma"
      ? judge(EwmaControl.detector(), values)
      : detector === "page_hinkley"
        ? judge(PageHinkley.detector(), values)
        : judge(RobustZ.detector(), values),
  forecast: (values, steps) => {
    if (values.length === 0 || steps < 1) return []
    const state = Forecast.run(Ensemble.forecaster(options?.ensemble), values)
    const out: Array<ForecastStep> = []
    for (let h = 1; h <= steps; h++) {
      const f = Ensemble.forecast(state, h)
      out.push({ mean: f.mean, lower: f.lower, upper: f.upper })
    }
    return out
  }
})
