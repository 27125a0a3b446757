/**
 * The supervised DSPy application: the ModuleManager, the supervised LM providers, the CacheManager and the
 * optimization workers under one supervision tree, started as a layer.
 *
 * @since 0.1.0
 */

/**
 * The application: the supervision tree as a layer, graceful shutdown, the tree for printing.
 *
 * @since 0.1.0
 */
export * as Application from "./Application.js"

/**
 * Modules by id: made from specs or programs, executed under protections, hot-swapped, versioned.
 *
 * @since 0.1.0
 */
export * as ModuleManager from "./ModuleManager.js"

/**
 * A module's program from its spec, outside a ModuleManager (a cluster runner rebuilding a stored module).
 *
 * @since 0.1.0
 */
export * as ModuleSpecs from "./ModuleSpecs.js"

/**
 * Supervised LM providers: pools, breakers, rate limiters, failover to backups, the core LM service.
 *
 * @since 0.1.0
 */
export * as LMProviders from "./LMProviders.js"

/**
 * A throwaway PostgreSQL server for tests: `initdb` in a temp dir, a free loopback port, removed afterwards.
 *
 * @since 0.1.0
 */
export * as TestPostgres from "./TestPostgres.js"

/**
 * Isolated application runtimes for tests, with controllable simulated LMs.
 *
 * @since 0.1.0
 */
export * as TestRuntime from "./TestRuntime.js"

/**
 * The multi-level cache (memory, SQLite, optional Redis) namespaced by module, and its adapter to the LM cache.
 *
 * @since 0.1.0
 */
export * as CacheManager from "./CacheManager.js"

/**
 * Optimization jobs in the background: a priority queue feeding supervised workers, merged duplicates, jobs
 * persisted in SQLite and resumed from checkpoints, and a hot swap only when the result beats serving.
 *
 * @since 0.1.0
 */
export * as OptimizationCoordinator from "./OptimizationCoordinator.js"

/**
 * A SQLite checkpoint store for optimizer runs (it can share the OptimizationCoordinator's job database), so a
 * restarted application resumes its optimization jobs from one file.
 *
 * @since 0.1.0
 */
export * as CheckpointSqlite from "./CheckpointSqlite.js"

/**
 * A PostgreSQL checkpoint store for optimizer runs (the SQLite one's contract), so a job resumed by another
 * process reads every unit the first one finished.
 *
 * @since 0.1.0
 */
export * as CheckpointPostgres from "./CheckpointPostgres.js"

/**
 * Where the application keeps its state: SQLite (embedded, the default) or one PostgreSQL database shared by
 * several processes; the client and the stores as layers.
 *
 * @since 0.1.0
 */
export * as Storage from "./Storage.js"

/**
 * Durable releases: every module version (program, spec, lineage), the promoted one restored at start, and
 * optimization results reused, in SQLite (or in memory).
 *
 * @since 0.1.0
 */
export * as ReleaseStore from "./releases/ReleaseStore.js"

/**
 * Release bundles: one version of a module (program, shape, lineage, evaluation report) exported as JSON and
 * imported elsewhere as a new version.
 *
 * @since 0.1.0
 */
export * as ReleaseBundle from "./releases/ReleaseBundle.js"

/**
 * The errors of the supervised application (lifecycle, ModuleManager, OptimizationCoordinator, CacheManager).
 *
 * @since 0.1.0
 */
export * as ServicesError from "./ServicesError.js"

/**
 * The events of the supervised application, one typed definition each (`Events.define`).
 *
 * @since 0.1.0
 */
export * as ServicesEvents from "./ServicesEvents.js"

/**
 * Traffic policies over a module's versions (pinned, weighted, canary, shadow, bandit) and the synchronous router
 * that applies one, with persisted state.
 *
 * @since 0.1.0
 */
export * as TrafficPolicy from "./experiments/TrafficPolicy.js"

/**
 * One arm's sufficient statistics (calls, errors, cost, latency histogram, rewards).
 *
 * @since 0.1.0
 */
export * as ArmStats from "./experiments/ArmStats.js"

/**
 * Multi-armed bandits over versions: epsilon-greedy with decay and a floor, Thompson sampling; seeded.
 *
 * @since 0.1.0
 */
export * as Bandit from "./experiments/Bandit.js"

/**
 * Always-valid sequential tests (mSPRT with a normal mixture) for differences in means and proportions, with
 * confidence sequences.
 *
 * @since 0.1.0
 */
export * as Sequential from "./experiments/Sequential.js"

