/**
 * Modules: create (a spec), list, describe, remove, execute (JSON, or streamed over SSE), versions, swap,
 * rollback, traffic policies and experiments.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"
import { BoundedJson, Fields, Id, IdPath, maxItems, Text } from "./Schemas.js"

/**
 * A module spec (what `ModuleManager.create` takes), with its field limits.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModuleSpec = Schema.Struct({
  id: Id,
  kind: Schema.Literal("predict", "chain_of_thought"),
  signature: Text.pipe(Schema.minLength(1)),
  instructions: Schema.optional(Text),
  adapter: Schema.optional(Schema.Literal("chat", "json", "xml", "two_step")),
  demos: Schema.optional(Schema.Array(Fields).pipe(Schema.maxItems(maxItems))),
  config: Schema.optional(BoundedJson)
})

/**
 * What the API says about a module.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModuleInfo = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  kind: Schema.String,
  signature: Schema.String,
  version: Schema.Number,
  versions: Schema.Number,
  predictors: Schema.Array(Schema.String),
  executions: Schema.Number,
  failures: Schema.Number,
  breaker: Schema.String,
  createdAt: Schema.Number
})

/**
 * One version of a module.
 *
 * @since 0.1.0
 * @category schemas
 */
export const VersionInfo = Schema.Struct({
  version: Schema.Number,
  createdAt: Schema.Number,
  reason: Schema.String,
  current: Schema.Boolean,
  parent: Schema.NullOr(Schema.Number),
  jobId: Schema.NullOr(Schema.String)
})

/**
 * An execution's request: the input fields, and optionally a caller key (sticky traffic policies).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExecuteRequest = Schema.Struct({
  inputs: Fields,
  callerKey: Schema.optional(Schema.String.pipe(Schema.maxLength(256)))
})

/**
 * An execution's outcome.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Execution = Schema.Struct({
  /** The execution's id (what feedback attaches to, see `POST /feedback`). */
  executionId: Schema.optional(Schema.String),
  moduleId: Schema.String,
  version: Schema.Number,
  output: Schema.Unknown,
  reason: Schema.String,
  arm: Schema.optional(Schema.String),
  fallback: Schema.optional(Schema.String),
  stale: Schema.Boolean
})

/**
 * A hot swap: new instructions or demos by predictor path (`self` for a Predict), a saved state, and the
 * version the change is based on (`ifVersion`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const SwapRequest = Schema.Struct({
  instructions: Schema.optional(Schema.Record({ key: Schema.String.pipe(Schema.maxLength(256)), value: Text })),
  demos: Schema.optional(
    Schema.Record({
      key: Schema.String.pipe(Schema.maxLength(256)),
      value: Schema.Array(Fields).pipe(Schema.maxItems(maxItems))
    })
  ),
  state: Schema.optional(BoundedJson),
  ifVersion: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

/**
 * A rollback: the version to make current again (default the one before), and the version it is based on.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RollbackRequest = Schema.Struct({
  toVersion: Schema.optional(Schema.Int.pipe(Schema.positive())),
  ifVersion: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

/**
 * A traffic policy to set (a `TrafficPolicy.Policy`, checked by the ModuleManager) and its seed.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PolicyRequest = Schema.Struct({ policy: BoundedJson, seed: Schema.optional(Schema.Int) })

/**
 * A release bundle to import (as `effect-dspy export` or `GET /modules/{id}/release` wrote it) and the version it
 * is based on.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ImportRequest = Schema.Struct({
  bundle: BoundedJson,
  ifVersion: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

/**
 * The SSE media type of streamed endpoints.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EventStream = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" })
)

/**
 * The modules group (`read` to look, `execute` to execute, `admin` to change).
 *
 * @since 0.1.0
 * @category groups
 */
export class ModulesApi extends HttpApiGroup.make("modules")
  .add(HttpApiEndpoint.get("list", "/modules").addSuccess(Schema.Array(ModuleInfo)))
  .add(
    HttpApiEndpoint.post("create", "/modules")
      .setPayload(ModuleSpec)
      .addSuccess(ModuleInfo, { status: 201 })
      .addError(BadRequest)
      .addError(Conflict)
  )
  .add(HttpApiEndpoint.get("describe", "/modules/:id").setPath(IdPath).addSuccess(ModuleInfo).addError(NotFound))
  .add(
    HttpApiEndpoint.del("remove", "/modules/:id").setPath(IdPath).addSuccess(HttpApiSchema.NoContent).addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("execute", "/modules/:id/execute")
      .setPath(IdPath)
      .setPayload(ExecuteRequest)
      .addSuccess(Execution)
      .addError(NotFound)
      .addError(BadRequest)
      .addError(Unavailable)
      .addError(Failed)
  )
  .add(
    HttpApiEndpoint.post("executeStream", "/modules/:id/execute/stream")
      .setPath(IdPath)
      .setPayload(ExecuteRequest)
      .addSuccess(EventStream)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.get("versions", "/modules/:id/versions")
      .setPath(IdPath)
      .addSuccess(Schema.Array(VersionInfo))
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("swap", "/modules/:id/swap")
      .setPath(IdPath)
      .setPayload(SwapRequest)
      .addSuccess(ModuleInfo)
      .addError(NotFound)
      .addError(Conflict)
      .addError(BadRequest)
  )
  .add(
    HttpApiEndpoint.post("rollback", "/modules/:id/rollback")
      .setPath(IdPath)
      .setPayload(RollbackRequest)
      .addSuccess(ModuleInfo)
      .addError(NotFound)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.get("policy", "/modules/:id/policy")
      .setPath(IdPath)
      .addSuccess(Schema.NullOr(Schema.Unknown))
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.put("setPolicy", "/modules/:id/policy")
      .setPath(IdPath)
      .setPayload(PolicyRequest)
      .addSuccess(Schema.Unknown)
      .addError(NotFound)
      .addError(BadRequest)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.del("clearPolicy", "/modules/:id/policy")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.get("exportRelease", "/modules/:id/release")
      .setPath(IdPath)
      .setUrlParams(
        Schema.Struct({ version: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.positive())) })
      )
      .addSuccess(Schema.Unknown)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("importRelease", "/modules/:id/release")
      .setPath(IdPath)
      .setPayload(ImportRequest)
      .addSuccess(ModuleInfo)
      .addError(NotFound)
      .addError(BadRequest)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.get("experiments", "/experiments")
      .setUrlParams(Schema.Struct({ moduleId: Schema.optional(Id) }))
      .addSuccess(Schema.Array(Schema.Unknown))
  )
  .add(
    HttpApiEndpoint.get("experiment", "/experiments/:id").setPath(IdPath).addSuccess(Schema.Unknown).addError(NotFound)
  )
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
