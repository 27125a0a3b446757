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
export const Probe = Schema.Struct({ status: Schema.Literal("ok", "unavailable") })

/**
 * The probe's failure (503): the server is draining or the application is not ready.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { status: Schema.Literal("unavailable"), reason: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/**
 * The public probes.
 *
 * @since 0.1.0
 * @category groups
 */
export class ProbesApi extends HttpApiGroup.make("probes")
  .add(HttpApiEndpoint.get("live", "/health/live").addSuccess(Probe))
  .add(HttpApiEndpoint.get("ready", "/health/ready").addSuccess(Probe).addError(NotReady)) {}