/**
 * Experiment analysis per arm (latency p50/p95, error rate, cost per call, quality with an always-valid interval)
 * and a recommendation: promote, roll back, keep testing.
 *
 * @since 0.1.0
 */
export * as Analysis from "./experiments/Analysis.js"

/**
 * Experiments as a service: lifecycle (running, concluded, promoted, rolled back), checks with always-valid
 * tests, persisted records, events, opt-in auto-apply through the integrator's compare-and-swap.
 *
 * @since 0.1.0
 */
export * as Experiments from "./experiments/Experiments.js"

/**
 * Where experiment records live: in memory or SQLite (schema version, forward migrations).
 *
 * @since 0.1.0
 */
export * as ExperimentStore from "./experiments/ExperimentStore.js"

/**
 * The persisted experiment record and its schema version.
 *
 * @since 0.1.0
 */
export * as ExperimentRecord from "./experiments/ExperimentRecord.js"

/**
 * Mode comparison reports: baseline vs optimized (and any other arm) on time, cost, quality and success rate from
 * production records.
 *
 * @since 0.1.0
 */
export * as ModeComparison from "./experiments/ModeComparison.js"

/**
 * The real-time optimization loop: feedback, experiences, a policy process that starts jobs and canaries by
 * itself, with guard rails.
 *
 * @since 0.1.0
 */
export * as Loop from "./loop/Loop.js"

/**
 * Rewards in [0, 1] from delayed outcomes (a standard preset and seed 002's weighted form).
 *
 * @since 0.1.0
 */
export * as Reward from "./loop/Reward.js"

/**
 * Feedback requests and answers: by execution or correlation id; unknown, late and duplicate feedback.
 *
 * @since 0.1.0
 */
export * as Feedback from "./loop/Feedback.js"

/**
 * The experience store: executions and rewards, batched to SQLite, bounded, sampled, exported as examples.
 *
 * @since 0.1.0
 */
export * as ExperienceStore from "./loop/ExperienceStore.js"

/**
 * The loop's policy: windows, rules with hysteresis, guard rails and adaptive thresholds.
 *
 * @since 0.1.0
 */
export * as LoopPolicy from "./loop/LoopPolicy.js"

/**
 * Adaptive deadlines from observed latency: `clamp(p95 * k, floor, cap)` per key, after a minimum of samples.
 *
 * @since 0.1.0
 */
export * as AdaptiveTimeout from "./latency/AdaptiveTimeout.js"

/**
 * A learned router: per request segment, a bandit chooses among handlers from rewards; state in its store.
 *
 * @since 0.1.0
 */
export * as Router from "./routing/Router.js"

/**
 * Where learned routers keep their state (arms, decisions and their feedback links, calibration): SQLite, memory
 * or PostgreSQL.
 *
 * @since 0.1.0
 */
export * as RouterStore from "./routing/RouterStore.js"

/**
 * Calibration of a router's confidence against observed rewards: bins, ECE and Brier score.
 *
 * @since 0.1.0
 */
export * as Calibration from "./routing/Calibration.js"

/**
 * Router handlers made of managed modules: modules by id, or versions of one module.
 *
 * @since 0.1.0
 */
export * as ModuleHandlers from "./routing/ModuleHandlers.js"

/**
 * A mergeable quantile sketch (DDSketch) with a relative-error guarantee, for p50/p95/p99 of rollups.
 *
 * @since 0.1.0
 */
export * as QuantileSketch from "./observe/QuantileSketch.js"

/**
 * What a recorded value is about: a metric and its dimensions (module, version, provider, job); selectors.
 *
 * @since 0.1.0
 */
export * as Series from "./observe/Series.js"

/**
 * One series over one interval: count, sum, min, max and a quantile sketch; mergeable.
 *
 * @since 0.1.0
 */
export * as Rollup from "./observe/Rollup.js"

/**
 * Metric history: rollups per series and interval in SQLite, down-sampled to hours, with retention and range
 * queries.
 *
 * @since 0.1.0
 */
export * as MetricHistory from "./observe/MetricHistory.js"

/**
 * Alert rules over metric series: threshold, rate of change, anomaly, forecast crossing; for-duration, cooldown.
 *
 * @since 0.1.0
 */
export * as AlertRule from "./observe/AlertRule.js"

/**
 * An alert: one rule firing on one series, until it resolves.
 *
 * @since 0.1.0
 */
export * as Alert from "./observe/Alert.js"

