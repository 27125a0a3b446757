/**
 * The events the supervised application publishes, one typed definition each (see `Events.define`): subscribe
 * with `Events.subscribeTo(ServicesEvents.ModuleSwapped)`, query with `Events.queryOf(...)`, and get decoded,
 * typed data.
 *
 * @since 0.1.0
 */
import { Events } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------------------

/**
 * The application's tree started, with these LM providers.
 *
 * @since 0.1.0
 * @category events
 */
export const ApplicationStarted = Events.define(
  "application_started",
  Schema.Struct({ providers: Schema.Array(Schema.String) })
)

/**
 * The application is shutting down: what is in flight and the grace period it gets.
 *
 * @since 0.1.0
 * @category events
 */
export const ApplicationStopping = Events.define(
  "application_stopping",
  Schema.Struct({ modules_in_flight: Schema.Number, lm_in_flight: Schema.Number, grace_period_ms: Schema.Number })
)

const DrainReport = Schema.Struct({ drained: Schema.Number, aborted: Schema.Number })

/**
 * The shutdown's drain is over: how many module executions and LM calls finished in the grace period, and how
 * many were aborted.
 *
 * @since 0.1.0
 * @category events
 */
export const ApplicationStopped = Events.define(
  "application_stopped",
  Schema.Struct({ modules: DrainReport, lm: DrainReport })
)

/**
 * A service's process started (again, after a restart: `generation` counts a provider's starts).
 *
 * @since 0.1.0
 * @category events
 */
export const ServiceStarted = Events.define(
  "service_started",
  Schema.Struct({
    service: Schema.String,
    provider: Schema.optional(Schema.String),
    generation: Schema.optional(Schema.Number)
  })
)

// ---------------------------------------------------------------------------------------------------------
// The ModuleManager
// ---------------------------------------------------------------------------------------------------------

/**
 * A module was created (from a spec: `module_type` is its kind) or registered (`program`), at version 1.
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleCreated = Events.define(
  "module_created",
  Schema.Struct({ module_id: Schema.String, module_type: Schema.String, name: Schema.String, version: Schema.Number })
)

/**
 * A module's parameters were swapped: a new version is current.
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleSwapped = Events.define(
  "module_swapped",
  Schema.Struct({ module_id: Schema.String, from_version: Schema.Number, to_version: Schema.Number })
)

/**
 * A module was rolled back: `to_version` is a new version with the program of `restored_version`.
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleRolledBack = Events.define(
  "module_rolled_back",
  Schema.Struct({
    module_id: Schema.String,
    from_version: Schema.Number,
    to_version: Schema.Number,
    restored_version: Schema.Number
  })
)

/**
 * A module and its history were removed.
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleRemoved = Events.define("module_removed", Schema.Struct({ module_id: Schema.String }))

// ---------------------------------------------------------------------------------------------------------
// The OptimizationCoordinator
// ---------------------------------------------------------------------------------------------------------

/**
 * A job was queued.
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationQueued = Events.define(
  "optimization_queued",
  Schema.Struct({
    optimization_id: Schema.String,
    module_id: Schema.String,
    module_version: Schema.Number,
    optimizer: Schema.String,
    priority: Schema.Number
  })
)

/**
 * A job was cancelled.
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationCancelled = Events.define(
  "optimization_cancelled",
  Schema.Struct({ optimization_id: Schema.String, module_id: Schema.String })
)

const decision = {
  optimization_id: Schema.String,
  module_id: Schema.String,
  serving_score: Schema.Number,
  optimized_score: Schema.Number,
  serving_version: Schema.Number,
  gain: Schema.Number,
  margin: Schema.Number,
  attempt: Schema.Number
}

/**
 * A job's result was swapped in as `version` (it gained at least the margin over `serving_version`).
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationSwapped = Events.define(
  "optimization_swapped",
  Schema.Struct({ ...decision, version: Schema.Number })
)

/**
 * A job's result was not swapped in: it did not gain the margin (`margin`), or the module kept changing under
 * the decision (`swap_conflicts`, with the version current at the last swap and the job's error).
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationRejected = Events.define(
  "optimization_rejected",
  Schema.Struct({
    ...decision,
    reason: Schema.Literal("margin", "swap_conflicts"),
    current_version: Schema.optional(Schema.Number),
    error: Schema.optional(Schema.String)
  })
)

/**
 * A job's swap found another version current than the one it scored; it decides again against it.
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationSwapConflict = Events.define(
  "optimization_swap_conflict",
  Schema.Struct({
    optimization_id: Schema.String,
    module_id: Schema.String,
    expected_version: Schema.Number,
    actual_version: Schema.Number,
    attempt: Schema.Number,
    max_attempts: Schema.Number
  })
)

/**
 * A recovered job's saved student no longer fits its module: it optimizes the serving version from the start.
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationRebased = Events.define(
  "optimization_rebased",
  Schema.Struct({
    optimization_id: Schema.String,
    module_id: Schema.String,
    from_version: Schema.Number,
    to_version: Schema.Number,
    reason: Schema.String
  })
)

/**
 * A job ran without a worker process (the workers' supervisor was down or full).
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationWorkerUnavailable = Events.define(
  "optimization_worker_unavailable",
  Schema.Struct({ optimization_id: Schema.String, reason: Schema.String })
)

// ---------------------------------------------------------------------------------------------------------
// The LM providers
// ---------------------------------------------------------------------------------------------------------

/**
 * A provider's traffic moved to its backup.
 *
 * @since 0.1.0
 * @category events
 */
