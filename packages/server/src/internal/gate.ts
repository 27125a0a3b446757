/**
 * The server's gate: requests in flight, SSE connections open, and the shutdown signal. At shutdown the gate
 * closes (new requests get 503), waits for the requests in flight, then ends the SSE streams.
 */
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
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

  /** A raw SSE body (the event tail's) counted as an SSE connection until it closes. */
  sseBody<B extends { once(event: "close", listener: () => void): unknown }>(body: B): B {
    this.sse++
    body.once("close", () => {
      this.sse--
    })
    return body
  }

  /**
   * A stream counted as an SSE connection while it runs. A short stream (an execution, a job's progress) is
   * `interruptWhen` the shutdown; a long-lived one (`live: true`, the event tail) ends itself at shutdown (it races
   * no deferred on every element).
   */
  sseStream<A, E, R>(
    stream: Stream.Stream<A, E, R>,
    options: { readonly live?: boolean } = {}
  ): Stream.Stream<A, E, R> {
    return Stream.unwrapScoped(
      Effect.as(
        Effect.acquireRelease(
          Effect.sync(() => this.sse++),
          () => Effect.sync(() => this.sse--)
        ),
        options.live === true ? stream : Stream.interruptWhen(stream, Deferred.await(this.shutdown))
      )
    )
  }
}
