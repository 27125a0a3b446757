/**
 * What a recorded value is about: a metric name (`module.latency_ms`, `lm.cost_usd`, `process.heap_mb`, ...) and
 * the dimensions the application knows it by (module, version, provider, optimization job). A selector picks the
 * series of a metric whose given dimensions match.
 *
 * @since 0.1.0
 */

/**
 * The dimensions a series may carry (absent: not about one).
 *
 * @since 0.1.0
 * @category models
 */
export interface Dimensions {
  readonly module?: string | undefined
  readonly version?: string | undefined
  readonly provider?: string | undefined
  readonly job?: string | undefined
}

/**
 * One series: a metric and its dimensions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Series extends Dimensions {
  readonly metric: string
}

/**
 * A selection of series: a metric and the dimensions that must match (others are free).
 *
 * @since 0.1.0
 * @category models
 */
export type Selector = Series

/**
 * The dimension names, in key order.
 *
 * @since 0.1.0
 * @category constants
 */
export const dimensions = ["module", "version", "provider", "job"] as const

/**
 * The series' key: the metric then each dimension (`""` when absent), joined by `|` (a `|` inside a value is
 * escaped), so two series have one key exactly when they are equal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const key = (series: Series): string => {
  const part = (s: string | undefined) => (s === undefined ? "" : s.replaceAll("\\", "\\\\").replaceAll("|", "\\|"))
  return `${part(series.metric)}|${part(series.module)}|${part(series.version)}|${part(series.provider)}|${part(series.job)}`
}

/**
 * Whether a series is one the selector picks.
 *
 * @since 0.1.0
 * @category predicates
 */
export const matches = (selector: Selector, series: Series): boolean =>
  selector.metric === series.metric && dimensions.every((d) => selector[d] === undefined || selector[d] === series[d])

/**
 * The series as text for messages: `module.latency_ms{module=qa, version=2}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const format = (series: Series): string => {
  const dims = dimensions.flatMap((d) => (series[d] === undefined ? [] : [`${d}=${series[d]}`]))
  return dims.length === 0 ? series.metric : `${series.metric}{${dims.join(", ")}}`
}

/**
 * The series with only its defined dimensions (what is stored and compared).
 *
 * @since 0.1.0
 * @category constructors
 */
export const normalize = (series: Series): Series => {
  const out: { -readonly [K in keyof Series]: Series[K] } = { metric: series.metric }
  for (const d of dimensions) if (series[d] !== undefined && series[d] !== "") out[d] = series[d]
  return out
}