export const ProviderFailover = Events.define(
  "provider_failover",
  Schema.Struct({ provider: Schema.String, backup: Schema.String, reason: Schema.String })
)

/**
 * A failed-over provider took its traffic back.
 *
 * @since 0.1.0
 * @category events
 */
export const ProviderRecovered = Events.define(
  "provider_recovered",
  Schema.Struct({ provider: Schema.String, backup: Schema.NullOr(Schema.String) })
)

/**
 * A provider call still running at its hedging deadline (config `latency.hedging`): a second request went to the
 * backup. `winner` is published by {@link ProviderHedgeSettled}.
 *
 * @since 0.1.0
 * @category events
 */
export const ProviderHedged = Events.define(
  "provider_hedged",
  Schema.Struct({ provider: Schema.String, backup: Schema.String, deadline_ms: Schema.Number })
)

/**
 * A hedged call ended: which provider answered first (`null`: neither answered; both failed); the other was
 * interrupted.
 *
 * @since 0.1.0
 * @category events
 */
export const ProviderHedgeSettled = Events.define(
  "provider_hedge_settled",
  Schema.Struct({ provider: Schema.String, backup: Schema.String, winner: Schema.NullOr(Schema.String) })
)

// ---------------------------------------------------------------------------------------------------------
// Learned routing (`Router`)
// ---------------------------------------------------------------------------------------------------------

/**
 * A router chose a handler for a request: its segment, the handler, the bandit's confidence in it (the posterior
 * mean of its reward), and whether the choice explored (was not the arm with the best mean).
 *
 * @since 0.1.0
 * @category events
 */
export const RouterDecision = Events.define(
  "router_decision",
  Schema.Struct({
    router: Schema.String,
    decision_id: Schema.String,
    segment: Schema.String,
    handler: Schema.String,
    confidence: Schema.Number,
    explored: Schema.Boolean
  })
)

/**
 * A reward reached a router's decision.
 *
 * @since 0.1.0
 * @category events
 */
export const RouterRewarded = Events.define(
  "router_rewarded",
  Schema.Struct({
    router: Schema.String,
    decision_id: Schema.String,
    segment: Schema.String,
    handler: Schema.String,
    reward: Schema.Number
  })
)

// ---------------------------------------------------------------------------------------------------------
// The CacheManager
// ---------------------------------------------------------------------------------------------------------

const CacheLevel = Schema.Literal("l2", "l3")

/**
 * A cache level became unusable; the cache goes on with `fallback`.
 *
 * @since 0.1.0
 * @category events
 */
