/**
 * A per-key rate limiter: at most `limit` starts per `scaleMs` for each key, by one of two algorithms.
 *
 * - `"token-bucket"` (default): a bucket of `limit` tokens per key, refilled continuously at `limit` per
 *   `scaleMs`; bursts up to `limit`, then a steady rate. In any interval of length `d` it admits at most
 *   `limit + floor(d * limit / scaleMs)` hits.
 * - `"sliding-window"`: a true sliding log (not an approximating counter): a hit at `t` is admitted when
 *   fewer than `limit` hits were admitted in `(t - scaleMs, t]`, so every window of `scaleMs` holds at most
 *   `limit` admissions.
 *
 * `hit` and `acquire` fail at once with {@link RateLimited} (carrying `retryAfterMs`); `waitFor` sleeps
 * through Effect's Clock until admitted. Rejections increment `dspy.rate_limiter.rejected` (tagged
 * `limiter`). A rate limiter limits starts, not concurrency: pair it with a bulkhead for that. Keys idle for
 * `scaleMs` are dropped (their state is then a fresh key's, so no decision changes). Settings can be replaced
 * live with `reconfigure`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as ConfigSchema from "./ConfigSchema.js"
import * as Limiter from "./internal/limiter.js"
import { decodeSettings, type ProtectionSettingsInvalid } from "./internal/protection.js"
import * as Metrics from "./Metrics.js"
import { RateLimited } from "./FoundationError.js"

export {
  /**
   * Settings given to a protection do not match its schema.
   *
   * @since 0.1.0
   * @category errors
   */
  ProtectionSettingsInvalid
} from "./internal/protection.js"

/**
 * The errors of this module (defined with every error of the package in `FoundationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { RateLimited }

/**
 * An admitted hit: how many more hits the key could make right now.
 *
 * @since 0.1.0
 * @category models
 */
export interface Admission {
  readonly remaining: number
}

/**
 * Options of `waitFor`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** Fail with {@link RateLimited} instead of waiting when the wait would exceed this. Unbounded by default. */
  readonly maxWait?: Duration.DurationInput
}

/**
 * A rate limiter.
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimiter {
  readonly name: string
  /** Counts a hit for the key: admitted (with the hits left) or rejected with {@link RateLimited}. */
  readonly hit: (key: string) => Effect.Effect<Admission, RateLimited>
  /** Like `hit`, without the admission details. */
  readonly acquire: (key: string) => Effect.Effect<void, RateLimited>
  /** Waits (through Effect's Clock) until the key is admitted; interruptible. */
  readonly waitFor: (key: string, options?: WaitOptions) => Effect.Effect<void, RateLimited>
  /** The settings in force. */
  readonly settings: Effect.Effect<ConfigSchema.RateLimiterSettings>
  /** Replaces the settings live; keys keep their state (rescaled), or start afresh if the algorithm changes. */
  readonly reconfigure: (
    settings: typeof ConfigSchema.RateLimiterSettings.Encoded
  ) => Effect.Effect<void, ProtectionSettingsInvalid>
  /** How many keys hold state (idle keys are dropped as calls come in). */
  readonly size: Effect.Effect<number>
}

const decode = decodeSettings(ConfigSchema.RateLimiterSettings, "rate limiter", "RateLimiterSettings")

/**
 * Creates a rate limiter. Invalid settings fail with {@link ProtectionSettingsInvalid}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  name: string,
  settings: typeof ConfigSchema.RateLimiterSettings.Encoded
): Effect.Effect<RateLimiter, ProtectionSettingsInvalid> =>
  Effect.map(decode(name, settings), (initial) => {
    let current = initial
    const entries = new Map<string, Limiter.Entry>()
    let sweptAt = Number.NEGATIVE_INFINITY
    const rejected = Metric.tagged(Metrics.rateLimiterRejected, "limiter", name)

    /** Drops idle keys, at most once per scaleMs (amortised over calls). */
    const sweep = (now: number) => {
      if (now - sweptAt < current.scaleMs) return
      sweptAt = now
      for (const [key, entry] of entries) if (Limiter.isIdle(current, entry, now)) entries.delete(key)
    }

    /** The synchronous decision: hits left (>= 0) or minus the wait in ms (< 0). */
    const decide = (key: string, now: number): number => {
      sweep(now)
      let entry = entries.get(key)
      if (entry === undefined) {
        entry = Limiter.fresh(current, now)
        entries.set(key, entry)
      }
      return Limiter.hit(current, entry, now)
    }

    const limited = (key: string, retryAfterMs: number) =>
      new RateLimited({
        limiter: name,
        key,
        retryAfterMs,
        message: `Rate limiter "${name}" allows ${current.limit} calls per ${current.scaleMs} ms for "${key}" and that limit is reached; the call was not made. Retry in ${retryAfterMs} ms.`
      })

    const reject = (key: string, retryAfterMs: number): Effect.Effect<never, RateLimited> =>
      Effect.zipRight(Metric.increment(rejected), Effect.fail(limited(key, retryAfterMs)))

    const hit = (key: string): Effect.Effect<Admission, RateLimited> =>
      Effect.clockWith((clock) => {
        const result = decide(key, clock.unsafeCurrentTimeMillis())
        return result >= 0 ? Effect.succeed({ remaining: result }) : reject(key, -result)
      })

    const acquire = (key: string): Effect.Effect<void, RateLimited> =>
      Effect.clockWith((clock) => {
        const result = decide(key, clock.unsafeCurrentTimeMillis())
        return result >= 0 ? Effect.void : reject(key, -result)
      })

    const waitFor = (key: string, options?: WaitOptions): Effect.Effect<void, RateLimited> => {
      const maxWaitMs = options?.maxWait === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(options.maxWait)
      const loop = (waited: number): Effect.Effect<void, RateLimited> =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const result = decide(key, now)
          if (result >= 0) return Effect.void
          const wait = -result
          if (waited + wait > maxWaitMs) return reject(key, wait)
          return Effect.zipRight(Effect.sleep(wait), loop(waited + wait))
        })
      return Effect.suspend(() => loop(0))
    }

    return {
      name,
      hit,
      acquire,
      waitFor,
      settings: Effect.sync(() => current),
      reconfigure: (input) =>
        Effect.flatMap(decode(name, input), (next) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            for (const [key, entry] of entries) entries.set(key, Limiter.adapt(current, next, entry, now))
            current = next
          })
        ),
      size: Effect.sync(() => entries.size)
    }
  })
