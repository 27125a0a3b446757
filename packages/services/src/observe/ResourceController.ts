/**
 * A bounded resource controller: it resizes provider pools, the optimization workers and rate limits through the
 * live Config paths (`providers.<name>.poolSize`, `optimization.workers`,
 * `infrastructure.rateLimiters.<key>.limit`) from queueing, latency and error signals. Each knob moves by its
 * `step`, never outside `[min, max]`, and at most once per `cooldownMs`; every change is a `resource_adjusted`
 * event with its reason.
 *
 * - A `capacity` knob (a pool, the workers) grows while work queues or utilization is high and errors are low
 *   (more capacity does not cure failures), and shrinks while utilization is low and nothing waits.
 * - A `rate_limit` knob backs off while errors are high or latency is over its target (the provider is
 *   struggling), and opens up again while calls are rejected by the limiter or queue and errors are low.
 *
 * {@link decide} is pure; {@link make} applies its decisions.
 *
 * @since 0.1.0
 */
import { Events, type Config } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { ObserveInvalidInput } from "../ServicesError.js"
import * as ServicesEvents from "../ServicesEvents.js"

/**
 * What the controller reads for a knob.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signals {
  /** Work waiting (requests waiting for a pool worker, queued optimization jobs, rejected calls). */
  readonly queueing: number
  /** In use over capacity (0 to 1). */
  readonly utilization: number
  /** The p95 latency in ms (NaN when unknown). */
  readonly latencyP95Ms: number
  /** The error rate (0 to 1; NaN when unknown). */
  readonly errorRate: number
}

/**
 * A knob: a live Config path holding a whole number, and how it may move.
 *
 * @since 0.1.0
 * @category models
 */
export interface Knob {
  readonly path: string
  readonly kind: "capacity" | "rate_limit"
  readonly min: number
  readonly max: number
  readonly step: number
  readonly cooldownMs: number
  /** Utilization over this grows capacity (default 0.8); under `low` (default 0.3) shrinks it. */
  readonly high?: number
  readonly low?: number
  /** Errors over this rate: capacity does not grow, a rate limit backs off (default 0.2). */
  readonly maxErrorRate?: number
  /** A rate limit also backs off while the p95 latency is over this (ms). */
  readonly latencyTargetMs?: number
}

/**
 * A change the controller made (or would make).
 *
 * @since 0.1.0
 * @category models
 */
export interface Adjustment {
  readonly path: string
  readonly from: number
  readonly to: number
  readonly reason: string
}

const clamp = (knob: Knob, value: number) => Math.min(knob.max, Math.max(knob.min, value))

/**
 * The knob's next value from its current one and the signals, or `undefined` to leave it (inside the cooldown
 * since `lastChangeAt`, at a bound, or nothing calls for a change).
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide = (
  knob: Knob,
  current: number,
  signals: Signals,
  lastChangeAt: number | undefined,
  now: number
): Adjustment | undefined => {
  if (lastChangeAt !== undefined && now - lastChangeAt < knob.cooldownMs) return undefined
  const high = knob.high ?? 0.8
  const low = knob.low ?? 0.3
  const maxErrors = knob.maxErrorRate ?? 0.2
  const errorsHigh = signals.errorRate > maxErrors
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "unknown")
  let target = current
  let reason = ""
  if (knob.kind === "capacity") {
    if ((signals.queueing > 0 || signals.utilization > high) && !errorsHigh) {
      target = current + knob.step
      reason = `queueing ${fmt(signals.queueing)}, utilization ${fmt(signals.utilization)} > ${high}, errors ${fmt(signals.errorRate)}`
    } else if (signals.queueing === 0 && signals.utilization < low) {
      target = current - knob.step
      reason = `utilization ${fmt(signals.utilization)} < ${low} and nothing waits`
    }
  } else {
    const slow = knob.latencyTargetMs !== undefined && signals.latencyP95Ms > knob.latencyTargetMs
    if (errorsHigh || slow) {
      target = current - knob.step
      reason = errorsHigh
        ? `error rate ${fmt(signals.errorRate)} > ${maxErrors}: backing off`
        : `p95 ${fmt(signals.latencyP95Ms)} ms over the ${knob.latencyTargetMs} ms target: backing off`
    } else if (signals.queueing > 0) {
      target = current + knob.step
      reason = `queueing ${fmt(signals.queueing)} with errors ${fmt(signals.errorRate)}: opening up`
    }
  }
  const to = clamp(knob, target)
  return to === current ? undefined : { path: knob.path, from: current, to, reason }
}

/**
 * Checks a knob; an unusable one is an `ObserveInvalidInput` naming the field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (knob: Knob): Effect.Effect<Knob, ObserveInvalidInput> => {
  const problem =
    typeof knob.path !== "string" || knob.path === ""
      ? "a knob names a live Config path"
      : !(Number.isInteger(knob.min) && knob.min >= 1 && Number.isInteger(knob.max) && knob.max >= knob.min)
        ? `min and max are whole numbers with 1 <= min <= max, got ${knob.min} and ${knob.max}`
        : !(Number.isInteger(knob.step) && knob.step >= 1)
          ? `step is a whole number >= 1, got ${knob.step}`
          : !(Number.isFinite(knob.cooldownMs) && knob.cooldownMs >= 0)
            ? `cooldownMs is >= 0, got ${knob.cooldownMs}`
            : undefined
  return problem === undefined
    ? Effect.succeed(knob)
    : Effect.fail(
        new ObserveInvalidInput({ field: `controller.${knob.path}`, message: `Knob ${knob.path}: ${problem}.` })
      )
}

/**
 * The controller.
 *
 * @since 0.1.0
 * @category models
 */
export interface Controller {
  readonly knobs: ReadonlyArray<Knob>
  /** Reads the signals and applies the knobs' decisions now; returns what changed. */
  readonly step: Effect.Effect<ReadonlyArray<Adjustment>>
}

/**
 * A controller over Config: `signals` reads each knob's signals (undefined: skip it this time).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly config: Config.Service
  readonly events?: Events.Service
  readonly knobs: ReadonlyArray<Knob>
  readonly signals: (knob: Knob) => Effect.Effect<Signals | undefined>
}): Effect.Effect<Controller, ObserveInvalidInput> =>
  Effect.gen(function* () {
    const knobs = yield* Effect.forEach(options.knobs, validate)
    const lastChange = new Map<string, number>()
    const step = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const changes: Array<Adjustment> = []
      for (const knob of knobs) {
        const signals = yield* options.signals(knob)
        if (signals === undefined) continue
        const current = yield* Effect.option(options.config.get(knob.path))
        if (current._tag === "None" || typeof current.value !== "number") {
          yield* Effect.logWarning(`resource controller: ${knob.path} is not a number in the configuration; skipped`)
          continue
        }
        const adjustment = decide(knob, current.value, signals, lastChange.get(knob.path), now)
        if (adjustment === undefined) continue
        const applied = yield* Effect.either(options.config.update(knob.path, adjustment.to))
        if (applied._tag === "Left") {
          yield* Effect.logWarning(`resource controller: ${knob.path} not changed: ${applied.left.message}`)
          continue
        }
        lastChange.set(knob.path, now)
        changes.push(adjustment)
        if (options.events !== undefined) {
          yield* Events.publishOrLog(ServicesEvents.ResourceAdjusted, { ...adjustment }, { events: options.events })
        }
      }
      return changes
    })
    return { knobs, step }
  })
