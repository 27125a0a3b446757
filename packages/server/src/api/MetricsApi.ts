/**
 * The metric history: rollups of a series selector over a time range, the series recorded, and forecasts of a
 * series' statistic with intervals (see `docs/observability.md`). All need the `read` scope.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"

const Dimension = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))

/**
 * A series: a metric and its dimensions.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Series = Schema.Struct({
  metric: Schema.String,
  module: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String),
  provider: Schema.optional(Schema.String),
  job: Schema.optional(Schema.String)
})

/**
 * A series selector in a query string: the metric, and the dimensions to match (an absent one matches any).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Selector = Schema.Struct({
  metric: Dimension,
  module: Schema.optional(Dimension),
  version: Schema.optional(Dimension),
  provider: Schema.optional(Dimension),
  job: Schema.optional(Dimension)
})

/**
 * A history query: a selector, the range `[from, to)` in epoch milliseconds and an optional bucket width.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HistoryQuery = Schema.Struct({
  ...Selector.fields,
  from: Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()),
  to: Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()),
  bucketMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.positive()))
})

/**
 * One rollup of a series over an interval.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Point = Schema.Struct({
  series: Series,
  start: Schema.Number,
  intervalMs: Schema.Number,
  count: Schema.Number,
  sum: Schema.Number,
  min: Schema.Number,
  max: Schema.Number,
  mean: Schema.Number,
  p50: Schema.Number,
  p95: Schema.Number,
  p99: Schema.Number
})

/**
 * The statistics a forecast (or an alert rule) reads of each interval.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Statistic = Schema.Literal("mean", "p50", "p95", "p99", "min", "max", "sum", "count", "per_second")

/**
 * A forecast query: a selector, the statistic, the history to learn from and the horizon (milliseconds).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ForecastQuery = Schema.Struct({
  ...Selector.fields,
  statistic: Schema.optional(Statistic),
  windowMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1_000, 30 * 86_400_000))),
  horizonMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1_000, 7 * 86_400_000)))
})

/**
 * A forecast of one series: the predicted statistic per interval with its lower and upper bounds (`null` where
 * the history is too short to bound it).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Forecast = Schema.Struct({
  series: Series,
  statistic: Statistic,
  intervalMs: Schema.Number,
  history: Schema.Number,
  points: Schema.Array(
    Schema.Struct({
      at: Schema.Number,
      mean: Schema.NullOr(Schema.Number),
      lower: Schema.NullOr(Schema.Number),
      upper: Schema.NullOr(Schema.Number)
    })
  )
})

/**
 * The metrics group.
 *
 * @since 0.1.0
 * @category groups
 */
export class MetricsApi extends HttpApiGroup.make("history")
  .add(HttpApiEndpoint.get("series", "/metrics/series").addSuccess(Schema.Array(Series)))
  .add(HttpApiEndpoint.get("query", "/metrics/history").setUrlParams(HistoryQuery).addSuccess(Schema.Array(Point)))
  .add(
    HttpApiEndpoint.get("forecast", "/metrics/forecast").setUrlParams(ForecastQuery).addSuccess(Schema.Array(Forecast))
  )
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
