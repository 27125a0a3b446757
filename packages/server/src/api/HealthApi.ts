/**
 * Health: liveness and readiness probes (no credential needed; they say nothing but up or not), and the
 * detailed health (the `read` scope).
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"

/**
 * A probe's answer.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Probe = Schema.Struct({
  status: Schema.Literal("ok", "unavailable"),
  /** The application's readiness (`starting`, `healthy`, `degraded`, `unhealthy`; see `Application.health`). */
  readiness: Schema.optional(Schema.String),
  /** Why it is degraded or not ready (empty when healthy). */
  reasons: Schema.optional(Schema.Array(Schema.String))
})

/**
 * The probe's failure (503): the server is draining or the application is not ready.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  {
    status: Schema.Literal("unavailable"),
    reason: Schema.String,
    readiness: Schema.optional(Schema.String),
    reasons: Schema.optional(Schema.Array(Schema.String))
  },
  HttpApiSchema.annotations({ status: 503 })
) {}

/**
 * The public probes.
 *
 * @since 0.1.0
 * @category groups
 */
export class ProbesApi extends HttpApiGroup.make("probes")
  .add(HttpApiEndpoint.get("live", "/health/live").addSuccess(Probe).addError(NotReady))
  .add(HttpApiEndpoint.get("ready", "/health/ready").addSuccess(Probe).addError(NotReady)) {}
