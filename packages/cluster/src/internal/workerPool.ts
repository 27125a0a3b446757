/**
 * A runner's job workers: at most `size` runs at once, the others waiting in arrival order. A finished run hands its
 * worker to the next waiting job directly, waking that one fiber only. (Effect's `Semaphore` wakes every waiter
 * at each release and all but one wait again: with the jobs a busy runner has queued, each finished job would cost
 * a wake-up per queued job.)
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

/** The pool. */
export interface WorkerPool {
  /** Runs `self` holding a worker, waiting for one (in arrival order) when all are busy. */
  readonly withWorker: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Runs `self` holding a worker when one is free now (and no job waits for one); none otherwise. */
  readonly withWorkerIfAvailable: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  /** Workers free now. */
  readonly free: () => number
  /** Jobs waiting for a worker. */
  readonly waiting: () => number
}

/** A pool of `size` workers. */
export const make = (size: number): Effect.Effect<WorkerPool> =>
  Effect.sync(() => {
    let free = size
    const waiters: Array<Deferred.Deferred<void>> = []
    // A finished run's worker goes to the first waiter, else back to the pool.
    const release = Effect.sync(() => {
      const next = waiters.shift()
      if (next === undefined) free++
      else Deferred.unsafeDone(next, Effect.void)
    })
    const acquire: Effect.Effect<void> = Effect.suspend(() => {
      if (free > 0 && waiters.length === 0) {
        free--
        return Effect.void
      }
      return Effect.flatMap(Deferred.make<void>(), (handed) => {
        waiters.push(handed)
        return Effect.onInterrupt(Deferred.await(handed), () =>
          Effect.suspend(() => {
            const at = waiters.indexOf(handed)
            if (at >= 0) {
              waiters.splice(at, 1)
              return Effect.void
            }
            // The worker was handed over as the wait was interrupted: pass it on.
            return release
          })
        )
      })
    })
    const withWorker = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(restore(acquire), Effect.ensuring(restore(self), release))
      )
    const withWorkerIfAvailable = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          if (free === 0 || waiters.length > 0) return Effect.succeedNone
          free--
          return Effect.ensuring(Effect.asSome(restore(self)), release)
        })
      )
    return { withWorker, withWorkerIfAvailable, free: () => free, waiting: () => waiters.length }
  })
