/**
 * A bulkhead: at most `maxConcurrent` calls run at once; up to `maxQueued` more wait in FIFO order; past that
 * a call fails at once with {@link BulkheadFull}. Waiting is interruptible, and an interrupted waiter leaves
 * nothing behind (its queue place is removed, or a slot handed to it just then is passed on). Settings can be
 * replaced live: a larger `maxConcurrent` starts waiters at once; a smaller one takes effect as calls finish.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import type * as Option from "effect/Option"
import * as ConfigSchema from "./ConfigSchema.js"
import { decodeSettings, type ProtectionSettingsInvalid } from "./internal/protection.js"
import { BulkheadFull } from "./FoundationError.js"

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
export { BulkheadFull }

/**
 * What a bulkhead is doing now.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly running: number
  readonly queued: number
}

/**
 * A bulkhead.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bulkhead {
  readonly name: string
  /** Runs the effect in a slot, waiting in the queue if needed, or fails with {@link BulkheadFull}. */
  readonly run: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFull, R>
  /**
   * Runs the effect in a slot only if one is free now and no call waits for one (`Some` of its result), without
   * queueing; `None` otherwise.
   */
  readonly tryRun: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  /** Calls running and waiting. */
  readonly stats: Effect.Effect<Stats>
  /** Calls running and waiting, read synchronously. */
  readonly unsafeStats: () => Stats
  /** The settings in force. */
  readonly settings: Effect.Effect<ConfigSchema.BulkheadSettings>
  /** Replaces the settings live. */
  readonly reconfigure: (
    settings: typeof ConfigSchema.BulkheadSettings.Encoded
  ) => Effect.Effect<void, ProtectionSettingsInvalid>
}

const decode = decodeSettings(ConfigSchema.BulkheadSettings, "bulkhead", "BulkheadSettings")

/**
 * Creates a bulkhead. Invalid settings fail with {@link ProtectionSettingsInvalid}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  name: string,
  settings: typeof ConfigSchema.BulkheadSettings.Encoded
): Effect.Effect<Bulkhead, ProtectionSettingsInvalid> =>
  Effect.map(decode(name, settings), (initial) => {
    let current = initial
    let running = 0
    // FIFO waiters; a waiter's deferred is completed when a slot is handed to it (running already counts it).
    const waiters: Array<Deferred.Deferred<void>> = []

    /** Hands free slots to waiters, oldest first. */
    const dispatch = () => {
      while (running < current.maxConcurrent && waiters.length > 0) {
        running++
        Deferred.unsafeDone(waiters.shift()!, Effect.void)
      }
    }

    const release = Effect.sync(() => {
      running--
      dispatch()
    })

    const full = () =>
      new BulkheadFull({
        name,
        maxConcurrent: current.maxConcurrent,
        maxQueued: current.maxQueued,
        message: `Bulkhead "${name}" has all ${current.maxConcurrent} slots busy and ${current.maxQueued} calls waiting; the call was not made. Retry later, or raise maxConcurrent / maxQueued.`
      })

    /** Takes a slot: at once, after waiting, or fails. An interrupted wait gives back a slot it was handed. */
    const acquire: Effect.Effect<void, BulkheadFull> = Effect.suspend(() => {
      if (running < current.maxConcurrent && waiters.length === 0) {
        running++
        return Effect.void
      }
      if (waiters.length >= current.maxQueued) return Effect.fail(full())
      const waiter = Deferred.unsafeMake<void>(FiberId.none)
      waiters.push(waiter)
      return Effect.onInterrupt(Deferred.await(waiter), () =>
        Effect.suspend(() => {
          const index = waiters.indexOf(waiter)
          if (index >= 0) {
            waiters.splice(index, 1)
            return Effect.void
          }
          // The slot was handed over as the wait was interrupted: pass it on.
          return release
        })
      )
    })

    const run = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFull, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(restore(acquire), Effect.ensuring(restore(effect), release))
      )

    const tryRun = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          if (running >= current.maxConcurrent || waiters.length > 0) return Effect.succeedNone
          running++
          return Effect.ensuring(Effect.asSome(restore(effect)), release)
        })
      )

    const unsafeStats = (): Stats => ({ running, queued: waiters.length })

    return {
      name,
      run,
      tryRun,
      stats: Effect.sync(unsafeStats),
      unsafeStats,
      settings: Effect.sync(() => current),
      reconfigure: (input) =>
        Effect.flatMap(decode(name, input), (next) =>
          Effect.sync(() => {
            current = next
            dispatch()
          })
        )
    }
  })
