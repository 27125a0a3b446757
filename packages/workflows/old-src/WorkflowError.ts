/**
 * The errors of workflows: a file that does not parse or validate (with its file, line and key), a run's bad
 * input, a step that failed or timed out (with the step's path), a run that cannot be found, and the run store.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * One problem found in a workflow file: where (file, line, column, key path) and what to fix.
 *
 * @since 0.1.0
 * @category models
 */
export const Issue = Schema.Struct({
  file: Schema.String,
  line: Schema.optional(Schema.Number),
  column: Schema.optional(Schema.Number),
  /** The key path in the file, e.g. `steps[2].timeout`. */
  path: Schema.String,
  message: Schema.String
})

/**
 * One problem found in a workflow file.
 *
 * @since 0.1.0
 * @category models
 */
export type Issue = typeof Issue.Type

/**
 * A workflow file that is not valid YAML or JSON, does not match the workflow schema, or whose references do
 * not check (unknown step, type mismatch, cycle, a template variable with no source). `issues` lists each
 * problem with its place; `message` starts with the first.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowInvalid extends Errors.TaggedError<WorkflowInvalid>()(
  "WorkflowInvalid",
  { file: Schema.String, issues: Schema.Array(Issue) },
  { code: "workflow_invalid", retryable: false }
) {}

/**
 * A run's inputs that do not match the workflow's declared inputs (missing, or of the wrong type).
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowInputInvalid extends Errors.TaggedError<WorkflowInputInvalid>()(
  "WorkflowInputInvalid",
  { workflow: Schema.String, input: Schema.String },
  { code: "workflow_input_invalid", retryable: false }
) {}

/**
 * A step that failed after its retries and fallback: `step` is its path (`steps.classify`,
 * `steps.fanout[2].summarise`), `reason` what went wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export class StepFailed extends Errors.TaggedError<StepFailed>()(
  "StepFailed",
  { runId: Schema.String, step: Schema.String, kind: Schema.String, attempts: Schema.Number, reason: Schema.String },
  { code: "workflow_step_failed", retryable: false }
) {}

/**
 * A step that did not finish within its timeout (after its retries, when no fallback served).
 *
 * @since 0.1.0
 * @category errors
 */
export class StepTimedOut extends Errors.TaggedError<StepTimedOut>()(
  "StepTimedOut",
  { runId: Schema.String, step: Schema.String, timeoutMs: Schema.Number, attempts: Schema.Number },
  { code: "workflow_step_timed_out", retryable: true }
) {}

/**
 * A run id the run store does not know (resume of a run never started, or removed).
 *
 * @since 0.1.0
 * @category errors
 */
export class RunNotFound extends Errors.TaggedError<RunNotFound>()(
  "RunNotFound",
  { runId: Schema.String },
  { code: "workflow_run_not_found", retryable: false }
) {}

/**
 * A run that cannot be resumed: it already finished, or its workflow changed since it started.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunNotResumable extends Errors.TaggedError<RunNotResumable>()(
  "RunNotResumable",
  { runId: Schema.String, status: Schema.String },
  { code: "workflow_run_not_resumable", retryable: false }
) {}

/**
 * The run store failed (the SQLite file cannot be opened, read or written, or a row is corrupt).
 *
 * @since 0.1.0
 * @category errors
 */
export class RunStoreError extends Errors.TaggedError<RunStoreError>()(
  "RunStoreError",
  { operation: Schema.String },
  { code: "workflow_run_store_error", retryable: true }
) {}

/**
 * The errors of this package.
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkflowError =
  | WorkflowInvalid
  | WorkflowInputInvalid
  | StepFailed
  | StepTimedOut
  | RunNotFound
  | RunNotResumable
  | RunStoreError

const tags: ReadonlySet<string> = new Set([
  "WorkflowInvalid",
  "WorkflowInputInvalid",
  "StepFailed",
  "StepTimedOut",
  "RunNotFound",
  "RunNotResumable",
  "RunStoreError"
])

/**
 * Whether a value is one of this package's errors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isWorkflowError = (u: unknown): u is WorkflowError => Errors.isDSPyError(u) && tags.has(u._tag)
