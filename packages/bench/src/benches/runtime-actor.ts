import * as Runtime from "@effect-dspy/runtime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import { type Bench, nowUs } from "../Harness.js"
import { loadPreChange, preChangeRef, type RuntimeModule } from "./runtime/prechange.js"

/**
 * Actor `call` round trip on one actor, sequential caller, against (a) the bare mechanism it is built from
 * (a Deferred sent through a Queue to a fiber that completes it) and (b) the pre-change runtime (see
 * `runtime/prechange.ts`), all measured in this run, rounds interleaved, best round kept. Then the cost of
 * message isolation: the same call carrying a small order object, with isolation `none`, `copy` and `freeze`
 * (the reply is a number, so the difference is the cost of isolating one message).
 */
const echo = (rt: RuntimeModule) =>
  rt.Actor.make({
    name: "echo",
    init: () => Effect.succeed(0),
    handleCall: (msg: unknown, n: number) => Effect.succeed(rt.Actor.reply(typeof msg === "number" ? msg : n, n + 1))
  })

const order = () => ({
  _tag: "Order",
  id: "o-1",
  customer: { name: "Ada", tier: 2 },
  items: [
    { sku: "a-1", qty: 1, price: 9.5 },
    { sku: "b-2", qty: 3, price: 1.25 }
  ]
})

const timed = <E>(iterations: number, body: Effect.Effect<unknown, E>) =>
  Effect.gen(function* () {
    const start = nowUs()
    for (let i = 0; i < iterations; i++) yield* body
    return iterations / ((nowUs() - start) / 1e6)
  })

const bench: Bench = {
  name: "runtime-actor",
  description:
    "actor call round trip (one actor, sequential caller) vs a bare Deferred + Queue round trip and the pre-change runtime; isolation cost per message",
  run: async (report) => {
    const iterations = 100_000
    const rounds = 4
    const pre = await loadPreChange()
    try {
      const figures = await Effect.runPromise(
        Effect.gen(function* () {
          const queue = yield* Queue.bounded<Deferred.Deferred<number>>(1024)
          const server = yield* Effect.forkDaemon(
            Effect.forever(Effect.flatMap(Queue.take(queue), (d) => Deferred.succeed(d, 1)))
          )
          const bare = Effect.flatMap(Deferred.make<number>(), (d) =>
            Effect.zipRight(Queue.offer(queue, d), Deferred.await(d))
          )
          const current = yield* Runtime.Actor.spawn(echo(Runtime), undefined)
          const old = yield* pre.runtime.Actor.spawn(echo(pre.runtime), undefined)
          const copying = yield* Runtime.Actor.spawn({ ...echo(Runtime), isolation: "copy" }, undefined)
          const freezing = yield* Runtime.Actor.spawn({ ...echo(Runtime), isolation: "freeze" }, undefined)
          const paths = {
            bare,
            current: Runtime.Actor.call(current, 1),
            pre: pre.runtime.Actor.call(old, 1),
            none: Effect.suspend(() => Runtime.Actor.call(current, order())),
            copy: Effect.suspend(() => Runtime.Actor.call(copying, order())),
            freeze: Effect.suspend(() => Runtime.Actor.call(freezing, order()))
          }
          const best: Record<keyof typeof paths, number> = { bare: 0, current: 0, pre: 0, none: 0, copy: 0, freeze: 0 }
          for (const path of Object.values(paths)) yield* timed(20_000, path as Effect.Effect<unknown, unknown>)
          for (let r = 0; r < rounds; r++) {
            for (const [name, path] of Object.entries(paths) as Array<
              [keyof typeof paths, Effect.Effect<unknown, unknown>]
            >) {
              best[name] = Math.max(best[name], yield* timed(iterations, path))
            }
          }
          for (const ref of [current, copying, freezing]) yield* Runtime.Process.stop(ref)
          yield* pre.runtime.Process.stop(old)
          yield* Fiber.interrupt(server)
          return best
        })
      )
      report({
        bench: "runtime-actor",
        metric: "call_round_trip",
        value: figures.current,
        unit: "calls/s",
        baseline: figures.bare,
        target: ">= 200000 calls/s"
      })
      report({
        bench: "runtime-actor",
        metric: `call_round_trip_vs_prechange_${preChangeRef}`,
        value: figures.current,
        unit: "calls/s",
        baseline: figures.pre,
        target: ">= 0.9x"
      })
      const perCallNs = (rate: number) => 1e9 / rate
      for (const mode of ["copy", "freeze"] as const) {
        report({
          bench: "runtime-actor",
          metric: `isolation_${mode}_cost_per_message`,
          value: perCallNs(figures[mode]) - perCallNs(figures.none),
          unit: "ns",
          baseline: null,
          target: null
        })
        report({
          bench: "runtime-actor",
          metric: `call_round_trip_isolation_${mode}`,
          value: figures[mode],
          unit: "calls/s",
          baseline: figures.none,
          target: null
        })
      }
    } finally {
      pre.dispose()
    }
  }
}

export default bench
