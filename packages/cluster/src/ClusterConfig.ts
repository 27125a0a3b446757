/**
 * The settings of a cluster runner (Config `cluster.*`, or given in code): where it listens for the other
 * runners, how many shards the jobs spread over, and the failover timing. The defaults make a runner that stops
 * answering (killed, or frozen: SIGSTOP, a long GC pause, a network partition) lose its shards within about 6 s:
 * shard locks are rows refreshed every `shardLockRefreshMs` and taken over `shardLockExpirationMs` after their
 * last refresh (not PostgreSQL advisory locks, which a frozen runner's open session would keep), and runners are
 * pinged every `healthCheckIntervalMs` with a `healthPingTimeoutMs` answer deadline.
 *
 * @example
 * ```ts
 * import { ClusterConfig } from "@effect-dspy/cluster"
 *
 * const settings = ClusterConfig.make({ runnerPort: 34431, shardsPerGroup: 64 })
 * ```
 *
 * @since 0.1.0
 */
import type { ConfigSchema } from "@effect-dspy/foundation"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { ClusterConfigInvalid } from "./ClusterError.js"

/**
 * A runner's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** The address the other runners reach this one at (default `127.0.0.1`). */
  readonly runnerHost: string
  /** The runner-to-runner port (default 34431). */
  readonly runnerPort: number
  /** The interface to listen on (default: `runnerHost`); `0.0.0.0` behind NAT or in a container. */
  readonly listenHost: string | undefined
  /** Shards per group: the same on every runner (default 64). */
  readonly shardsPerGroup: number
  /** How often a runner refreshes its shard locks (default 1000 ms). */
  readonly shardLockRefreshMs: number
  /** How long after its last refresh a shard lock may be taken over (default 4000 ms). */
  readonly shardLockExpirationMs: number
  /** How often runners are checked (default 1000 ms). */
  readonly healthCheckIntervalMs: number
  /** A ping's answer deadline; a runner that misses two in a row is unhealthy (default 1000 ms). */
  readonly healthPingTimeoutMs: number
  /** Jobs a runner runs at once (default 2). */
  readonly jobWorkers: number
  /** LM calls a runner makes at once, over all its jobs (default 8). */
  readonly lmConcurrency: number
  /** Units a job works on at once (the optimizer's `concurrency`; default 4). */
  readonly jobConcurrency: number
  /**
   * A job received or running with no unit committed for this long is sent again (the watchdog; default 60000 ms):
   * longer than a unit takes, and than a job waits for a worker.
   */
  readonly jobStallMs: number
  /**
   * Examples per shard when a job's evaluations (candidate programs scored on the valset) fan out over the
   * runners: each shard is scored by the runner its request lands on, within that runner's `lmConcurrency`
   * (default 16; 0: a job scores its evaluations itself). An evaluation of no more examples than this is scored
   * by the job's own runner.
   */
  readonly scoreShardSize: number
}

