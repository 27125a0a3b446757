/**
 * The errors of optimizers: invalid training data (with every offending example and field), invalid options,
 * a spent budget (when the caller asked to fail on it), too many failed LM runs, checkpoint store failures,
 * embedder failures and the TPE sampler's errors: every error of the package, in one module. `OptimizerError` is
 * the union of a run's errors; `AnyOptimizerError` adds the sampler's, with `isOptimizerError` its guard.
 *
 * @since 0.1.0
 */
import { CoreError } from "@effect-dspy/core"
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
export class TrainingDataInvalid extends Errors.TaggedError<TrainingDataInvalid>()(
  "TrainingDataInvalid",
  {
    set: Schema.String,
    requiredInputs: Schema.Array(Schema.String),
    requiredLabels: Schema.Array(Schema.String),
    problems: Schema.Array(ExampleProblem)
  },
  { code: "training_data_invalid", retryable: false }
) {}

/**
 * An optimizer option is invalid (a non-positive concurrency, a negative budget, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizerConfigError extends Errors.TaggedError<OptimizerConfigError>()(
  "OptimizerConfigError",
  { option: Schema.String },
  { code: "optimizer_config", retryable: false }
) {}

/**
 * The budget was spent and the caller asked to fail rather than return the best program so far
 * (`budget.onExhausted: "fail"`).
 *
 * @since 0.1.0
 * @category errors
 */
export class BudgetExceeded extends Errors.TaggedError<BudgetExceeded>()(
  "BudgetExceeded",
  {
    limit: Schema.Literal("maxLmCalls", "maxCostUsd", "maxWallMs"),
    max: Schema.Number,
    lmCalls: Schema.Number,
    costUsd: Schema.Number
  },
  { code: "budget_exceeded", retryable: false }
) {}

/**
 * Too many runs failed (DSPy's `max_errors`): the last error is kept.
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyErrors extends Errors.TaggedError<TooManyErrors>()(
  "TooManyErrors",
  {
    errors: Schema.Number,
    maxErrors: Schema.Number,
    lastError: Schema.String
  },
  { code: "optimizer_too_many_errors", retryable: false }
) {}

/**
 * The checkpoint store could not read or write, or a stored value does not decode.
 *
 * @since 0.1.0
 * @category errors
 */
export class CheckpointError extends Errors.TaggedError<CheckpointError>()(
  "CheckpointError",
  { operation: Schema.String, key: Schema.optional(Schema.String) },
  { code: "checkpoint", retryable: (self) => self.operation !== "decode" }
) {}

/**
 * Embeddings could not be computed (the LM failed) or are unusable (a wrong count, mismatched sizes). Defined
 * in core with the `Embedder` service (retrieval uses it too); one of a run's errors here.
 *
 * @since 0.1.0
 * @category errors
 */
export const EmbedderError = CoreError.EmbedderError

/**
 * @since 0.1.0
 * @category errors
 */
export type EmbedderError = CoreError.EmbedderError

/**
 * The space or a trial cannot be used (a parameter without choices, a choice out of range, a value that is
 * not a finite number).
 *
 * @since 0.1.0
 * @category errors
 */
export class TPEError extends Errors.TaggedError<TPEError>()(
  "TPEError",
  {},
  { code: "tpe_invalid", retryable: false }
) {}

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

/**
 * Any error of the optimizers package: a run's errors and the TPE sampler's.
 *
 * @since 0.1.0
 * @category errors
 */
export type AnyOptimizerError = OptimizerError | TPEError

/**
 * The schema of any error of the optimizers package: a union that decodes each member to its own class.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AnyOptimizerError = Schema.Union(
  TrainingDataInvalid,
  OptimizerConfigError,
  BudgetExceeded,
  TooManyErrors,
  CheckpointError,
  EmbedderError,
  TPEError
)

/**
 * True for errors of the optimizers package.
 *
 * @since 0.1.0
 * @category guards
 */
export const isOptimizerError: (u: unknown) => u is AnyOptimizerError = Schema.is(AnyOptimizerError)
