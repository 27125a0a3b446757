/**
 * The running system: the supervision tree, the LM providers and their breakers, a status snapshot, the events
 * (query, and tail over SSE), the detailed health and Prometheus-format metrics. All need the `read` scope.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"
import { EventStream } from "./ModulesApi.js"

/**
 * A supervision tree node.
 *
 * @since 0.1.0
 * @category schemas
 */
export interface Tree {
  readonly id: string
  readonly kind: string
  readonly pid: string | null
  readonly status: string
  readonly restarts: number
  readonly children: ReadonlyArray<Tree>
}

/**
 * A supervision tree node.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Tree: Schema.Schema<Tree> = Schema.Struct({
  id: Schema.String,
  kind: Schema.String,
  pid: Schema.NullOr(Schema.String),
  status: Schema.String,
  restarts: Schema.Number,
  children: Schema.Array(Schema.suspend((): Schema.Schema<Tree> => Tree))
}).annotations({ identifier: "Tree" })

/**
 * An LM provider: its circuit, traffic and spend.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Provider = Schema.Struct({
  name: Schema.String,
  kind: Schema.String,
  backup: Schema.optional(Schema.String),
  circuit: Schema.Literal("closed", "open", "half-open"),
  failedOver: Schema.Boolean,
  generation: Schema.Number,
  calls: Schema.Number,
  failures: Schema.Number,
  failovers: Schema.Number,
  recoveries: Schema.Number,
  promptTokens: Schema.Number,
  completionTokens: Schema.Number,
  costUsd: Schema.Number
})

/**
 * An event of the application's event store.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Event = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  timestamp: Schema.Number,
  correlationId: Schema.optional(Schema.String),
  parentId: Schema.optional(Schema.String),
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/**
 * A query of the event store (types comma-separated).
 *
 * @since 0.1.0
 * @category schemas
 */
export const EventQuery = Schema.Struct({
  types: Schema.optional(Schema.String.pipe(Schema.maxLength(4096))),
  correlationId: Schema.optional(Schema.String.pipe(Schema.maxLength(256))),
  from: Schema.optional(Schema.NumberFromString),
  to: Schema.optional(Schema.NumberFromString),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 10_000))),
  offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())),
  order: Schema.optional(Schema.Literal("asc", "desc"))
})

/**
 * The detailed health: each check and whether the application is ready.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Health = Schema.Struct({
  status: Schema.Literal("ok", "degraded", "unavailable"),
  checks: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      status: Schema.Literal("ok", "degraded", "unavailable"),
      detail: Schema.String
    })
  )
})

/**
 * A status snapshot: the work in flight and the optimization workers.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Status = Schema.Struct({
  inFlight: Schema.Struct({ modules: Schema.Number, lm: Schema.Number, http: Schema.Number }),
  workers: Schema.Struct({ limit: Schema.Number, running: Schema.Number, queued: Schema.Number }),
  sseSubscribers: Schema.Number
})

/**
 * What the dashboard shows, at one instant: the tree, the providers, the modules (with their policies), the jobs
 * and the status.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Snapshot = Schema.Struct({
  at: Schema.Number,
  tree: Tree,
  providers: Schema.Array(Provider),
  modules: Schema.Array(Schema.Unknown),
  jobs: Schema.Array(Schema.Unknown),
  experiments: Schema.Array(Schema.Unknown),
  status: Status
})

/**
 * The Prometheus text exposition format.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PrometheusText = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain; version=0.0.4" })
)

/**
 * The system group.
 *
 * @since 0.1.0
 * @category groups
 */
export class SystemApi extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("tree", "/tree").addSuccess(Tree))
  .add(HttpApiEndpoint.get("providers", "/providers").addSuccess(Schema.Array(Provider)))
  .add(HttpApiEndpoint.get("status", "/status").addSuccess(Status))
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(HttpApiEndpoint.get("snapshot", "/snapshot").addSuccess(Snapshot))
  .add(
    HttpApiEndpoint.get("snapshots", "/snapshot/stream")
      .setUrlParams(
        Schema.Struct({
          intervalMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(100, 60_000)))
        })
      )
      .addSuccess(EventStream)
  )
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(PrometheusText))
  .add(
    HttpApiEndpoint.get("events", "/events").setUrlParams(EventQuery).addSuccess(Schema.Array(Event)).addError(Failed)
  )
  .add(
    HttpApiEndpoint.get("tail", "/events/stream")
      .setUrlParams(Schema.Struct({ types: Schema.optional(Schema.String.pipe(Schema.maxLength(4096))) }))
      .addSuccess(EventStream)
  )
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