/**
 * The alerts engine: rules evaluated over the metric history, deduplicated, with cooldown and resolution, handed
 * to sinks.
 *
 * @since 0.1.0
 */
export * as Alerts from "./observe/Alerts.js"

/**
 * Alert sinks: the event store, the log, webhooks (retried with backoff, isolated from serving).
 *
 * @since 0.1.0
 */
export * as AlertSink from "./observe/AlertSink.js"

/**
 * Ready-made alert rules: seed 000's and seed 004's monitors, the LM budget and pool saturation forecasts.
 *
 * @since 0.1.0
 */
export * as AlertPresets from "./observe/AlertPresets.js"

/**
 * The forecasting and detection alert rules use (from `@effect-dspy/analytics`), behind one interface.
 *
 * @since 0.1.0
 */
export * as SeriesModels from "./observe/SeriesModels.js"

/**
 * What feeds the metric history: the application's events, provider gauges, process resources.
 *
 * @since 0.1.0
 */
export * as HistoryFeed from "./observe/HistoryFeed.js"

/**
 * The process's resources (CPU, heap, event-loop delay, handles), sampled.
 *
 * @since 0.1.0
 */
export * as ResourceSampler from "./observe/ResourceSampler.js"

/**
 * The application's health: liveness and readiness (starting, healthy, degraded, unhealthy) with reasons.
 *
 * @since 0.1.0
 */
export * as Health from "./observe/Health.js"

/**
 * A bounded controller resizing pools, workers and rate limits through live Config from queueing, latency and
 * errors.
 *
 * @since 0.1.0
 */
export * as ResourceController from "./observe/ResourceController.js"

/**
 * Weighted load balancing across healthy providers by latency and cost.
 *
 * @since 0.1.0
 */
export * as ProviderBalancer from "./observe/ProviderBalancer.js"

/**
 * Bottleneck recommendations with their figures: the slowest stage, the provider whose tail dominates, low cache
 * hit rates, the process's limits.
 *
 * @since 0.1.0
 */
export * as Recommendations from "./observe/Recommendations.js"

/**
 * Per-module cost-benefit: quality gained per dollar of optimization and serving.
 *
 * @since 0.1.0
 */
export * as CostBenefit from "./observe/CostBenefit.js"

/**
 * Observability as one service: the metric history fed by the application, alerts, balancing, resource control,
 * forecasts and reports, on a loop.
 *
 * @since 0.1.0
 */
export * as Observability from "./observe/Observability.js"

/**
 * The cluster's notice channel: PostgreSQL LISTEN/NOTIFY of swaps, rollbacks and policy changes.
 *
 * @since 0.1.0
 */
export * as ClusterChannel from "./cluster/ClusterChannel.js"

/**
 * Swap propagation across processes sharing PostgreSQL: notices, reconciliation, stale notices ignored.
 *
 * @since 0.1.0
 */
export * as SwapPropagation from "./cluster/SwapPropagation.js"

/**
 * The traffic policies of a cluster, shared on PostgreSQL with a revision per change.
 *
 * @since 0.1.0
 */
export * as PolicyStore from "./cluster/PolicyStore.js"

/**
 * Counters shared by the processes on PostgreSQL: atomic grants within fixed windows.
 *
 * @since 0.1.0
 */
export * as SharedCounter from "./cluster/SharedCounter.js"

/**
 * Rate limits that hold across processes, counted in the shared counters with local leases.
 *
 * @since 0.1.0
 */
export * as SharedRateLimiter from "./cluster/SharedRateLimiter.js"

/**
 * Daily LM-call and cost budgets of a whole cluster.
 *
 * @since 0.1.0
 */
export * as SharedBudget from "./cluster/SharedBudget.js"

/**
 * Data rights: export and erase everything held about an end user or a tenant, derived data included.
 *
 * @since 0.1.0
 */
export * as DataRights from "./rights/DataRights.js"

/**
 * The data-rights archive format: a manifest and JSON-line records.
 *
 * @since 0.1.0
 */
export * as Archive from "./rights/Archive.js"

/**
 * Per-tenant retention, applied by a supervised process.
 *
 * @since 0.1.0
 */
export * as Retention from "./rights/Retention.js"

/**
 * The errors of data rights, their union and guard.
 *
 * @since 0.1.0
 */
export * as RightsError from "./rights/RightsError.js"

/**
 * Per-tenant limits: request rate, LM-call and cost budgets, concurrent optimization jobs, stored modules.
 *
 * @since 0.1.0
 */
export * as Tenants from "./Tenants.js"
