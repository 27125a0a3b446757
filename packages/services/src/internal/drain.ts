/**
 * In-flight tracking for graceful shutdown. Every tracked call runs in a child fiber registered here; `drain`
 * stops admitting new calls (they fail with `ApplicationStopping`), waits (on Effect's Clock) until the calls
 * in flight have finished or the grace period has passed, then interrupts the rest: their callers get
 * `ExecutionAborted`, never a silent interruption.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Stream from "effect/Stream"
import { ApplicationStopping, ExecutionAborted } from "../ServicesError.js"

/** What a drain did: how many calls finished in the grace period and how many were aborted. */
export interface DrainReport {
  readonly drained: number
  readonly aborted: number
}

export class Drain {
  private accepting = true
  private aborted = false
  private graceMs = 0
  private readonly fibers = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
  private streams = 0
  private idle: Deferred.Deferred<void> | undefined
  private readonly abortSignal = Deferred.unsafeMake<never, ExecutionAborted>(FiberId.none)

  constructor(readonly name: string) {}

  /** Calls (and streams) in flight now. */
  get inFlight(): number {
    return this.fibers.size + this.streams
  }

  get isAccepting(): boolean {
    return this.accepting
  }

  private stopping(operation: string): ApplicationStopping {
    return new ApplicationStopping({
      operation,
      message: `${operation} was not started: the application is shutting down (${this.name}). Retry against a running application.`
    })
  }

  private abortedError(operation: string): ExecutionAborted {
    return new ExecutionAborted({
      operation,
      gracePeriodMs: this.graceMs,
      message: `${operation} was still running ${this.graceMs} ms after the application began shutting down and was interrupted; raise the shutdown grace period to let such calls finish.`
    })
  }

  private settle(): void {
    if (this.idle !== undefined && this.inFlight === 0) Deferred.unsafeDone(this.idle, Exit.void)
  }

  /** Why `operation` may not start now (the application is shutting down), or `undefined` when it may. */
  refusal(operation: string): ApplicationStopping | undefined {
    return this.accepting ? undefined : this.stopping(operation)
  }

  /** Runs `effect` as a tracked call. */
  track<A, E, R>(
    operation: string,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ApplicationStopping | ExecutionAborted, R> {
    return Effect.uninterruptibleMask((restore): Effect.Effect<A, E | ApplicationStopping | ExecutionAborted, R> => {
      if (!this.accepting) return Effect.fail(this.stopping(operation))
      return Effect.flatMap(Effect.fork(restore(effect)), (fiber) => {
        this.fibers.add(fiber as Fiber.RuntimeFiber<unknown, unknown>)
        return restore(Fiber.await(fiber)).pipe(
          Effect.onInterrupt(() => Fiber.interrupt(fiber)),
          Effect.ensuring(
            Effect.sync(() => {
              this.fibers.delete(fiber as Fiber.RuntimeFiber<unknown, unknown>)
              this.settle()
            })
          ),
          Effect.flatMap(
            (exit): Effect.Effect<A, E | ExecutionAborted> =>
              Exit.isFailure(exit) && this.aborted && Exit.isInterrupted(exit)
                ? Effect.fail(this.abortedError(operation))
                : exit
          )
        )
      })
    })
  }

  /** True when `fiber` is one of this drain's tracked calls. */
  runs(fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean {
    return this.fibers.has(fiber)
  }

  /**
   * Like `track`, except on a fiber that `outer` already tracks (an LM call made by a tracked module
   * execution): that call is covered by the outer one, so it runs as is (no second fork).
   */
  trackUnlessWithin<A, E, R>(
    outer: Drain,
    operation: string,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ApplicationStopping | ExecutionAborted, R> {
    return Effect.withFiberRuntime((fiber) =>
      outer.runs(fiber as Fiber.RuntimeFiber<unknown, unknown>) ? effect : this.track(operation, effect)
    )
  }

  /** Tracks a stream: refused once draining, failed with `ExecutionAborted` when the grace period ends. */
  trackStream<A, E, R>(
    operation: string,
    stream: Stream.Stream<A, E, R>
  ): Stream.Stream<A, E | ApplicationStopping | ExecutionAborted, R> {
    return Stream.unwrapScoped(
      Effect.suspend(() => {
        if (!this.accepting) return Effect.fail(this.stopping(operation))
        return Effect.as(
          Effect.acquireRelease(
            Effect.sync(() => {
              this.streams++
            }),
            () =>
              Effect.sync(() => {
                this.streams--
                this.settle()
              })
          ),
          Stream.interruptWhen(
            stream,
            Effect.mapError(Deferred.await(this.abortSignal), () => this.abortedError(operation))
          )
        )
      })
    )
  }

  /**
   * Stops admitting calls, waits up to `grace` for those in flight, then aborts the rest and waits for them to
   * end. Idempotent enough for one shutdown.
   */
  drain(grace: Duration.DurationInput): Effect.Effect<DrainReport> {
    return Effect.suspend(() => {
      this.accepting = false
      this.graceMs = Duration.toMillis(Duration.decode(grace))
      const before = this.inFlight
      if (before === 0) return Effect.succeed({ drained: 0, aborted: 0 })
      const idle = Deferred.unsafeMake<void>(FiberId.none)
      this.idle = idle
      // Interruptible even inside a finalizer, so that the grace period's timeout can end the wait.
      return Effect.interruptible(Deferred.await(idle)).pipe(
        Effect.timeout(grace),
        Effect.as({ drained: before, aborted: 0 }),
        Effect.catchTag("TimeoutException", () =>
          Effect.suspend(() => {
            this.aborted = true
            const left = Array.from(this.fibers)
            const aborted = left.length + this.streams
            Deferred.unsafeDone(this.abortSignal, Exit.fail(this.abortedError("a stream")))
            return Effect.as(Fiber.interruptAll(left), { drained: before - aborted, aborted })
          })
        )
      )
    })
  }
}
