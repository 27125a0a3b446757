/**
 * The errors of the supervised application, in one place: the application's lifecycle, the ModuleManager, the
 * OptimizationCoordinator and the CacheManager. Each is a member of the project's error family
 * (`Errors.TaggedError`: a stable `code` and `retryable` declared once, the family's brand, so `Errors.isDSPyError`
 * and `Errors.isRetryable` hold); messages say what to fix. {@link isServicesError} tells this package's errors
 * from the others.
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
export class ApplicationStopping extends Errors.TaggedError<ApplicationStopping>()(
  "ApplicationStopping",
  { operation: Schema.String },
  { code: "application_stopping", retryable: true }
) {}

/**
 * The call was running when the application shut down and did not finish within the shutdown grace period: it
 * was interrupted. Its effects may be partial.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExecutionAborted extends Errors.TaggedError<ExecutionAborted>()(
  "ExecutionAborted",
  { operation: Schema.String, gracePeriodMs: Schema.Number },
  { code: "execution_aborted", retryable: true }
) {}

// ---------------------------------------------------------------------------------------------------------
// The ModuleManager
// ---------------------------------------------------------------------------------------------------------

/**
 * No module has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleNotFound extends Errors.TaggedError<ModuleNotFound>()(
  "ModuleNotFound",
  { moduleId: Schema.String },
  { code: "module_not_found", retryable: false }
) {}

/**
 * A module with this id exists already.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleAlreadyExists extends Errors.TaggedError<ModuleAlreadyExists>()(
  "ModuleAlreadyExists",
  { moduleId: Schema.String },
  { code: "module_already_exists", retryable: false }
) {}

/**
 * A spec or a swap cannot be used (a bad signature, an unknown kind or adapter, a state that does not fit);
 * `field` names the part at fault.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleSpecInvalid extends Errors.TaggedError<ModuleSpecInvalid>()(
  "ModuleSpecInvalid",
  { moduleId: Schema.String, field: Schema.String },
  { code: "module_spec_invalid", retryable: false }
) {}

/**
 * The module has no such version.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleVersionNotFound extends Errors.TaggedError<ModuleVersionNotFound>()(
  "ModuleVersionNotFound",
  { moduleId: Schema.String, version: Schema.Number },
  { code: "module_version_not_found", retryable: false }
) {}

/**
 * A change made with `ifVersion` found another version current: another change landed first. Nothing was
 * changed. Re-read the module (`describe`, `program`), decide again against version `actual`, and retry with
 * `ifVersion: actual`. Not retryable as it is: the same request fails again.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleVersionConflict extends Errors.TaggedError<ModuleVersionConflict>()(
  "ModuleVersionConflict",
  { moduleId: Schema.String, expected: Schema.Number, actual: Schema.Number },
  { code: "module_version_conflict", retryable: false }
) {}

/**
 * The ModuleManager actor did not answer (it is restarting, or its supervisor gave up). Executions are not
 * affected; retry the change.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleManagerUnavailable extends Errors.TaggedError<ModuleManagerUnavailable>()(
  "ModuleManagerUnavailable",
  { operation: Schema.String },
  { code: "module_manager_unavailable", retryable: true }
) {}

// ---------------------------------------------------------------------------------------------------------
// The OptimizationCoordinator
// ---------------------------------------------------------------------------------------------------------

/**
 * A start request cannot be used (unknown optimizer or metric, empty trainset); `field` names the part.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationRequestInvalid extends Errors.TaggedError<OptimizationRequestInvalid>()(
  "OptimizationRequestInvalid",
  { field: Schema.String },
  { code: "optimization_request_invalid", retryable: false }
) {}

/**
 * No job has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationJobNotFound extends Errors.TaggedError<OptimizationJobNotFound>()(
  "OptimizationJobNotFound",
  { jobId: Schema.String },
  { code: "optimization_job_not_found", retryable: false }
) {}

/**
 * The job database failed (open, read or write).
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationStoreError extends Errors.TaggedError<OptimizationStoreError>()(
  "OptimizationStoreError",
  { operation: Schema.String },
  { code: "optimization_store_error", retryable: true }
) {}

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
export class CacheInvalidInput extends Errors.TaggedError<CacheInvalidInput>()(
  "CacheInvalidInput",
  { operation: Schema.String, reason: Schema.String },
  { code: "cache_invalid_input", retryable: false }
) {}

// ---------------------------------------------------------------------------------------------------------
// Traffic policies and experiments (packages/services/src/experiments)
// ---------------------------------------------------------------------------------------------------------

/**
 * A traffic policy cannot be used: weights that do not sum to 1, a version the module does not have, a fraction
 * or sample outside [0, 1], a malformed shape. `field` names the part at fault (a path such as `weights[1].weight`)
 * and `reason` says what to fix. Nothing was applied.
 *
 * @since 0.1.0
 * @category errors
 */
