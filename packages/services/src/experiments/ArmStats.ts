/**
 * What one arm of a traffic policy or experiment has seen, as sufficient statistics: calls served, outcomes
 * observed, errors, cost, a latency histogram (log buckets, 1% relative error) and the reward's sum and sum of
 * squares. Updating is O(1) and allocation-free, so the router can keep it on the hot path; the record is plain
 * JSON, so it is persisted with the router's state and with experiments.
 *
 * @example
 * ```ts
 * import { ArmStats } from "@effect-dspy/services"
 *
 * const stats = ArmStats.empty()
 * ArmStats.record(stats, { latencyMs: 120, error: false, costUsd: 0.002, reward: 1 })
 * ArmStats.latencyQuantile(stats, 0.95) // about 120
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One arm's sufficient statistics. `latency` maps a log-bucket index to its count (see {@link latencyQuantile}).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ArmStats = Schema.Struct({
  /** Calls routed to this arm (served or shadowed). */
  pulls: Schema.Number,
  /** Outcomes observed. */
  n: Schema.Number,
  /** Observed outcomes that were errors. */
  errors: Schema.Number,
  /** Total cost of the observed calls, in US dollars. */
  costSum: Schema.Number,
  /** Total latency of the observed calls, in milliseconds. */
  latencySum: Schema.Number,
  /** Latency histogram: bucket index to count. */
  latency: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** Outcomes that carried a reward (quality in [0, 1]). */
  rewardN: Schema.Number,
  /** Sum of the rewards. */
  rewardSum: Schema.Number,
  /** Sum of the squared rewards. */
  rewardSumSq: Schema.Number
})

/**
 * One arm's sufficient statistics. Mutable: {@link record} updates it in place.
 *
 * @since 0.1.0
 * @category models
 */
export type ArmStats = { -readonly [K in keyof typeof ArmStats.Type]: (typeof ArmStats.Type)[K] } & {
  latency: Record<string, number>
}

/**
 * One observed outcome of a call. `reward` is the quality in [0, 1] when it is known (a metric on a labelled
 * request, production feedback); `error` says whether the call failed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Observation {
  readonly reward?: number | undefined
  readonly latencyMs: number
  readonly error: boolean
  readonly costUsd: number
}

/**
 * Empty statistics.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (): ArmStats => ({
  pulls: 0,
  n: 0,
  errors: 0,
  costSum: 0,
  latencySum: 0,
  latency: {},
  rewardN: 0,
  rewardSum: 0,
  rewardSumSq: 0
})

/**
 * A deep copy (for snapshots: the router keeps mutating its own).
 *
 * @since 0.1.0
 * @category constructors
 */
export const copy = (stats: typeof ArmStats.Type): ArmStats => ({ ...stats, latency: { ...stats.latency } })

const BASE_MS = 0.01
const LOG_GROWTH = Math.log(1.02)

/**
 * The histogram bucket of a latency: bucket `i` holds latencies in (0.01 * 1.02^(i-1), 0.01 * 1.02^i] ms, bucket 0
 * everything up to 0.01 ms.
 *
 * @since 0.1.0
 * @category histogram
 */
export const bucketOf = (latencyMs: number): number =>
  latencyMs <= BASE_MS ? 0 : Math.ceil(Math.log(latencyMs / BASE_MS) / LOG_GROWTH)

/**
 * Records one outcome in place (it does not count a pull: see {@link pull}).
 *
 * @since 0.1.0
 * @category updates
 */
export const record = (stats: ArmStats, observation: Observation): void => {
  stats.n += 1
  if (observation.error) stats.errors += 1
  stats.costSum += observation.costUsd
  stats.latencySum += observation.latencyMs
  const bucket = bucketOf(observation.latencyMs)
  stats.latency[bucket] = (stats.latency[bucket] ?? 0) + 1
  const reward = observation.reward
  if (reward !== undefined) {
    stats.rewardN += 1
    stats.rewardSum += reward
    stats.rewardSumSq += reward * reward
  }
}

/**
 * Counts one call routed to the arm, in place.
 *
 * @since 0.1.0
 * @category updates
 */
export const pull = (stats: ArmStats): void => {
  stats.pulls += 1
}

/**
 * A latency quantile (`q` in [0, 1]) in milliseconds, from the histogram (within 1% of the true value), or
 * `undefined` when nothing was observed.
 *
 * @since 0.1.0
 * @category getters
 */
export const latencyQuantile = (stats: typeof ArmStats.Type, q: number): number | undefined => {
  if (stats.n === 0) return undefined
  const buckets = Object.keys(stats.latency)
    .map(Number)
    .sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil(q * stats.n))
  let seen = 0
  for (const bucket of buckets) {
    seen += stats.latency[bucket] ?? 0
    if (seen >= rank) return bucket === 0 ? BASE_MS : BASE_MS * 1.02 ** (bucket - 0.5)
  }
  const last = buckets[buckets.length - 1] ?? 0
  return BASE_MS * 1.02 ** (last - 0.5)
}

/**
 * The error rate (errors over observed outcomes), 0 before any.
 *
 * @since 0.1.0
 * @category getters
 */
export const errorRate = (stats: typeof ArmStats.Type): number => (stats.n === 0 ? 0 : stats.errors / stats.n)

/**
 * The mean reward, or `undefined` before any reward.
 *
 * @since 0.1.0
 * @category getters
 */
export const meanReward = (stats: typeof ArmStats.Type): number | undefined =>
  stats.rewardN === 0 ? undefined : stats.rewardSum / stats.rewardN

/**
 * The sample variance of the reward (n - 1 in the denominator), 0 below two rewards.
 *
 * @since 0.1.0
 * @category getters
 */
export const rewardVariance = (stats: typeof ArmStats.Type): number => {
  if (stats.rewardN < 2) return 0
  const mean = stats.rewardSum / stats.rewardN
  return Math.max(0, (stats.rewardSumSq - stats.rewardN * mean * mean) / (stats.rewardN - 1))
}

/**
 * The mean cost per observed call, 0 before any.
 *
 * @since 0.1.0
 * @category getters
 */
export const costPerCall = (stats: typeof ArmStats.Type): number => (stats.n === 0 ? 0 : stats.costSum / stats.n)