export const CacheLevelDegraded = Events.define(
  "cache_level_degraded",
  Schema.Struct({
    cache: Schema.String,
    level: CacheLevel,
    target: Schema.String,
    operation: Schema.String,
    error: Schema.String,
    fallback: Schema.String
  })
)

/**
 * A degraded cache level is in use again.
 *
 * @since 0.1.0
 * @category events
 */
export const CacheLevelRecovered = Events.define(
  "cache_level_recovered",
  Schema.Struct({ cache: Schema.String, level: CacheLevel, target: Schema.String })
)

// ---------------------------------------------------------------------------------------------------------
// Experiments (packages/services/src/experiments)
// ---------------------------------------------------------------------------------------------------------

/**
 * An experiment started on a module: its baseline and arms, and whether its recommendation is applied by itself.
 *
 * @since 0.1.0
 * @category events
 */
export const ExperimentStarted = Events.define(
  "experiment_started",
  Schema.Struct({
    experiment_id: Schema.String,
    module_id: Schema.String,
    baseline: Schema.String,
    arms: Schema.Array(Schema.String),
    auto_apply: Schema.Boolean
  })
)

/**
 * An experiment's analysis changed its recommendation to `promote` or `roll_back` (`arm`: the arm to promote, or
 * the arm at fault), with the observations it rests on.
 *
 * @since 0.1.0
 * @category events
 */
export const ExperimentRecommended = Events.define(
  "experiment_recommended",
  Schema.Struct({
    experiment_id: Schema.String,
    module_id: Schema.String,
    recommendation: Schema.Literal("promote", "roll_back"),
    arm: Schema.String,
    reason: Schema.String,
    observations: Schema.Number
  })
)

/**
 * An experiment stopped taking observations (by hand or because its auto-applied recommendation is being applied).
 *
 * @since 0.1.0
 * @category events
 */
export const ExperimentConcluded = Events.define(
  "experiment_concluded",
  Schema.Struct({ experiment_id: Schema.String, module_id: Schema.String, reason: Schema.String })
)

/**
 * An experiment's arm was promoted (`automatic`: by the opt-in auto-apply policy).
 *
 * @since 0.1.0
 * @category events
 */
export const ExperimentPromoted = Events.define(
  "experiment_promoted",
  Schema.Struct({
    experiment_id: Schema.String,
    module_id: Schema.String,
    arm: Schema.String,
    reason: Schema.String,
    automatic: Schema.Boolean
  })
)

/**
 * An experiment was rolled back to its baseline: why, the arm at fault, the guard rail broken if one was
 * (`rail`: error_rate, latency_p95, quality) and whether it happened by itself.
 *
 * @since 0.1.0
 * @category events
 */
export const ExperimentRolledBack = Events.define(
  "experiment_rolled_back",
  Schema.Struct({
    experiment_id: Schema.String,
    module_id: Schema.String,
    baseline: Schema.String,
    arm: Schema.optional(Schema.String),
    rail: Schema.optional(Schema.String),
    reason: Schema.String,
    automatic: Schema.Boolean
  })
)

/**
 * The auto-apply policy could not apply a recommendation (no applier registered for the module, or the applier
 * failed: e.g. a compare-and-swap conflict); the experiment stays concluded for a person to decide.
 *
 * @since 0.1.0
 * @category events
 */
export const ExperimentApplyFailed = Events.define(
  "experiment_apply_failed",
  Schema.Struct({
    experiment_id: Schema.String,
    module_id: Schema.String,
    action: Schema.Literal("promote", "roll_back"),
    error: Schema.String
  })
)

/**
 * The events of the experiments block.
 *
 * @since 0.1.0
 * @category events
 */
export const experimentEvents = [
  ExperimentStarted,
  ExperimentRecommended,
  ExperimentConcluded,
  ExperimentPromoted,
  ExperimentRolledBack,
  ExperimentApplyFailed
] as const

// ---------------------------------------------------------------------------------------------------------
// Releases (durable versions, traffic policies, fallback chains)
// ---------------------------------------------------------------------------------------------------------