/**
 * The defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Settings = {
  runnerHost: "127.0.0.1",
  runnerPort: 34431,
  listenHost: undefined,
  shardsPerGroup: 64,
  shardLockRefreshMs: 1000,
  shardLockExpirationMs: 4000,
  healthCheckIntervalMs: 1000,
  healthPingTimeoutMs: 1000,
  jobWorkers: 2,
  lmConcurrency: 8,
  jobConcurrency: 4,
  jobStallMs: 60_000,
  scoreShardSize: 16
}

const positive: ReadonlyArray<keyof Settings> = [
  "shardsPerGroup",
  "shardLockRefreshMs",
  "shardLockExpirationMs",
  "healthCheckIntervalMs",
  "healthPingTimeoutMs",
  "jobWorkers",
  "lmConcurrency",
  "jobConcurrency",
  "jobStallMs"
]

/**
 * Checks settings: every count and duration a positive integer, a port in 0-65535 (0 only for tests that pick
 * one), and a lock expiry at least twice the refresh (else a runner loses its shards between two refreshes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (settings: Settings): Either.Either<Settings, ClusterConfigInvalid> => {
  for (const field of positive) {
    const value = settings[field]
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      return Either.left(
        new ClusterConfigInvalid({
          field: `cluster.${field}`,
          message: `cluster.${field} must be a positive integer, got ${String(value)}`
        })
      )
    }
  }
  if (!Number.isInteger(settings.scoreShardSize) || settings.scoreShardSize < 0) {
    return Either.left(
      new ClusterConfigInvalid({
        field: "cluster.scoreShardSize",
        message: `cluster.scoreShardSize must be a whole number of examples (0 turns the fan-out off), got ${String(settings.scoreShardSize)}`
      })
    )
  }
  if (!Number.isInteger(settings.runnerPort) || settings.runnerPort < 0 || settings.runnerPort > 65535) {
    return Either.left(
      new ClusterConfigInvalid({
        field: "cluster.runnerPort",
        message: `cluster.runnerPort must be a port (0-65535), got ${settings.runnerPort}`
      })
    )
  }
  if (settings.runnerHost.trim() === "") {
    return Either.left(
      new ClusterConfigInvalid({
        field: "cluster.runnerHost",
        message: "cluster.runnerHost is empty: give the address the other runners reach this one at"
      })
    )
  }
  if (settings.shardLockExpirationMs < 2 * settings.shardLockRefreshMs) {
    return Either.left(
      new ClusterConfigInvalid({
        field: "cluster.shardLockExpirationMs",
        message: `cluster.shardLockExpirationMs (${settings.shardLockExpirationMs}) must be at least twice cluster.shardLockRefreshMs (${settings.shardLockRefreshMs}), else a runner loses its shards between refreshes`
      })
    )
  }
  return Either.right(settings)
}

/**
 * Settings from the defaults and the given fields, checked.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (settings: Partial<Settings> = {}): Either.Either<Settings, ClusterConfigInvalid> =>
  validate({ ...defaults, ...settings })

/**
 * Settings from the application's configuration (`cluster.*`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig = (config: ConfigSchema.DSPyConfig): Either.Either<Settings, ClusterConfigInvalid> => {
  const c = config.cluster
  return make({
    runnerHost: c.runnerHost,
    runnerPort: c.runnerPort,
    listenHost: c.listenHost,
    shardsPerGroup: c.shardsPerGroup,
    shardLockRefreshMs: c.shardLockRefreshMs,
    shardLockExpirationMs: c.shardLockExpirationMs,
    healthCheckIntervalMs: c.healthCheckIntervalMs,
    healthPingTimeoutMs: c.healthPingTimeoutMs,
    jobWorkers: c.jobWorkers,
    lmConcurrency: c.lmConcurrency,
    jobConcurrency: c.jobConcurrency,
    jobStallMs: c.jobStallMs,
    scoreShardSize: c.scoreShardSize
  })
}

/**
 * The `@effect/cluster` sharding settings of a runner.
 *
 * @since 0.1.0
 * @category conversions
 */
export const shardingConfig = (settings: Settings): Partial<ShardingConfig.ShardingConfig["Type"]> => ({
  runnerAddress: Option.some(RunnerAddress.make(settings.runnerHost, settings.runnerPort)),
  runnerListenAddress:
    settings.listenHost === undefined
      ? Option.none()
      : Option.some(RunnerAddress.make(settings.listenHost, settings.runnerPort)),
  shardsPerGroup: settings.shardsPerGroup,
  // Row locks with an expiry: a frozen runner's session would keep an advisory lock as long as its socket lives.
  shardLockDisableAdvisory: true,
  shardLockRefreshInterval: Duration.millis(settings.shardLockRefreshMs),
  shardLockExpiration: Duration.millis(settings.shardLockExpirationMs),
  runnerHealthCheckInterval: Duration.millis(settings.healthCheckIntervalMs),
  refreshAssignmentsInterval: Duration.millis(settings.shardLockRefreshMs),
  entityMessagePollInterval: Duration.millis(settings.shardLockRefreshMs),
  entityTerminationTimeout: Duration.seconds(2),
  entityMaxIdleTime: Duration.seconds(30)
})