export class PolicyInvalid extends Errors.TaggedError<PolicyInvalid>()(
  "PolicyInvalid",
  { field: Schema.String, reason: Schema.String },
  { code: "policy_invalid", retryable: false }
) {}

/**
 * No experiment has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExperimentNotFound extends Errors.TaggedError<ExperimentNotFound>()(
  "ExperimentNotFound",
  { experimentId: Schema.String },
  { code: "experiment_not_found", retryable: false }
) {}

/**
 * An experiment request cannot be used (an empty id, fewer than two arms, a bad alpha); `field` names the part
 * and `reason` says what to fix.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExperimentInvalid extends Errors.TaggedError<ExperimentInvalid>()(
  "ExperimentInvalid",
  { field: Schema.String, reason: Schema.String },
  { code: "experiment_invalid", retryable: false }
) {}

/**
 * The operation does not fit the experiment's status (observing a concluded experiment, promoting one that was
 * rolled back): `status` is the status found. Nothing was changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExperimentStatusConflict extends Errors.TaggedError<ExperimentStatusConflict>()(
  "ExperimentStatusConflict",
  { experimentId: Schema.String, operation: Schema.String, status: Schema.String },
  { code: "experiment_status_conflict", retryable: false }
) {}

/**
 * The experiment store failed (open, read, write: a locked or read-only database, a record that does not decode);
 * `reason` says what was found. A failed write changed nothing.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExperimentStoreError extends Errors.TaggedError<ExperimentStoreError>()(
  "ExperimentStoreError",
  { operation: Schema.String, reason: Schema.String },
  { code: "experiment_store_error", retryable: true }
) {}

/**
 * Every error of the traffic policies and experiments.
 *
 * @since 0.1.0
 * @category errors
 */
export type ExperimentsError =
  | PolicyInvalid
  | ExperimentNotFound
  | ExperimentInvalid
  | ExperimentStatusConflict
  | ExperimentStoreError

const experimentsTags = [
  "PolicyInvalid",
  "ExperimentNotFound",
  "ExperimentInvalid",
  "ExperimentStatusConflict",
  "ExperimentStoreError"
]

// ---------------------------------------------------------------------------------------------------------
// Releases (durable versions, release bundles, traffic policies, fallback chains)
// ---------------------------------------------------------------------------------------------------------

/**
 * The release store failed (open, read or write): the database is locked by another process, read-only, was
 * deleted or replaced, or is not a release database. The change it was part of was not made. `reason` is the
 * driver's one-line description.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReleaseStoreError extends Errors.TaggedError<ReleaseStoreError>()(
  "ReleaseStoreError",
  { operation: Schema.String, target: Schema.String, reason: Schema.String },
  { code: "release_store_error", retryable: (self) => self.reason.includes("locked") || self.reason.includes("busy") }
) {}

/**
 * The release database was written by a newer release store (`found` > `supported`): it is not opened, so
 * nothing a newer program wrote is lost. Run the newer version, or point this one at another database.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReleaseStoreVersionUnsupported extends Errors.TaggedError<ReleaseStoreVersionUnsupported>()(
  "ReleaseStoreVersionUnsupported",
  { target: Schema.String, found: Schema.Number, supported: Schema.Number },
  { code: "release_store_version_unsupported", retryable: false }
) {}

/**
 * A compare-and-swap write of the release store found the module's promoted version other than the one the write
 * was computed against (another process or runner changed it first): nothing was written. Read the module again
 * and decide anew; retrying the same write cannot succeed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReleaseStoreConflict extends Errors.TaggedError<ReleaseStoreConflict>()(
  "ReleaseStoreConflict",
  { moduleId: Schema.String, expected: Schema.Number, found: Schema.NullOr(Schema.Number) },
  { code: "release_store_conflict", retryable: false }
) {}

/**
 * A stored version's program cannot be read back (not JSON, not a program state, or it does not fit the
 * module). Nothing was restored; `version` names the row to fix (import a good bundle over it, or forget the
 * module's releases).
 *
 * @since 0.1.0
 * @category errors
 */
export class ReleaseCorrupted extends Errors.TaggedError<ReleaseCorrupted>()(
  "ReleaseCorrupted",
  { moduleId: Schema.String, version: Schema.Number },
  { code: "release_corrupted", retryable: false }
) {}

