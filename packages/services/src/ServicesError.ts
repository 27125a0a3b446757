/**
 * The errors of the supervised application, in one place: the application's lifecycle, the ModuleManager, the
 * OptimizationCoordinator and the CacheManager. Each is a `Schema.TaggedError` of the project's error family
 * (`Errors.fields`, a stable `code`, `retryable`); messages say what to fix.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------------------
// The application's lifecycle
// ---------------------------------------------------------------------------------------------------------

/**
 * The application is shutting down (or has stopped): the call was not started. Nothing was done, so it may be
 * retried against a running application.
 *
 * @since 0.1.0
 * @category errors
 */
export class ApplicationStopping extends Schema.TaggedError<ApplicationStopping>("@effect-dspy/ApplicationStopping")(
  "ApplicationStopping",
  { ...Errors.fields, operation: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "application_stopping"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * The call was running when the application shut down and did not finish within the shutdown grace period: it
 * was interrupted. Its effects may be partial.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExecutionAborted extends Schema.TaggedError<ExecutionAborted>("@effect-dspy/ExecutionAborted")(
  "ExecutionAborted",
  { ...Errors.fields, operation: Schema.String, gracePeriodMs: Schema.Number }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "execution_aborted"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

// ---------------------------------------------------------------------------------------------------------
// The ModuleManager
// ---------------------------------------------------------------------------------------------------------

/**
 * No module has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleNotFound extends Schema.TaggedError<ModuleNotFound>("@effect-dspy/ModuleNotFound")(
  "ModuleNotFound",
  { ...Errors.fields, moduleId: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "module_not_found"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * A module with this id exists already.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleAlreadyExists extends Schema.TaggedError<ModuleAlreadyExists>("@effect-dspy/ModuleAlreadyExists")(
  "ModuleAlreadyExists",
  { ...Errors.fields, moduleId: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "module_already_exists"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * A spec or a swap cannot be used (a bad signature, an unknown kind or adapter, a state that does not fit);
 * `field` names the part at fault.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleSpecInvalid extends Schema.TaggedError<ModuleSpecInvalid>("@effect-dspy/ModuleSpecInvalid")(
  "ModuleSpecInvalid",
  { ...Errors.fields, moduleId: Schema.String, field: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "module_spec_invalid"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The module has no such version.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleVersionNotFound extends Schema.TaggedError<ModuleVersionNotFound>(
  "@effect-dspy/ModuleVersionNotFound"
)("ModuleVersionNotFound", { ...Errors.fields, moduleId: Schema.String, version: Schema.Number }) {
  /** @since 0.1.0 */
  get code(): string {
    return "module_version_not_found"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * A change made with `ifVersion` found another version current: another change landed first. Nothing was
 * changed. Re-read the module (`describe`, `program`), decide again against version `actual`, and retry with
 * `ifVersion: actual`. Not retryable as it is: the same request fails again.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleVersionConflict extends Schema.TaggedError<ModuleVersionConflict>(
  "@effect-dspy/ModuleVersionConflict"
)("ModuleVersionConflict", {
  ...Errors.fields,
  moduleId: Schema.String,
  expected: Schema.Number,
  actual: Schema.Number
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "module_version_conflict"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The ModuleManager actor did not answer (it is restarting, or its supervisor gave up). Executions are not
 * affected; retry the change.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleManagerUnavailable extends Schema.TaggedError<ModuleManagerUnavailable>(
  "@effect-dspy/ModuleManagerUnavailable"
)("ModuleManagerUnavailable", { ...Errors.fields, operation: Schema.String }) {
  /** @since 0.1.0 */
  get code(): string {
    return "module_manager_unavailable"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

// ---------------------------------------------------------------------------------------------------------
// The OptimizationCoordinator
// ---------------------------------------------------------------------------------------------------------

/**
 * A start request cannot be used (unknown optimizer or metric, empty trainset); `field` names the part.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationRequestInvalid extends Schema.TaggedError<OptimizationRequestInvalid>(
  "@effect-dspy/OptimizationRequestInvalid"
)("OptimizationRequestInvalid", { ...Errors.fields, field: Schema.String }) {
  /** @since 0.1.0 */
  get code(): string {
    return "optimization_request_invalid"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * No job has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationJobNotFound extends Schema.TaggedError<OptimizationJobNotFound>(
  "@effect-dspy/OptimizationJobNotFound"
)("OptimizationJobNotFound", { ...Errors.fields, jobId: Schema.String }) {
  /** @since 0.1.0 */
  get code(): string {
    return "optimization_job_not_found"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The job database failed (open, read or write).
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationStoreError extends Schema.TaggedError<OptimizationStoreError>(
  "@effect-dspy/OptimizationStoreError"
)("OptimizationStoreError", { ...Errors.fields, operation: Schema.String }) {
  /** @since 0.1.0 */
  get code(): string {
    return "optimization_store_error"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

// ---------------------------------------------------------------------------------------------------------
// The CacheManager
// ---------------------------------------------------------------------------------------------------------

/**
 * A call was given something the cache cannot take: an empty or malformed module id or key, a value that is
 * not JSON, a bad time to live. `reason` says what to fix.
 *
 * @since 0.1.0
 * @category errors
 */
export class CacheInvalidInput extends Schema.TaggedError<CacheInvalidInput>("@effect-dspy/CacheInvalidInput")(
  "CacheInvalidInput",
  { ...Errors.fields, operation: Schema.String, reason: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "cache_invalid_input"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

// ---------------------------------------------------------------------------------------------------------
// Unions
// ---------------------------------------------------------------------------------------------------------

/**
 * Every error of this module.
 *
 * @since 0.1.0
 * @category errors
 */
export type ServicesError =
  | ApplicationStopping
  | ExecutionAborted
  | ModuleNotFound
  | ModuleAlreadyExists
  | ModuleSpecInvalid
  | ModuleVersionNotFound
  | ModuleVersionConflict
  | ModuleManagerUnavailable
  | OptimizationRequestInvalid
  | OptimizationJobNotFound
  | OptimizationStoreError
  | CacheInvalidInput
