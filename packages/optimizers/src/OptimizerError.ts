/**
 * The errors of optimizers: invalid training data (with every offending example and field), invalid options,
 * a spent budget (when the caller asked to fail on it), too many failed LM runs, and checkpoint store
 * failures. `OptimizerError` is their union.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * One example that cannot be used: its index in its set, the fields it lacks and why.
 *
 * @since 0.1.0
 * @category models
 */
export const ExampleProblem = Schema.Struct({
  index: Schema.Number,
  missing: Schema.Array(Schema.String),
  reason: Schema.String
})

/**
 * One example that cannot be used.
 *
 * @since 0.1.0
 * @category models
 */
export type ExampleProblem = typeof ExampleProblem.Type

/**
 * The training (or validation) data does not fit the program or the metric: the problems list every offending
 * example by index with the fields it lacks.
 *
 * @since 0.1.0
 * @category errors
 */
export class TrainingDataInvalid extends Schema.TaggedError<TrainingDataInvalid>("@effect-dspy/TrainingDataInvalid")(
  "TrainingDataInvalid",
  {
    ...Errors.fields,
    set: Schema.String,
    requiredInputs: Schema.Array(Schema.String),
    requiredLabels: Schema.Array(Schema.String),
    problems: Schema.Array(ExampleProblem)
  }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "training_data_invalid"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * An optimizer option is invalid (a non-positive concurrency, a negative budget, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizerConfigError extends Schema.TaggedError<OptimizerConfigError>("@effect-dspy/OptimizerConfigError")(
  "OptimizerConfigError",
  { ...Errors.fields, option: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "optimizer_config"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The budget was spent and the caller asked to fail rather than return the best program so far
 * (`budget.onExhausted: "fail"`).
 *
 * @since 0.1.0
 * @category errors
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>("@effect-dspy/BudgetExceeded")(
  "BudgetExceeded",
  {
    ...Errors.fields,
    limit: Schema.Literal("maxLmCalls", "maxCostUsd"),
    max: Schema.Number,
    lmCalls: Schema.Number,
    costUsd: Schema.Number
  }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "budget_exceeded"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * Too many runs failed (DSPy's `max_errors`): the last error is kept.
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyErrors extends Schema.TaggedError<TooManyErrors>("@effect-dspy/TooManyErrors")("TooManyErrors", {
  ...Errors.fields,
  errors: Schema.Number,
  maxErrors: Schema.Number,
  lastError: Schema.String
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "optimizer_too_many_errors"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The checkpoint store could not read or write, or a stored value does not decode.
 *
 * @since 0.1.0
 * @category errors
 */
export class CheckpointError extends Schema.TaggedError<CheckpointError>("@effect-dspy/CheckpointError")(
  "CheckpointError",
  { ...Errors.fields, operation: Schema.String, key: Schema.optional(Schema.String) }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "checkpoint"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return this.operation !== "decode"
  }
}

/**
 * Embeddings could not be computed (the LM failed) or are unusable (a wrong count, mismatched sizes).
 *
 * @since 0.1.0
 * @category errors
 */
export class EmbedderError extends Schema.TaggedError<EmbedderError>("@effect-dspy/EmbedderError")("EmbedderError", {
  ...Errors.fields,
  reason: Schema.Literal("lm", "shape")
}) {
  /** @since 0.1.0 */
  get code(): string {
    return `embedder_${this.reason}`
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return this.reason === "lm"
  }
}

/**
 * Every error an optimizer run can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type OptimizerError =
  | TrainingDataInvalid
  | OptimizerConfigError
  | BudgetExceeded
  | TooManyErrors
  | CheckpointError
  | EmbedderError
