import { Actor, Process, Supervisor } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { type Bench, nowUs, quantile } from "../Harness.js"

/**
 * Restart latency: from the crash of a supervised actor (a failing cast handler) to its replacement's `init`
 * running, under a one_for_one supervisor. Baseline, measured in the same run: the bare mechanism (a fiber
 * fails, its observer forks a replacement fiber that records the time).
 */
let restartedAt = 0
let wake: (() => void) | undefined

const Crashy = Actor.make({
  name: "crashy",
  init: () =>
    Effect.sync(() => {
      restartedAt = nowUs()
      wake?.()
      return 0
    }),
  handleCast: (_: "crash", n: number) => Effect.as(Effect.fail("crash" as const), n)
})

const waitRestart = Effect.async<void>((resume) => {
  wake = () => {
    wake = undefined
    resume(Effect.void)
  }
})

const ITERATIONS = 5000
const WARMUP = 500

const bench: Bench = {
  name: "runtime-restart",
  description: "latency from a supervised actor's crash to its replacement's init (one_for_one)",
  run: async (report) => {
    const figures = await Effect.runPromise(
      Effect.gen(function* () {
        const sup = yield* Supervisor.spawn({
          maxRestarts: 1_000_000,
          maxSeconds: 1,
          children: [Supervisor.worker("crashy", Actor.spawn(Crashy, undefined))]
        })
        const actorSamples: Array<number> = []
        for (let i = 0; i < ITERATIONS + WARMUP; i++) {
          const child = (yield* Supervisor.whichChildren(sup))[0]!.process as Actor.ActorRef<never, never, "crash">
          const restarted = yield* Effect.fork(waitRestart)
          const start = nowUs()
          yield* Actor.cast(child, "crash")
          yield* Fiber.join(restarted)
          if (i >= WARMUP) actorSamples.push(restartedAt - start)
        }
        const tree = yield* Supervisor.describe(sup)
        yield* Process.stop(sup)

        // Baseline: a fiber fails; its observer forks the replacement, which records the time.
        const bareSamples: Array<number> = []
        for (let i = 0; i < ITERATIONS + WARMUP; i++) {
          let at = 0
          const start = nowUs()
          const done = Effect.runFork(
            Effect.async<void>((resume) => {
              const victim = Effect.runFork(Effect.fail("crash"))
              victim.addObserver((_exit: Exit.Exit<never, string>) => {
                Effect.runFork(
                  Effect.sync(() => {
                    at = nowUs()
                    resume(Effect.void)
                  })
                )
              })
            })
          )
          yield* Fiber.join(done)
          if (i >= WARMUP) bareSamples.push(at - start)
        }
        return { actorSamples, bareSamples, restarts: tree.children[0]!.restarts }
      })
    )
    if (figures.restarts !== ITERATIONS + WARMUP) {
      throw new Error(`restart bench: expected ${ITERATIONS + WARMUP} restarts, saw ${figures.restarts}`)
    }
    for (const [metric, q, target] of [
      ["restart_latency_p50", 0.5, "<= 100 us"],
      ["restart_latency_p99", 0.99, null]
    ] as const) {
      report({
        bench: "runtime-restart",
        metric,
        value: quantile(figures.actorSamples, q),
        unit: "us",
        baseline: quantile(figures.bareSamples, q),
        target
      })
    }
  }
}

export default bench
