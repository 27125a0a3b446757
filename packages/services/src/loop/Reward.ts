/**
 * Rewards: what a delayed outcome of an execution (a rating, task success, a metric value, satisfaction, a
 * corrected answer) is worth, in [0, 1]. A reward function is any `(outcome, context) => number`; its answer is
 * clamped to [0, 1] (a non-finite answer is refused). Two presets: {@link standard} (the first of metric, rating,
 * success, satisfaction that is given; a corrected answer that differs from the output is 0) and {@link weighted}
 * (seed 002's form: quality, success and satisfaction weighted, minus a latency penalty, renormalised over the
 * parts the outcome gives).
 *
 * @example
 * ```ts
 * import { Reward } from "@effect-dspy/services"
 *
 * const reward = Reward.weighted({ quality: 0.4, success: 0.3, satisfaction: 0.3 })
 * Reward.compute(reward, { metric: 0.9, success: true }, { latencyMs: 120, ok: true, output: {} })
 * ```
 *
 * @since 0.1.0
 */
import { CanonicalJson } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * A delayed outcome of an execution. Every number is in [0, 1]; `corrected` holds the right output fields (they
 * become the label when the experience is exported as an `Example`); `confidence` is how sure the feedback is.
 *
 * @since 0.1.0
 * @category models
 */
export const Outcome = Schema.Struct({
  rating: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  success: Schema.optional(Schema.Boolean),
  metric: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  satisfaction: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  corrected: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  confidence: Schema.optional(Schema.Number.pipe(Schema.between(0, 1)))
})

/**
 * A delayed outcome of an execution.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = typeof Outcome.Type

/**
 * What a reward function sees of the execution besides the outcome.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly latencyMs: number
  readonly ok: boolean
  readonly output: unknown
}

/**
 * A reward function (its answer is clamped to [0, 1] by {@link compute}).
 *
 * @since 0.1.0
 * @category models
 */
export type RewardFn = (outcome: Outcome, context: Context) => number

/**
 * Clamps to [0, 1]; undefined for a value that is not a finite number.
 *
 * @since 0.1.0
 * @category math
 */
export const clamp = (value: number): number | undefined =>
  Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : undefined

/** Whether `corrected` agrees with the output on every field it names. */
const agrees = (corrected: Readonly<Record<string, unknown>>, output: unknown): boolean => {
  if (typeof output !== "object" || output === null) return false
  const get = (k: string): unknown =>
    typeof (output as { get?: unknown }).get === "function"
      ? (output as { get: (k: string) => unknown }).get(k)
      : (output as Record<string, unknown>)[k]
  return Object.entries(corrected).every(
    ([k, v]) => CanonicalJson.stringify(normalise(get(k))) === CanonicalJson.stringify(normalise(v))
  )
}

const normalise = (v: unknown): unknown => (typeof v === "string" ? v.trim().toLowerCase() : v)

/**
 * The standard reward: `metric`, else `rating`, else `success` (1 or 0), else `satisfaction`; with none of them,
 * a `corrected` answer gives 1 when it agrees with the output and 0 when it does not; a failed execution is 0.
 *
 * @since 0.1.0
 * @category presets
 */
export const standard: RewardFn = (outcome, context) => {
  if (!context.ok) return 0
  if (outcome.metric !== undefined) return outcome.metric
  if (outcome.rating !== undefined) return outcome.rating
  if (outcome.success !== undefined) return outcome.success ? 1 : 0
  if (outcome.satisfaction !== undefined) return outcome.satisfaction
  if (outcome.corrected !== undefined) return agrees(outcome.corrected, context.output) ? 1 : 0
  return Number.NaN
}

/**
 * The weights of {@link weighted}: quality (the metric, else the rating, else agreement with a corrected answer),
 * success and satisfaction, and a latency penalty per second above `latencyFreeMs`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Weights {
  readonly quality?: number
  readonly success?: number
  readonly satisfaction?: number
  readonly latencyPenaltyPerSecond?: number
  readonly latencyFreeMs?: number
}

/**
 * Seed 002's weighted reward (defaults 0.4 / 0.3 / 0.3, no latency penalty): the weighted mean of the parts the
 * outcome gives (weights renormalised over them), minus the latency penalty, clamped by {@link compute}.
 *
 * @since 0.1.0
 * @category presets
 */
export const weighted = (weights: Weights = {}): RewardFn => {
  const wq = weights.quality ?? 0.4
  const ws = weights.success ?? 0.3
  const wu = weights.satisfaction ?? 0.3
  const penalty = weights.latencyPenaltyPerSecond ?? 0
  const free = weights.latencyFreeMs ?? 0
  return (outcome, context) => {
    if (!context.ok) return 0
    let sum = 0
    let total = 0
    const quality =
      outcome.metric ??
      outcome.rating ??
      (outcome.corrected === undefined ? undefined : agrees(outcome.corrected, context.output) ? 1 : 0)
    if (quality !== undefined) {
      sum += wq * quality
      total += wq
    }
    if (outcome.success !== undefined) {
      sum += ws * (outcome.success ? 1 : 0)
      total += ws
    }
    if (outcome.satisfaction !== undefined) {
      sum += wu * outcome.satisfaction
      total += wu
    }
    if (total <= 0) return Number.NaN
    return sum / total - (penalty * Math.max(0, context.latencyMs - free)) / 1000
  }
}

/**
 * The reward of an outcome under a function, clamped to [0, 1]; undefined when the function answers no finite
 * number (the outcome says nothing it can score, or it throws).
 *
 * @since 0.1.0
 * @category math
 */
export const compute = (fn: RewardFn, outcome: Outcome, context: Context): number | undefined => {
  try {
    return clamp(fn(outcome, context))
  } catch {
    return undefined
  }
}