/**
 * A module was registered with another shape (predictor paths and fields) than its stored releases: they are
 * not replaced silently. Register it under another id, or forget its stored releases first.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReleaseShapeMismatch extends Errors.TaggedError<ReleaseShapeMismatch>()(
  "ReleaseShapeMismatch",
  { moduleId: Schema.String, stored: Schema.String, given: Schema.String },
  { code: "release_shape_mismatch", retryable: false }
) {}

/**
 * A release bundle cannot be imported: not a bundle, a newer bundle format, or a program that does not fit
 * the module. `field` names the part at fault.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReleaseBundleInvalid extends Errors.TaggedError<ReleaseBundleInvalid>()(
  "ReleaseBundleInvalid",
  { field: Schema.String },
  { code: "release_bundle_invalid", retryable: false }
) {}

/**
 * Every error of the durable releases.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReleasesError =
  | ReleaseStoreError
  | ReleaseStoreVersionUnsupported
  | ReleaseStoreConflict
  | ReleaseCorrupted
  | ReleaseShapeMismatch
  | ReleaseBundleInvalid

const releasesTags = [
  "ReleaseStoreError",
  "ReleaseStoreVersionUnsupported",
  "ReleaseStoreConflict",
  "ReleaseCorrupted",
  "ReleaseShapeMismatch",
  "ReleaseBundleInvalid"
]

// ---------------------------------------------------------------------------------------------------------
// The real-time optimization loop
// ---------------------------------------------------------------------------------------------------------

/**
 * Feedback names no recorded execution: the id was never recorded (a typo, another application), or the
 * experience left the store (past its count or age bound). Nothing was changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class FeedbackUnknownExecution extends Errors.TaggedError<FeedbackUnknownExecution>()(
  "FeedbackUnknownExecution",
  { executionId: Schema.optional(Schema.String), byCorrelationId: Schema.optional(Schema.String) },
  { code: "feedback_unknown_execution", retryable: false }
) {}

/**
 * Feedback arrived after the loop's feedback window (`loop.feedbackWindowMs` after the execution): it is refused
 * so that old outcomes do not rewrite statistics already acted upon. Nothing was changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class FeedbackTooLate extends Errors.TaggedError<FeedbackTooLate>()(
  "FeedbackTooLate",
  { executionId: Schema.String, ageMs: Schema.Number, windowMs: Schema.Number },
  { code: "feedback_too_late", retryable: false }
) {}

/**
 * Feedback that cannot be used: no id, both ids, an outcome out of range, or an outcome the reward function
 * cannot score. Nothing was changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class FeedbackInvalid extends Errors.TaggedError<FeedbackInvalid>()(
  "FeedbackInvalid",
  { field: Schema.String },
  { code: "feedback_invalid", retryable: false }
) {}

/**
 * The experience store could not be opened, read or written (the operation says which; the message the cause).
 *
 * @since 0.1.0
 * @category errors
 */
export class ExperienceStoreError extends Errors.TaggedError<ExperienceStoreError>()(
  "ExperienceStoreError",
  { operation: Schema.String },
  { code: "experience_store_error", retryable: true }
) {}

/**
 * The loop's settings are unusable (the field says which).
 *
 * @since 0.1.0
 * @category errors
 */
export class LoopSettingsInvalid extends Errors.TaggedError<LoopSettingsInvalid>()(
  "LoopSettingsInvalid",
  { field: Schema.String },
  { code: "loop_settings_invalid", retryable: false }
) {}

/**
 * The errors of the real-time optimization loop.
 *
 * @since 0.1.0
 * @category errors
 */
export type LoopError =
  | FeedbackUnknownExecution
  | FeedbackTooLate
  | FeedbackInvalid
  | ExperienceStoreError
  | LoopSettingsInvalid

const loopTags = [
  "FeedbackUnknownExecution",
  "FeedbackTooLate",
  "FeedbackInvalid",
  "ExperienceStoreError",
  "LoopSettingsInvalid"
]

// ---------------------------------------------------------------------------------------------------------
// Unions
// ---------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------
// Observability (metric history, alerts, resource control)
// ---------------------------------------------------------------------------------------------------------

/**
 * The metric history's SQLite storage failed (`operation`: open, flush, compact, query): the rollups stay in
 * memory and the next flush tries again; the reason says what to fix (path, permissions, a lock).
 *
 * @since 0.1.0
 * @category errors
 */
export class MetricHistoryError extends Errors.TaggedError<MetricHistoryError>()(
  "MetricHistoryError",
  { operation: Schema.String, target: Schema.String, reason: Schema.String },
  { code: "metric_history_error", retryable: (self) => self.reason.includes("locked") || self.reason.includes("busy") }
) {}

/**
 * The metric history database was written by a newer program (`found` > `supported`): it is not opened, so
 * nothing is lost. Run the newer version, or give this one another file.
 *
 * @since 0.1.0
 * @category errors
 */
export class MetricHistoryVersionUnsupported extends Errors.TaggedError<MetricHistoryVersionUnsupported>()(
  "MetricHistoryVersionUnsupported",
  { target: Schema.String, found: Schema.Number, supported: Schema.Number },
  { code: "metric_history_version_unsupported", retryable: false }
) {}

