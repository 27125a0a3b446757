/**
 * A runner's job workers: at most `size` runs at once, the others waiting in arrival order. It is foundation's
 * `Bulkhead` (FIFO waiters; a finished run hands its slot to the next waiting job directly, waking that one fiber
 * only, where Effect's `Semaphore` wakes every waiter at each release) with a queue as long as the jobs sent.
 */
import { Bulkhead } from "@effect-dspy/foundation"
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

/** A pool of `size` workers (a positive integer: the runner's `jobWorkers`, checked with its settings). */
export const make = (size: number): Effect.Effect<WorkerPool> =>
  Effect.map(
    Effect.orDie(Bulkhead.make("job_workers", { maxConcurrent: size, maxQueued: Number.MAX_SAFE_INTEGER })),
    (bulkhead): WorkerPool => ({
      // The queue is unbounded in practice, so `BulkheadFull` cannot happen: a defect if it ever did.
      withWorker: <A, E, R>(self: Effect.Effect<A, E, R>) =>
        Effect.catchIf(
          bulkhead.run(self),
          (error): error is Bulkhead.BulkheadFull => error instanceof Bulkhead.BulkheadFull,
          (full) => Effect.die(full)
        ) as Effect.Effect<A, E, R>,
      withWorkerIfAvailable: bulkhead.tryRun,
      free: () => size - bulkhead.unsafeStats().running,
      waiting: () => bulkhead.unsafeStats().queued
    })
  )
