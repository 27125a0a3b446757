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
export class ApplicationStopping extends Schema.TaggedError<ApplicationStopping>("@effect-dspy/ApplicationStopping")(
  "ApplicationStopping",
  { ...Errors.fields, operation: Schema.String }
) {
  get code(): string {
    return "application_stopping"
  }
  get retryable(): boolean {
    return true
  }
}

/**
 * The call was running when the application shut down and did not finish within the shutdown grace period: it
 * was interrupted. Its effects may be partial.
 */
export class ExecutionAborted extends Schema.TaggedError<ExecutionAborted>("@effect-dspy/ExecutionAborted")(
  "ExecutionAborted",
  { ...Errors.fields, operation: Schema.String, gracePeriodMs: Schema.Number }
) {
  get code(): string {
    return "execution_aborted"
  }
  get retryable(): boolean {
    return true
  }
}