/**
 * An observability setting or request is not usable (an alert rule, a query, a controller knob): `field` names
 * it and the message says what a valid one looks like.
 *
 * @since 0.1.0
 * @category errors
 */
export class ObserveInvalidInput extends Errors.TaggedError<ObserveInvalidInput>()(
  "ObserveInvalidInput",
  { field: Schema.String },
  { code: "observe_invalid_input", retryable: false }
) {}

/**
 * An alert notification could not be delivered to a sink after its retries (published as an event and logged;
 * never raised into serving).
 *
 * @since 0.1.0
 * @category errors
 */
export class AlertDeliveryFailed extends Errors.TaggedError<AlertDeliveryFailed>()(
  "AlertDeliveryFailed",
  { sink: Schema.String, attempts: Schema.Number, reason: Schema.String },
  { code: "alert_delivery_failed", retryable: true }
) {}

/**
 * The errors of observability.
 *
 * @since 0.1.0
 * @category errors
 */
export type ObserveError =
  | MetricHistoryError
  | MetricHistoryVersionUnsupported
  | ObserveInvalidInput
  | AlertDeliveryFailed

const observeTags = [
  "MetricHistoryError",
  "MetricHistoryVersionUnsupported",
  "ObserveInvalidInput",
  "AlertDeliveryFailed"
]

/**
 * Every error of this module.
 *
 * @since 0.1.0
 * @category errors
 */
// ---------------------------------------------------------------------------------------------------------
// Learned routing (`Router`)
// ---------------------------------------------------------------------------------------------------------

/**
 * A router's options are wrong (no handlers, a bad algorithm setting, a bad id): the message says which and how
 * to fix it.
 *
 * @since 0.1.0
 * @category errors
 */
export class RouterConfigError extends Errors.TaggedError<RouterConfigError>()(
  "RouterConfigError",
  { router: Schema.String, option: Schema.String },
  { code: "router_config_error", retryable: false }
) {}

/**
 * A reward the router did not take: `unknown_decision` (never made by this router, or pruned as older than its
 * `maxDecisions` newest), `invalid_value` (not a number in [0, 1]) or `already_rewarded` (a decision takes one
 * reward; the first is kept). Nothing was changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class RouterRewardRejected extends Errors.TaggedError<RouterRewardRejected>()(
  "RouterRewardRejected",
  {
    router: Schema.String,
    decisionId: Schema.String,
    reason: Schema.Literal("unknown_decision", "invalid_value", "already_rewarded")
  },
  { code: "router_reward_rejected", retryable: false }
) {}

/**
 * A router's state could not be read or written (its SQLite file): the decision or reward was not recorded.
 *
 * @since 0.1.0
 * @category errors
 */
export class RouterStoreError extends Errors.TaggedError<RouterStoreError>()(
  "RouterStoreError",
  { router: Schema.String, operation: Schema.String, reason: Schema.String },
  { code: "router_store_error", retryable: true }
) {}

/**
 * Every error of the learned router.
 *
 * @since 0.1.0
 * @category errors
 */
export type RouterError = RouterConfigError | RouterRewardRejected | RouterStoreError

const routerTags = ["RouterConfigError", "RouterRewardRejected", "RouterStoreError"]

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
  | ExperimentsError
  | ReleasesError
  | LoopError
  | RouterError
  | ObserveError
  | ClusterStoreError

const tags: ReadonlySet<string> = new Set([
  "ApplicationStopping",
  "ExecutionAborted",
  "ModuleNotFound",
  "ModuleAlreadyExists",
  "ModuleSpecInvalid",
  "ModuleVersionNotFound",
  "ModuleVersionConflict",
  "ModuleManagerUnavailable",
  "OptimizationRequestInvalid",
  "OptimizationJobNotFound",
  "OptimizationStoreError",
  "CacheInvalidInput",
  ...experimentsTags,
  ...releasesTags,
  ...loopTags,
  ...routerTags,
  ...observeTags,
  "ClusterStoreError"
])

// ---------------------------------------------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------------------------------------------

/**
 * A cluster operation on the shared database failed (`operation`: `listen`, `notify`, `reconcile`, `lease`,
 * `policy`): the database is unreachable or refused the statement. Retryable: the listener reconnects and the
 * reconciliation runs again once the database answers.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterStoreError extends Errors.TaggedError<ClusterStoreError>()(
  "ClusterStoreError",
  { operation: Schema.String, reason: Schema.String },
  { code: "cluster_store_error", retryable: true }
) {}

/**
 * Whether a value is one of this package's errors (a member of the family with one of its tags).
 *
 * @since 0.1.0
 * @category guards
 */
export const isServicesError = (u: unknown): u is ServicesError => Errors.isDSPyError(u) && tags.has(u._tag)