/**
 * A module registered at start got its stored versions back: `version` (its promoted one) serves, of
 * `versions` restored.
 *
 * @since 0.1.0
 * @category events
 */
export const ReleaseRestored = Events.define(
  "release_restored",
  Schema.Struct({ module_id: Schema.String, version: Schema.Number, versions: Schema.Number })
)

/**
 * A module was registered with another shape than its stored releases; the registration was refused and the
 * stored releases kept.
 *
 * @since 0.1.0
 * @category events
 */
export const ReleaseShapeMismatch = Events.define(
  "release_shape_mismatch",
  Schema.Struct({ module_id: Schema.String, stored_shape: Schema.String, given_shape: Schema.String })
)

/**
 * A release bundle was imported as a new version of a module.
 *
 * @since 0.1.0
 * @category events
 */
export const ReleaseImported = Events.define(
  "release_imported",
  Schema.Struct({ module_id: Schema.String, version: Schema.Number, source_version: Schema.Number })
)

/**
 * A module's traffic policy changed (through Config or the ModuleManager).
 *
 * @since 0.1.0
 * @category events
 */
export const TrafficPolicyChanged = Events.define(
  "traffic_policy_changed",
  Schema.Struct({ module_id: Schema.String, policy: Schema.String, source: Schema.String })
)

/**
 * A traffic policy from Config was not applied (it does not fit the module's versions, or does not decode): the
 * policy in force was kept; `error` says what to fix.
 *
 * @since 0.1.0
 * @category events
 */
export const TrafficPolicyRejected = Events.define(
  "traffic_policy_rejected",
  Schema.Struct({ module_id: Schema.String, source: Schema.String, error: Schema.String })
)

/**
 * A canary breached a guard rail and its module was rolled back to the baseline, by itself.
 *
 * @since 0.1.0
 * @category events
 */
export const CanaryRolledBack = Events.define(
  "canary_rolled_back",
  Schema.Struct({
    module_id: Schema.String,
    candidate_version: Schema.Number,
    baseline_version: Schema.Number,
    reason: Schema.String
  })
)

/**
 * An execution was served by a step of the module's fallback chain after the steps before it failed.
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleFallback = Events.define(
  "module_fallback",
  Schema.Struct({
    module_id: Schema.String,
    step: Schema.String,
    index: Schema.Number,
    version: Schema.optional(Schema.Number),
    cause: Schema.String
  })
)

/**
 * A shadow run of a candidate version ended: recorded (with a preview of its output), never served.
 *
 * @since 0.1.0
 * @category events
 */
export const ModuleShadowExecution = Events.define(
  "module_shadow_execution",
  Schema.Struct({
    module_id: Schema.String,
    version: Schema.Number,
    served_version: Schema.Number,
    status: Schema.Literal("ok", "error"),
    output: Schema.String
  })
)

/**
 * An optimization request identical to a stored result (same student, optimizer and settings, data) reused it
 * instead of compiling again.
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationResultReused = Events.define(
  "optimization_result_reused",
  Schema.Struct({ optimization_id: Schema.String, module_id: Schema.String, result_key: Schema.String })
)

/**
 * The optimization breaker opened (providers are failing): queued jobs wait until it closes.
 *
 * @since 0.1.0
 * @category events
 */
export const OptimizationPaused = Events.define(
  "optimization_paused",
  Schema.Struct({ reason: Schema.String, queued: Schema.Number })
)

const alertFields = {
  alert_id: Schema.String,
  rule: Schema.String,
  severity: Schema.Literal("info", "warning", "critical"),
  series: Schema.String,
  value: Schema.NullOr(Schema.Number),
  message: Schema.String
}

/**
 * An alert rule fired on a series (after its for-duration; once until it resolves).
 *
 * @since 0.1.0
 * @category events
 */
export const AlertFired = Events.define("alert_fired", Schema.Struct(alertFields))

/**
 * A firing alert resolved: its rule no longer holds on the series.
 *
 * @since 0.1.0
 * @category events
 */
