import * as Runtime from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { type Bench, nowUs, quantile } from "../Harness.js"
import { loadPreChange, preChangeRef, type RuntimeModule } from "./runtime/prechange.js"

/**
 * Restart latency: from the crash of a supervised actor (a failing cast handler) to its replacement's `init`
 * running, under a one_for_one supervisor. Measured in the same run: the bare mechanism (a fiber fails, its
 * observer forks a replacement fiber that records the time) and the pre-change runtime (see
 * `runtime/prechange.ts`); the two runtimes run in alternate rounds and each keeps all its samples.
 */
let restartedAt = 0
let wake: (() => void) | undefined

const crashy = (rt: RuntimeModule) =>
  rt.Actor.make({
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

const ITERATIONS = 2500
const WARMUP = 500
const ROUNDS = 2

/** `ITERATIONS` restarts (after `WARMUP`) under a fresh supervisor of runtime `rt`; samples in microseconds. */
const restarts = (rt: RuntimeModule) =>
  Effect.gen(function* () {
    const sup = yield* rt.Supervisor.spawn({
      maxRestarts: 1_000_000,
      maxSeconds: 1,
      children: [rt.Supervisor.worker("crashy", rt.Actor.spawn(crashy(rt), undefined))]
    })
    const samples: Array<number> = []
    for (let i = 0; i < ITERATIONS + WARMUP; i++) {
      const child = (yield* rt.Supervisor.whichChildren(sup))[0]!.process as Runtime.Actor.ActorRef<
        never,
        never,
        "crash"
      >
      const restarted = yield* Effect.fork(waitRestart)
      const start = nowUs()
      yield* Effect.orDie(rt.Actor.cast(child, "crash"))
      yield* Fiber.join(restarted)
      if (i >= WARMUP) samples.push(restartedAt - start)
    }
    const tree = yield* rt.Supervisor.describe(sup)
    yield* rt.Process.stop(sup)
    if (tree.children[0]!.restarts !== ITERATIONS + WARMUP) {
      throw new Error(`restart bench: expected ${ITERATIONS + WARMUP} restarts, saw ${tree.children[0]!.restarts}`)
    }
    return samples
  })

const bench: Bench = {
  name: "runtime-restart",
  description:
    "latency from a supervised actor's crash to its replacement's init (one_for_one), vs bare fibers and the pre-change runtime",
  run: async (report) => {
    const pre = await loadPreChange()
    try {
      const figures = await Effect.runPromise(
        Effect.gen(function* () {
          const current: Array<number> = []
          const old: Array<number> = []
          for (let r = 0; r < ROUNDS; r++) {
            old.push(...(yield* restarts(pre.runtime)))
            current.push(...(yield* restarts(Runtime)))
          }
          // Baseline: a fiber fails; its observer forks the replacement, which records the time.
          const bare: Array<number> = []
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
            if (i >= WARMUP) bare.push(at - start)
          }
          return { current, old, bare }
        })
      )
      for (const [metric, q, target] of [
        ["restart_latency_p50", 0.5, "<= 100 us"],
        ["restart_latency_p99", 0.99, null]
      ] as const) {
        report({
          bench: "runtime-restart",
          metric,
          value: quantile(figures.current, q),
          unit: "us",
          baseline: quantile(figures.bare, q),
          target
        })
        report({
          bench: "runtime-restart",
          metric: `${metric}_vs_prechange_${preChangeRef}`,
          value: quantile(figures.current, q),
          unit: "us",
          baseline: quantile(figures.old, q),
          target: q === 0.5 ? "<= 1.11x (>= 0.9x the pre-change speed)" : null
        })
      }
    } finally {
      pre.dispose()
    }
  }
}

export default bench
