/**
 * Feedback and the real-time loop: attach a delayed outcome to an execution (by its `executionId`, or to every
 * execution of a `correlationId`), and read the loop's status and decisions (see `docs/loop.md`). Feedback needs
 * the `execute` scope, the rest `read`.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"
import { Fields } from "./Schemas.js"

const Unit = Schema.Number.pipe(Schema.between(0, 1))
const Ref = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))

/**
 * A feedback request: the execution (`executionId`) or the executions of a request (`correlationId`), and the
 * outcome (every number in [0, 1]; at least one of rating, success, metric, satisfaction, corrected).
 *
 * @since 0.1.0
 * @category schemas
 */
export const FeedbackRequest = Schema.Struct({
  executionId: Schema.optional(Ref),
  correlationId: Schema.optional(Ref),
  outcome: Schema.Struct({
    rating: Schema.optional(Unit),
    success: Schema.optional(Schema.Boolean),
    metric: Schema.optional(Unit),
    satisfaction: Schema.optional(Unit),
    corrected: Schema.optional(Fields),
    confidence: Schema.optional(Unit)
  })
})

/**
 * What the loop did with the feedback: the executions it attached to, the reward, and whether it was new
 * (`recorded`), replaced an earlier outcome (`updated`) or repeated one (`duplicate`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const FeedbackAck = Schema.Struct({
  executionIds: Schema.Array(Schema.String),
  reward: Schema.Number,
  status: Schema.Literal("recorded", "updated", "duplicate")
})

/**
 * Feedback after the loop's feedback window (409): the outcome is not recorded.
 *
 * @since 0.1.0
 * @category errors
 */
export class FeedbackTooLate extends Schema.TaggedError<FeedbackTooLate>()(
  "FeedbackTooLate",
  { message: Schema.String, executionId: Schema.String, ageMs: Schema.Number, windowMs: Schema.Number },
  HttpApiSchema.annotations({ status: 409 })
) {}

/**
 * Feedback the loop refused (422): `field` names what to fix (no outcome, both or neither id, a value out of
 * range).
 *
 * @since 0.1.0
 * @category errors
 */
export class FeedbackInvalid extends Schema.TaggedError<FeedbackInvalid>()(
  "FeedbackInvalid",
  { message: Schema.String, field: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {}

/**
 * The loop's view of one module.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LoopModule = Schema.Struct({
  moduleId: Schema.String,
  version: Schema.Number,
  state: Schema.Literal("watching", "optimizing", "canary"),
  quality: Schema.NullOr(Schema.Number),
  baseline: Schema.NullOr(Schema.Number),
  threshold: Schema.Number,
  rewards: Schema.Number,
  jobs: Schema.Number
})

/**
 * The loop's status.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LoopStatus = Schema.Struct({
  enabled: Schema.Boolean,
  modules: Schema.Array(LoopModule),
  runningJobs: Schema.Number,
  spent: Schema.Struct({ lmCalls: Schema.Number, costUsd: Schema.Number, jobs: Schema.Number })
})

/**
 * A decision of the loop (an optimization started, a canary promoted or rolled back, a rule held back, ...).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Decision = Schema.Struct({
  moduleId: Schema.String,
  action: Schema.String,
  rule: Schema.String,
  reason: Schema.String,
  jobId: Schema.optional(Schema.String),
  version: Schema.optional(Schema.Number),
  quality: Schema.optional(Schema.Number),
  baseline: Schema.optional(Schema.Number),
  threshold: Schema.optional(Schema.Number),
  at: Schema.Number,
  atFeedback: Schema.Number
})

/**
 * The feedback and loop group.
 *
 * @since 0.1.0
 * @category groups
 */
export class FeedbackApi extends HttpApiGroup.make("loop")
  .add(
    HttpApiEndpoint.post("feedback", "/feedback")
      .setPayload(FeedbackRequest)
      .addSuccess(FeedbackAck)
      .addError(NotFound)
      .addError(FeedbackTooLate)
      .addError(FeedbackInvalid)
  )
  .add(HttpApiEndpoint.get("status", "/loop/status").addSuccess(LoopStatus))
  .add(
    HttpApiEndpoint.get("decisions", "/loop/decisions")
      .setUrlParams(
        Schema.Struct({
          moduleId: Schema.optional(Ref),
          limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 10_000)))
        })
      )
      .addSuccess(Schema.Array(Decision))
  )
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
