/**
 * Cluster mode: runner processes on one PostgreSQL database sharing the optimization jobs (`@effect/cluster`
 * entities with persisted messages), failing over from checkpoints, every write fenced by compare-and-swap.
 *
 * @since 0.1.0
 */

/**
 * A runner's settings (Config `cluster.*`) and the failover timing they give.
 *
 * @since 0.1.0
 */
export * as ClusterConfig from "./ClusterConfig.js"

/**
 * The cluster's jobs behind the services' OptimizationCoordinator interface (`serve --cluster`).
 *
 * @since 0.1.0
 */
export * as ClusterCoordinator from "./ClusterCoordinator.js"

/**
 * The errors of cluster mode.
 *
 * @since 0.1.0
 */
export * as ClusterError from "./ClusterError.js"

/**
 * Optimization jobs shared by the runners: submit, status, list, await.
 *
 * @since 0.1.0
 */
export * as ClusterJobs from "./ClusterJobs.js"

/**
 * An optimization job as an `@effect/cluster` entity.
 *
 * @since 0.1.0
 */
export * as JobEntity from "./JobEntity.js"

/**
 * A cluster runner as a layer.
 *
 * @since 0.1.0
 */
export * as Runner from "./Runner.js"

/**
 * Evaluation shards as an `@effect/cluster` entity: how a job's evaluations fan out over the runners.
 *
 * @since 0.1.0
 */
export * as ScoringEntity from "./ScoringEntity.js"
