/**
 * One cluster runner as a process, for the fault tests and the cluster bench: a `Runner.layer` on the database
 * `DSPY_PG_URL`, listening on `127.0.0.1:DSPY_RUNNER_PORT`, its jobs on the simulated LM with `DSPY_LATENCY_MS` of
 * latency per call. Prints `ready` when it has joined the cluster; SIGTERM leaves the cluster and exits.
 */
import { Runner } from "@effect-dspy/cluster"
import { Config } from "@effect-dspy/foundation"
import { SimLatency, SimLM } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { optimizers } from "./registry.js"

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`runnerProcess: ${name} is not set`)
  return value
}

const runner = Runner.layer({
  url: Redacted.make(env("DSPY_PG_URL")),
  maxConnections: 6,
  settings: {
    runnerPort: Number(env("DSPY_RUNNER_PORT")),
    jobWorkers: Number(env("DSPY_JOB_WORKERS", "2")),
    lmConcurrency: Number(env("DSPY_LM_CONCURRENCY", "8")),
    jobConcurrency: Number(env("DSPY_JOB_CONCURRENCY", "1")),
    shardsPerGroup: 32
  },
  optimizers
}).pipe(
  Layer.provide(
    Layer.mergeAll(SimLM.layer({ latency: SimLatency.fixed(Number(env("DSPY_LATENCY_MS", "50"))) }), Config.layer())
  )
)

const main = Effect.scoped(
  Effect.gen(function* () {
    yield* Layer.build(runner)
    process.stdout.write("ready\n")
    return yield* Effect.never
  })
)

const fiber = Effect.runFork(main)
const stop = () => {
  Effect.runFork(fiber.interruptAsFork(fiber.id()))
  fiber.addObserver(() => process.exit(0))
}
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
fiber.addObserver((exit) => {
  if (exit._tag === "Failure") {
    process.stderr.write(`runner failed: ${String(exit.cause)}\n`)
    process.exit(1)
  }
})
