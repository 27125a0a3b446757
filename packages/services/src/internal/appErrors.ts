/**
 * The errors of the supervised application's lifecycle (shared by the ModuleManager, the LM providers and the
 * Application, which re-exports them).
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * The application is shutting down (or has stopped): the call was not started. Nothing was done, so it may be
 * retried against a running application.
 */
export class ApplicationStopping extends Errors.TaggedError<ApplicationStopping>()(
  "ApplicationStopping",
  { operation: Schema.String },
  { code: "application_stopping", retryable: true }
) {}

/**
 * The call was running when the application shut down and did not finish within the shutdown grace period: it
 * was interrupted. Its effects may be partial.
 */
export class ExecutionAborted extends Errors.TaggedError<ExecutionAborted>()(
  "ExecutionAborted",
  { operation: Schema.String, gracePeriodMs: Schema.Number },
  { code: "execution_aborted", retryable: true }
) {}
