/**
 * The heap after chaos: the supervised application against the integration tests' chaos server (a seeded mix of
 * valid, malformed, dripped, reset and oversized OpenAI answers; `@effect-dspy/integration-tests/ChaosServer`),
 * `CHAOS_REQUESTS` (default 500) concurrent requests per run, `CHAOS_RUNS` (default 3) runs, each on a fresh
 * application (and fresh in-memory events) closed at its end.
 *
 * Figures:
 * - `chaos_heap_ratio`: the heap in use after the runs and a full collection over the heap before them (after a
 *   warm-up run, so that code and module-level caches are in both); target <= 1.1. Anything a closed
 *   application or an ended request leaves reachable shows here.
 * - `chaos_requests`, `chaos_results`, `chaos_typed_errors`, `chaos_lost` (target 0): the outcomes of the
 *   measured runs; `chaos_unhandled` (target 0): unhandled rejections and process warnings during them.
 */
import * as ChaosRun from "@effect-dspy/integration-tests/ChaosRun"
import * as ChaosServer from "@effect-dspy/integration-tests/ChaosServer"
import { Application } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import type { Bench } from "../Harness.js"

const NAME = "hardening-chaos"
const REQUESTS = Number(process.env.CHAOS_REQUESTS ?? 500)
const RUNS = Number(process.env.CHAOS_RUNS ?? 3)
const WARM_UP = Math.min(REQUESTS, 100)

/** `gc()`: node's (the bench script passes `--expose-gc`), else exposed at run time. */
const gcFunction = (): (() => void) => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed !== undefined) return exposed
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
}

/** One run: a fresh application (over fresh test layers) at the server, `n` requests, then closed. */
const runOnce = (url: string, n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const app = yield* Layer.build(
        Application.layer({ shutdownGracePeriod: "2 seconds" }).pipe(Layer.provideMerge(ChaosRun.foundation(url, n)))
      )
      return yield* Effect.provide(ChaosRun.run(n), app)
    })
  )

const bench: Bench = {
  name: NAME,
  description: `${RUNS} x ${REQUESTS} concurrent requests through the application against a chaos server: heap after / before, outcomes`,
  run: async (report) => {
    const gc = gcFunction()
    const heap = () => {
      gc()
      gc()
      return process.memoryUsage().heapUsed
    }
    let unhandled = 0
    const count = () => {
      unhandled++
    }
    const outcomes = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* ChaosServer.serve(ChaosRun.serverOptions)
          yield* runOnce(server.url, WARM_UP)
          const before = heap()
          process.on("unhandledRejection", count)
          process.on("warning", count)
          const all: Array<ChaosRun.Outcome> = []
          for (let i = 0; i < RUNS; i++) all.push(...(yield* runOnce(server.url, REQUESTS)))
          process.off("unhandledRejection", count)
          process.off("warning", count)
          const after = heap()
          return { all, before, after }
        })
      )
    )
    const { all, before, after } = outcomes
    const mb = (bytes: number) => bytes / 1024 / 1024
    report({
      bench: NAME,
      metric: "chaos_heap_ratio",
      value: after / before,
      unit: "x",
      target: "<= 1.1"
    })
    report({ bench: NAME, metric: "chaos_heap_after_mb", value: mb(after), unit: "MB", baseline: mb(before) })
    const counts = ChaosRun.tally(all)
    const results = counts.result ?? 0
    const lost = counts.lost ?? 0
    report({ bench: NAME, metric: "chaos_requests", value: all.length, unit: "requests" })
    report({ bench: NAME, metric: "chaos_results", value: results, unit: "requests" })
    report({ bench: NAME, metric: "chaos_typed_errors", value: all.length - results - lost, unit: "requests" })
    report({ bench: NAME, metric: "chaos_lost", value: lost, unit: "requests", target: "0" })
    report({ bench: NAME, metric: "chaos_unhandled", value: unhandled, unit: "events", target: "0" })
    process.stderr.write(`# ${NAME}: outcomes ${JSON.stringify(counts)}\n`)
  }
}

export default bench
