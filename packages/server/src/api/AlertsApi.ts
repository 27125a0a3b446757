/**
 * Alerts: the firing ones, the recent transitions, the rules, and a tail of transitions over SSE (see
 * `docs/observability.md`). All need the `read` scope.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"
import { Series, Statistic } from "./MetricsApi.js"
import { EventStream } from "./ModulesApi.js"

/**
 * An alert: a rule's state for one series (`firing` until it resolves).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Alert = Schema.Struct({
  id: Schema.String,
  rule: Schema.String,
  severity: Schema.Literal("info", "warning", "critical"),
  series: Series,
  status: Schema.Literal("firing", "resolved"),
  value: Schema.Number,
  message: Schema.String,
  pendingSince: Schema.Number,
  firedAt: Schema.Number,
  resolvedAt: Schema.NullOr(Schema.Number)
})

/**
 * An alert rule: what it watches and when it fires.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Rule = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  severity: Schema.Literal("info", "warning", "critical"),
  selector: Series,
  statistic: Statistic,
  windowMs: Schema.Number,
  condition: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  forMs: Schema.Number,
  cooldownMs: Schema.Number,
  minCount: Schema.Number
})

/**
 * The alerts group.
 *
 * @since 0.1.0
 * @category groups
 */
export class AlertsApi extends HttpApiGroup.make("alerts")
  .add(HttpApiEndpoint.get("active", "/alerts").addSuccess(Schema.Array(Alert)))
  .add(HttpApiEndpoint.get("recent", "/alerts/recent").addSuccess(Schema.Array(Alert)))
  .add(HttpApiEndpoint.get("rules", "/alerts/rules").addSuccess(Schema.Array(Rule)))
  .add(
    HttpApiEndpoint.get("tail", "/alerts/stream")
      .setUrlParams(
        Schema.Struct({
          intervalMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(100, 60_000)))
        })
      )
      .addSuccess(EventStream)
  )
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
