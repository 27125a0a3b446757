/**
 * Adaptive deadlines from observed latency: each key (a provider, a module) keeps its last `windowSize`
 * successful latencies, and its deadline is `clamp(quantile(window) * multiplier, floorMs, capMs)` once it has
 * at least `minSamples` of them; before that it has none, and the caller keeps its static timeout. The provider
 * pools use it for their adaptive timeouts and their hedging deadline (config `latency`); `timeout` applies one
 * to any effect (a module's execution, a handler of a router).
 *
 * @example
 * ```ts
 * import { AdaptiveTimeout } from "@effect-dspy/services"
 *
 * const latencies = AdaptiveTimeout.make({ minSamples: 3, windowSize: 100, floorMs: 5, capMs: 1_000 })
 * for (const ms of [10, 12, 40]) latencies.record("provider:a", ms)
 * const deadline = latencies.deadline("provider:a", { quantile: 0.95, multiplier: 2 }) // 80
 * ```
 *
 * @since 0.1.0
 */
import type { ConfigSchema } from "@effect-dspy/foundation"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * What the deadlines are computed from (config `latency`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Samples a key needs before it has a deadline. */
  readonly minSamples: number
  /** The latencies kept per key (the newest). */
  readonly windowSize: number
  readonly floorMs: number
  readonly capMs: number
}

/**
 * Which deadline: the quantile of the window (0.95: the p95) and its multiplier (`k`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Rule {
  readonly quantile: number
  readonly multiplier: number
}

/**
 * The latencies of a set of keys and their deadlines.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdaptiveTimeout {
  readonly settings: Settings
  /** Records one successful latency of `key` (ms). */
  readonly record: (key: string, latencyMs: number) => void
  /** How many latencies `key` has in its window. */
  readonly samples: (key: string) => number
  /** The `quantile` of `key`'s window (undefined with no samples). */
  readonly quantile: (key: string, quantile: number) => number | undefined
  /** `clamp(quantile * multiplier, floorMs, capMs)`, or undefined before `minSamples`. */
  readonly deadline: (key: string, rule: Rule) => number | undefined
  /** Replaces the settings (a smaller window drops the oldest samples at the next record). */
  readonly reconfigure: (settings: Settings) => void
}

interface Window {
  readonly values: Array<number>
  next: number
  count: number
  sorted: Array<number> | undefined
}

/**
 * The settings of config `latency`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const settingsOf = (latency: ConfigSchema.DSPyConfig["latency"]): Settings => ({
  minSamples: latency.minSamples,
  windowSize: latency.windowSize,
  floorMs: latency.floorMs,
  capMs: latency.capMs
})

/**
 * An empty set of windows.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (initial: Settings): AdaptiveTimeout => {
  let settings = initial
  const windows = new Map<string, Window>()
  const sortedOf = (w: Window): Array<number> => {
    if (w.sorted === undefined) w.sorted = w.values.slice(0, w.count).sort((a, b) => a - b)
    return w.sorted
  }
  const quantile = (key: string, q: number): number | undefined => {
    const w = windows.get(key)
    if (w === undefined || w.count === 0) return undefined
    const sorted = sortedOf(w)
    // The nearest-rank quantile: the smallest sample with at least q of the window at or below it.
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
    return sorted[rank]
  }
  return {
    get settings() {
      return settings
    },
    record: (key, latencyMs) => {
      if (!Number.isFinite(latencyMs) || latencyMs < 0) return
      let w = windows.get(key)
      if (w === undefined || w.values.length !== settings.windowSize) {
        const kept = w === undefined ? [] : w.values.slice(0, w.count).slice(-settings.windowSize)
        const values = new Array<number>(settings.windowSize).fill(0)
        kept.forEach((v, i) => {
          values[i] = v
        })
        w = { values, next: kept.length % settings.windowSize, count: kept.length, sorted: undefined }
        windows.set(key, w)
      }
      w.values[w.next] = latencyMs
      w.next = (w.next + 1) % settings.windowSize
      w.count = Math.min(w.count + 1, settings.windowSize)
      w.sorted = undefined
    },
    samples: (key) => windows.get(key)?.count ?? 0,
    quantile,
    deadline: (key, rule) => {
      const w = windows.get(key)
      if (w === undefined || w.count < settings.minSamples) return undefined
      const q = quantile(key, rule.quantile)!
      // Whole milliseconds (rounded up): a deadline is a timer, and a fractional one trips the TestClock.
      return Math.ceil(Math.min(settings.capMs, Math.max(settings.floorMs, q * rule.multiplier)))
    },
    reconfigure: (next) => {
      settings = next
    }
  }
}

/**
 * Runs `effect` under `key`'s deadline (`onTimeout` fails it once the deadline passes; the effect is
 * interrupted), recording its latency (through `Clock`) when it succeeds. Before the key has `minSamples`
 * samples, `fallbackMs` is the deadline (none when undefined).
 *
 * @since 0.1.0
 * @category combinators
 */
export const timeout = <A, E, R, E2>(
  self: AdaptiveTimeout,
  key: string,
  rule: Rule,
  effect: Effect.Effect<A, E, R>,
  options: { readonly fallbackMs?: number | undefined; readonly onTimeout: (deadlineMs: number) => E2 }
): Effect.Effect<A, E | E2, R> =>
  Effect.suspend(() => {
    const deadline = self.deadline(key, rule) ?? options.fallbackMs
    const timed = timed_(self, key, effect)
    return deadline === undefined
      ? timed
      : Effect.flatMap(Effect.timeoutOption(timed, Duration.millis(deadline)), (result) =>
          Option.isSome(result) ? Effect.succeed(result.value) : Effect.fail(options.onTimeout(deadline))
        )
  })

/**
 * Runs `effect`, recording its latency under `key` (through `Clock`) when it succeeds.
 *
 * @since 0.1.0
 * @category combinators
 */
export const timed = <A, E, R>(self: AdaptiveTimeout, key: string, effect: Effect.Effect<A, E, R>) =>
  timed_(self, key, effect)

const timed_ = <A, E, R>(self: AdaptiveTimeout, key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // The fiber's clock read directly (on every module execution): two reads, one step after the effect.
  Effect.clockWith((clock) => {
    const start = clock.unsafeCurrentTimeNanos()
    return Effect.tap(effect, () =>
      Effect.sync(() => self.record(key, Number(clock.unsafeCurrentTimeNanos() - start) / 1_000_000))
    )
  })
