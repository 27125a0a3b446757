/**
 * The server's gate: requests in flight, SSE connections open, and the shutdown signal. At shutdown the gate
 * closes (new requests get 503), waits for the requests in flight, then ends the SSE streams.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

export class Gate {
  inFlight = 0
  sse = 0
  stopping = false
  private waiters: Array<() => void> = []
  constructor(readonly shutdown: Deferred.Deferred<void>) {}

  static make: Effect.Effect<Gate> = Effect.map(Deferred.make<void>(), (d) => new Gate(d))

  enter(): void {
    this.inFlight++
  }

  leave(): void {
    this.inFlight--
    if (this.inFlight === 0) {
      const waiters = this.waiters
      this.waiters = []
      for (const wake of waiters) wake()
    }
  }

  /** Closes the gate, waits up to `grace` for the requests in flight, then ends every SSE stream. */
  drain(grace: Duration.DurationInput): Effect.Effect<{ readonly abandoned: number }> {
    return Effect.gen(this, function* () {
      this.stopping = true
      if (this.inFlight > 0) {
        yield* Effect.async<void>((resume) => {
          this.waiters.push(() => resume(Effect.void))
        }).pipe(Effect.timeoutOption(grace))
      }
      const abandoned = this.inFlight
      yield* Deferred.succeed(this.shutdown, undefined)
      return { abandoned }
    })
  }

  /** A stream that ends at shutdown, counted as an SSE connection while it runs. */
  sseStream<A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> {
    return Stream.unwrapScoped(
      Effect.as(
        Effect.acquireRelease(
          Effect.sync(() => this.sse++),
          () => Effect.sync(() => this.sse--)
        ),
        Stream.interruptWhen(stream, Deferred.await(this.shutdown))
      )
    )
  }
}
