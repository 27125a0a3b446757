/**
 * One cluster runner process for the cluster bench (spawned by `../cluster.ts`): `Runner.layer` on `DSPY_PG_URL`,
 * listening on `127.0.0.1:DSPY_RUNNER_PORT`, its jobs on the simulated LM with `DSPY_LATENCY_MS` per call, 2 job
 * workers and 8 concurrent LM calls. Prints `ready` once it has joined the cluster.
 */
import { Runner } from "@effect-dspy/cluster"
import { Config } from "@effect-dspy/foundation"
import { BootstrapFewShot } from "@effect-dspy/optimizers"
import { SimLatency, SimLM } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as inspector from "node:inspector"
import * as path from "node:path"

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`cluster bench runner: ${name} is not set`)
  return value
}

const runner = Runner.layer({
  url: Redacted.make(env("DSPY_PG_URL")),
  maxConnections: 8,
  settings: {
    runnerPort: Number(env("DSPY_RUNNER_PORT")),
    jobWorkers: 2,
    lmConcurrency: 8,
    jobConcurrency: Number(env("DSPY_JOB_CONCURRENCY", "4")),
    shardsPerGroup: 64
  },
  optimizers: {
    // The teacher on every example: one LM call and one checkpointed unit per example.
    bootstrap_all: BootstrapFewShot.make({
      maxBootstrappedDemos: 1000,
      maxLabeledDemos: 0,
      maxRounds: 1,
      maxErrors: 1000
    })
  }
}).pipe(
  Layer.provide(
    Layer.mergeAll(SimLM.layer({ latency: SimLatency.fixed(Number(env("DSPY_LATENCY_MS", "50"))) }), Config.layer())
  )
)

const fiber = Effect.runFork(
  Effect.scoped(
    Effect.gen(function* () {
      yield* Layer.build(runner)
      process.stdout.write("ready\n")
      return yield* Effect.never
    })
  )
)
fiber.addObserver((exit) => {
  if (exit._tag === "Failure") {
    process.stderr.write(`runner failed: ${String(exit.cause)}\n`)
    process.exit(1)
  }
})
// Profiling (the bench's `CLUSTER_CPU_PROF_DIR`): SIGUSR2 starts a CPU profile, SIGTERM writes it before exiting.
const profileDir = process.env.CLUSTER_CPU_PROF_DIR
let profiler: inspector.Session | undefined
if (profileDir !== undefined) {
  process.on("SIGUSR2", () => {
    profiler = new inspector.Session()
    profiler.connect()
    profiler.post("Profiler.enable", () => profiler?.post("Profiler.start"))
  })
}
const writeProfile = (done: () => void) => {
  if (profiler === undefined || profileDir === undefined) return done()
  profiler.post("Profiler.stop", (error, result) => {
    if (error === null) {
      fs.writeFileSync(path.join(profileDir, `runner-${process.pid}.cpuprofile`), JSON.stringify(result.profile))
    }
    done()
  })
}
process.once("SIGTERM", () => {
  fiber.addObserver(() => writeProfile(() => process.exit(0)))
  Effect.runFork(fiber.interruptAsFork(fiber.id()))
})
