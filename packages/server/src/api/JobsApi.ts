/**
 * Optimization jobs: start, list, status, progress over SSE (replayed from the job's start), cancel.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"
import { EventStream } from "./ModulesApi.js"
import { Fields, Id, IdPath, maxItems } from "./Schemas.js"

/**
 * An example of a trainset: its fields, and which of them are inputs.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Example = Schema.Struct({
  fields: Fields,
  inputs: Schema.Array(Schema.String.pipe(Schema.maxLength(128))).pipe(Schema.minItems(1))
})

/**
 * A job's request.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StartRequest = Schema.Struct({
  moduleId: Id,
  optimizer: Id,
  trainset: Schema.Array(Example).pipe(Schema.minItems(1), Schema.maxItems(maxItems)),
  valset: Schema.optional(Schema.Array(Example).pipe(Schema.maxItems(maxItems))),
  metric: Schema.optional(Id),
  priority: Schema.optional(Schema.Int),
  seed: Schema.optional(Schema.Int),
  budget: Schema.optional(
    Schema.Struct({
      maxLmCalls: Schema.optional(Schema.Int.pipe(Schema.positive())),
      maxCostUsd: Schema.optional(Schema.Number.pipe(Schema.positive()))
    })
  )
})

/**
 * A started job (or the live job the request merged into).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Started = Schema.Struct({ id: Schema.String, merged: Schema.Boolean })

/**
 * A job.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Job = Schema.Struct({
  id: Schema.String,
  moduleId: Schema.String,
  moduleVersion: Schema.Number,
  optimizer: Schema.String,
  metric: Schema.String,
  priority: Schema.Number,
  status: Schema.String,
  servingScore: Schema.optional(Schema.Number),
  optimizedScore: Schema.optional(Schema.Number),
  swappedVersion: Schema.optional(Schema.Number),
  error: Schema.optional(Schema.String),
  createdAt: Schema.Number,
  startedAt: Schema.optional(Schema.Number),
  finishedAt: Schema.optional(Schema.Number),
  progress: Schema.Struct({
    steps: Schema.Number,
    resumedSteps: Schema.Number,
    trials: Schema.Number,
    bestScore: Schema.optional(Schema.Number),
    lmCalls: Schema.Number
  })
})

/**
 * The jobs group (`read` to look, `admin` to start and cancel).
 *
 * @since 0.1.0
 * @category groups
 */
export class JobsApi extends HttpApiGroup.make("jobs")
  .add(HttpApiEndpoint.get("list", "/jobs").addSuccess(Schema.Array(Job)))
  .add(
    HttpApiEndpoint.post("start", "/jobs")
      .setPayload(StartRequest)
      .addSuccess(Started, { status: 202 })
      .addError(BadRequest)
      .addError(NotFound)
      .addError(Failed)
  )
  .add(HttpApiEndpoint.get("status", "/jobs/:id").setPath(IdPath).addSuccess(Job).addError(NotFound))
  .add(
    HttpApiEndpoint.post("cancel", "/jobs/:id/cancel")
      .setPath(IdPath)
      .addSuccess(Job)
      .addError(NotFound)
      .addError(Failed)
  )
  .add(HttpApiEndpoint.get("progress", "/jobs/:id/progress").setPath(IdPath).addSuccess(EventStream).addError(NotFound))
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
