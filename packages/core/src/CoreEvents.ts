/**
 * The events the core package publishes, one typed definition each (see foundation's `Events.define`): the
 * store keeps their data in the encoded (snake_case, JSON) form shown here, and subscribers read it typed with
 * `Events.subscribeTo(CoreEvents.LMRequest)` or `Events.queryOf(...)`.
 *
 * @since 0.1.0
 */
import { Events } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * One LM call (or cache hit) with its usage, cost and duration; `error` is the failure's code.
 *
 * @since 0.1.0
 * @category events
 */
export const LMRequest = Events.define(
  "lm_request",
  Schema.Struct({
    provider: Schema.String,
    model: Schema.String,
    input_tokens: Schema.Number,
    output_tokens: Schema.Number,
    cost_usd: Schema.Number,
    duration_ms: Schema.Number,
    cache_hit: Schema.Boolean,
    error: Schema.optional(Schema.String),
    /** The images and audio the request carried: kind, type, size and sha256 each (never the bytes). */
    media: Schema.optional(
      Schema.Array(
        Schema.Struct({
          kind: Schema.Literal("image", "audio"),
          mime_type: Schema.String,
          size: Schema.Number,
          sha256: Schema.String
        })
      )
    )
  })
)

/**
 * A module call started (published only with an `Events` store in context).
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleExecutionStart = Events.define(
  "module_execution_start",
  Schema.Struct({ module: Schema.String, signature: Schema.String })
)

/**
 * A module call ended, with its outcome and the usage of the LM calls made inside; its parent is the start event.
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleExecutionComplete = Events.define(
  "module_execution_complete",
  Schema.Struct({
    module: Schema.String,
    signature: Schema.String,
    duration_ms: Schema.Number,
    status: Schema.Literal("ok", "error"),
    lm_calls: Schema.Number,
    cost: Schema.Number,
    tokens: Schema.Number,
    /** The first line of the failure, when the call failed. */
    error: Schema.optional(Schema.String)
  })
)

/**
 * The LM disk cache became unusable; the cache goes on in memory.
 *
 * @since 0.1.0
 * @category events
 */
export const CacheDegraded = Events.define(
  "cache_degraded",
  Schema.Struct({
    path: Schema.NullOr(Schema.String),
    operation: Schema.String,
    error: Schema.String,
    fallback: Schema.Literal("memory")
  })
)

/**
 * The privacy policy found PII in an LM request: the kinds and their counts, the mode applied and where (never
 * the values).
 *
 * @since 0.1.0
 * @category events
 */
export const PiiDetected = Events.define(
  "pii_detected",
  Schema.Struct({
    provider: Schema.String,
    model: Schema.String,
    module: Schema.NullOr(Schema.String),
    mode: Schema.Literal("detect", "mask", "redact", "block"),
    kinds: Schema.Record({ key: Schema.String, value: Schema.Number })
  })
)

/**
 * An LM answer holds PII that was not in the caller's input (the kinds and counts, never the values);
 * `blocked` when `privacy.leakage` is `block`.
 *
 * @since 0.1.0
 * @category events
 */
export const PiiLeak = Events.define(
  "pii_leak",
  Schema.Struct({
    provider: Schema.String,
    model: Schema.String,
    module: Schema.NullOr(Schema.String),
    kinds: Schema.Record({ key: Schema.String, value: Schema.Number }),
    blocked: Schema.Boolean
  })
)

/**
 * The two events around one step of a multi-step module: `<name>_start` and `<name>_complete` (whose parent is
 * the start event).
 *
 * @since 0.1.0
 * @category models
 */
export interface StepEvents<Name extends string, S, SI extends Events.Data, C, CI extends Events.Data> {
  readonly name: Name
  readonly start: Events.Definition<`${Name}_start`, S, SI>
  readonly complete: Events.Definition<`${Name}_complete`, C, CI>
}

const stepEvents = <const Name extends string, S, SI extends Events.Data, C, CI extends Events.Data>(
  name: Name,
  start: Schema.Schema<S, SI>,
  complete: Schema.Schema<C, CI>
): StepEvents<Name, S, SI, C, CI> => ({
  name,
  start: Events.define(`${name}_start`, start),
  complete: Events.define(`${name}_complete`, complete)
})

/**
 * MultiHopQA decomposed the question into sub-questions.
 *
 * @since 0.1.0
 * @category events
 */
export const QuestionDecomposition = stepEvents(
  "question_decomposition",
  Schema.Struct({ question: Schema.String }),
  Schema.Struct({
    question: Schema.String,
    sub_questions: Schema.Array(Schema.String),
    sub_question_count: Schema.Number
  })
)

/**
 * MultiHopQA answered one sub-question.
 *
 * @since 0.1.0
 * @category events
 */
export const SubQuestion = stepEvents(
  "sub_question",
  Schema.Struct({ sub_question: Schema.String }),
  Schema.Struct({ sub_question: Schema.String, rationale: Schema.String, answer: Schema.String })
)

/**
 * MultiHopQA synthesised the final answer from the sub-answers.
 *
 * @since 0.1.0
 * @category events
 */
export const Synthesis = stepEvents(
  "synthesis",
  Schema.Struct({ question: Schema.String, step_count: Schema.Number }),
  Schema.Struct({ question: Schema.String, answer: Schema.String })
)
