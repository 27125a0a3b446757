import { Actor, Process } from "@effect-dspy/runtime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import { type Bench, nowUs } from "../Harness.js"

/**
 * Actor `call` round trip on one actor versus the bare mechanism it is built from (a Deferred sent through a
 * Queue to a fiber that completes it), both measured sequentially inside one Effect run.
 */
const Echo = Actor.make({
  name: "echo",
  init: () => Effect.succeed(0),
  handleCall: (msg: number, n: number) => Effect.succeed(Actor.reply(msg, n + 1))
})

const timed = <E>(iterations: number, body: Effect.Effect<unknown, E>) =>
  Effect.gen(function* () {
    const start = nowUs()
    for (let i = 0; i < iterations; i++) yield* body
    return iterations / ((nowUs() - start) / 1e6)
  })

const best = <E>(rounds: number, measure: Effect.Effect<number, E>) =>
  Effect.gen(function* () {
    let top = 0
    for (let r = 0; r < rounds; r++) top = Math.max(top, yield* measure)
    return top
  })

const bench: Bench = {
  name: "runtime-actor",
  description: "actor call round trip (one actor, sequential caller) vs a bare Deferred + Queue round trip",
  run: async (report) => {
    const iterations = 100_000
    const figures = await Effect.runPromise(
      Effect.gen(function* () {
        const queue = yield* Queue.bounded<Deferred.Deferred<number>>(1024)
        const server = yield* Effect.forkDaemon(
          Effect.forever(Effect.flatMap(Queue.take(queue), (d) => Deferred.succeed(d, 1)))
        )
        const bare = Effect.flatMap(Deferred.make<number>(), (d) =>
          Effect.zipRight(Queue.offer(queue, d), Deferred.await(d))
        )
        const echo = yield* Actor.spawn(Echo, undefined)
        const call = Actor.call(echo, 1)
        // warm up both paths
        yield* timed(20_000, bare)
        yield* timed(20_000, call)
        const baseline = yield* best(3, timed(iterations, bare))
        const actor = yield* best(3, timed(iterations, call))
        yield* Process.stop(echo)
        yield* Fiber.interrupt(server)
        return { baseline, actor }
      })
    )
    report({
      bench: "runtime-actor",
      metric: "call_round_trip",
      value: figures.actor,
      unit: "calls/s",
      baseline: figures.baseline,
      target: ">= 200000 calls/s"
    })
  }
}

export default bench
