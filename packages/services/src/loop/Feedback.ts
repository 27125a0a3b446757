/**
 * Feedback: a delayed outcome attached to an execution, by its `executionId` (from `Execution.executionId`) or
 * its `correlationId` (every execution recorded under it). What the loop answers:
 *
 * - first feedback of an execution: `recorded` (its reward counts in the policy's windows and the canary);
 * - the same outcome again: `duplicate` (idempotent: nothing changes, nothing is written);
 * - another outcome later: `updated` (the last one wins in the experience store and in what jobs train on; the
 *   policy's windows keep the first reward, already acted upon);
 * - an id never recorded, or whose experience left the store: `FeedbackUnknownExecution`;
 * - after the feedback window (`Loop.Options.feedbackWindowMs`, default 7 days): `FeedbackTooLate`;
 * - no id, both ids, an outcome out of range or one the reward function cannot score: `FeedbackInvalid`.
 *
 * The answer comes once the batch holding the feedback is committed to the experience store.
 *
 * @example
 * ```ts
 * import { Feedback } from "@effect-dspy/services"
 *
 * const request: Feedback.Request = { executionId: "ex_1", outcome: { success: true, corrected: { answer: "5" } } }
 * ```
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { FeedbackInvalid } from "../ServicesError.js"
import * as Reward from "./Reward.js"

/**
 * A feedback request: exactly one of `executionId` and `correlationId`, and the outcome.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly executionId?: string
  readonly correlationId?: string
  readonly outcome: Reward.Outcome
}

/**
 * What feedback did (see the module documentation).
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "recorded" | "updated" | "duplicate"

/**
 * The answer to feedback, once committed: the executions it applied to, their reward, what it did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ack {
  readonly executionIds: ReadonlyArray<string>
  readonly reward: number
  readonly status: Status
}

const decodeOutcome = Schema.decodeUnknownEither(Reward.Outcome)

const unit = (v: unknown) => v === undefined || (typeof v === "number" && v >= 0 && v <= 1)

/** The common outcome checked by hand (the schema's decoding, for its messages, runs for anything else). */
const isPlain = (o: Reward.Outcome): boolean => {
  if (typeof o !== "object" || o === null) return false
  for (const k in o) if (!known.has(k)) return false
  return (
    unit(o.rating) &&
    unit(o.metric) &&
    unit(o.satisfaction) &&
    unit(o.confidence) &&
    (o.success === undefined || typeof o.success === "boolean") &&
    (o.corrected === undefined ||
      (typeof o.corrected === "object" && o.corrected !== null && !Array.isArray(o.corrected)))
  )
}
const known = new Set(["rating", "success", "metric", "satisfaction", "corrected", "confidence"])

/**
 * Checks a request: one id, an outcome in range. The decoded outcome, or a `FeedbackInvalid` saying what to fix.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (request: Request): Either.Either<Reward.Outcome, FeedbackInvalid> => {
  const hasExecution = typeof request.executionId === "string" && request.executionId !== ""
  const hasCorrelation = typeof request.correlationId === "string" && request.correlationId !== ""
  if (hasExecution === hasCorrelation)
    return Either.left(
      new FeedbackInvalid({
        field: "executionId",
        message: hasExecution
          ? "Give feedback by executionId or by correlationId, not both."
          : "Give feedback an executionId (Execution.executionId) or a correlationId."
      })
    )
  if (isPlain(request.outcome)) return Either.right(request.outcome)
  const decoded = decodeOutcome(request.outcome)
  if (Either.isLeft(decoded))
    return Either.left(
      new FeedbackInvalid({
        field: "outcome",
        message: `The feedback's outcome is not usable: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`
      })
    )
  return Either.right(decoded.right)
}