export const AlertResolved = Events.define(
  "alert_resolved",
  Schema.Struct({ ...alertFields, fired_at: Schema.Number, duration_ms: Schema.Number })
)

/**
 * An alert sink (a webhook) could not deliver a notification after its retries; serving was not affected.
 *
 * @since 0.1.0
 * @category events
 */
export const AlertDeliveryFailed = Events.define(
  "alert_delivery_failed",
  Schema.Struct({ alert_id: Schema.String, sink: Schema.String, attempts: Schema.Number, reason: Schema.String })
)

/**
 * The resource controller changed a live setting (a pool size, the optimization workers, a rate limit).
 *
 * @since 0.1.0
 * @category events
 */
export const ResourceAdjusted = Events.define(
  "resource_adjusted",
  Schema.Struct({ path: Schema.String, from: Schema.Number, to: Schema.Number, reason: Schema.String })
)

/**
 * Every definition of this module.
 *
 * @since 0.1.0
 * @category events
 */
export const all = [
  ApplicationStarted,
  ApplicationStopping,
  ApplicationStopped,
  ServiceStarted,
  ModuleCreated,
  ModuleSwapped,
  ModuleRolledBack,
  ModuleRemoved,
  OptimizationQueued,
  OptimizationCancelled,
  OptimizationSwapped,
  OptimizationRejected,
  OptimizationSwapConflict,
  OptimizationRebased,
  OptimizationWorkerUnavailable,
  ProviderFailover,
  ProviderRecovered,
  ProviderHedged,
  ProviderHedgeSettled,
  RouterDecision,
  RouterRewarded,
  CacheLevelDegraded,
  CacheLevelRecovered,
  ...experimentEvents,
  ReleaseRestored,
  ReleaseShapeMismatch,
  ReleaseImported,
  TrafficPolicyChanged,
  TrafficPolicyRejected,
  CanaryRolledBack,
  ModuleFallback,
  ModuleShadowExecution,
  OptimizationResultReused,
  OptimizationPaused,
  AlertFired,
  AlertResolved,
  AlertDeliveryFailed,
  ResourceAdjusted
] as const

// ---------------------------------------------------------------------------------------------------------
// The real-time optimization loop
// ---------------------------------------------------------------------------------------------------------

/**
 * A decision of the real-time loop's policy, or a decision not to act, with its reason: `start_job` (a rule fired
 * and a job started), `hold` (a rule fired but a guard rail held: cooldown, budget, concurrent jobs, a job or
 * canary of the module already running), `job_ended` (the job's result: swapped, rejected, failed), `canary`
 * (the swapped version went to a canary), `promote` / `roll_back` (the canary's end), `threshold_raised` /
 * `threshold_lowered` (a rule's adaptive threshold moved).
 *
 * @since 0.1.0
 * @category events
 */
export const LoopDecision = Events.define(
  "loop_decision",
  Schema.Struct({
    module_id: Schema.String,
    action: Schema.Literal(
      "start_job",
      "hold",
      "job_ended",
      "canary",
      "promote",
      "roll_back",
      "threshold_raised",
      "threshold_lowered"
    ),
    rule: Schema.String,
    reason: Schema.String,
    job_id: Schema.optional(Schema.String),
    version: Schema.optional(Schema.Number),
    quality: Schema.optional(Schema.Number),
    baseline: Schema.optional(Schema.Number),
    threshold: Schema.optional(Schema.Number)
  })
)

/**
 * Data held about an end user or a tenant was erased (`DataRights.erase`, or a retention run): the audit trail,
 * holding no content. `subject_digest` is `Subject.digest` of the end-user key (never the key itself); `counts`
 * the records removed per source; `reason` is `request` or `retention`.
 *
 * @since 0.1.0
 * @category events
 */
export const DataErased = Events.define(
  "data_erased",
  Schema.Struct({
    subject_digest: Schema.optional(Schema.String),
    tenant: Schema.optional(Schema.String),
    before: Schema.optional(Schema.Number),
    reason: Schema.Literal("request", "retention"),
    counts: Schema.Record({ key: Schema.String, value: Schema.Number }),
    total: Schema.Number
  })
)
