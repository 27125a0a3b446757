import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { type Bench, throughput } from "../Harness.js"

/** A sanity figure for the harness: a bare Effect Deferred round trip (the baseline of the actor benchmark). */
const bench: Bench = {
  name: "baseline",
  description: "bare Deferred round trip through the Effect runtime",
  run: async (report) => {
    const roundTrip = Effect.gen(function* () {
      const d = yield* Deferred.make<number>()
      yield* Effect.fork(Deferred.succeed(d, 1))
      return yield* Deferred.await(d)
    })
    const perSecond = await throughput(() => Effect.runPromise(roundTrip), { durationMs: 500 })
    report({ bench: "baseline", metric: "deferred_round_trip", value: perSecond, unit: "ops/s" })
  }
}

export default bench
