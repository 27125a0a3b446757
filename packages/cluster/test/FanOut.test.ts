/**
 * A job's evaluations fan out over the runners (`cluster.scoreShardSize`): two runners in this process on a
 * throwaway PostgreSQL, each on its own simulated LM. A random-search job (candidates scored on a 24-example
 * valset in shards of 4) makes LM calls on both runners, and its swapped program and score are the ones a compile
 * in one process finds with the same data and seed.
 */
import { ClusterJobs, Runner } from "@effect-dspy/cluster"
import { Example, LM, Module, type Provider } from "@effect-dspy/core"
import { Config } from "@effect-dspy/foundation"
import { BootstrapFewShotWithRandomSearch, Optimizer } from "@effect-dspy/optimizers"
import { OptimizationCoordinator, TestPostgres as Postgres } from "@effect-dspy/services"
import { SimLM } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Database from "./support/database.js"
import * as Runners from "./support/runners.js"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const bins = Postgres.findPostgres()

const examples = (n: number, offset: number) =>
  Array.from({ length: n }, (_, i) =>
    Example.make({ question: `What is ${i + offset} + ${2 * i + 1}?`, answer: String(3 * i + offset + 1) }).withInputs(
      "question"
    )
  )
const trainset = examples(6, 1)
const valset = examples(24, 40)

const optimizers = {
  random_search: BootstrapFewShotWithRandomSearch.make({
    numCandidatePrograms: 2,
    maxBootstrappedDemos: 2,
    maxLabeledDemos: 2
  })
}

/** A simulated LM that counts its completions. */
const countingSim = () => {
  const sim = SimLM.make()
  const calls = { n: 0 }
  const provider: Provider.Provider = {
    ...sim,
    complete: (request) =>
      Effect.zipRight(
        Effect.sync(() => calls.n++),
        sim.complete(request)
      )
  }
  return { calls, layer: LM.layerProvider(provider, { model: "sim-1" }) }
}

describe.skipIf(bins === undefined)("evaluation fan-out over the runners", () => {
  it.live(
    "a job's candidate scoring runs on both runners and finds what one process finds",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { pg, program, releases, url } = yield* Database.seeded(bins!, "fanout")
          const runner = (lm: Layer.Layer<LM.LM>, port: number) =>
            Runner.layer({
              url,
              maxConnections: 4,
              settings: { runnerPort: port, shardsPerGroup: 16, scoreShardSize: 4, jobConcurrency: 4 },
              optimizers,
              metrics: { exact_match: OptimizationCoordinator.defaultMetrics().exact_match! }
            }).pipe(Layer.provide(Layer.mergeAll(lm, Config.layer())))
          const a = countingSim()
          const b = countingSim()
          const first = yield* Layer.build(runner(a.layer, yield* Effect.promise(Runners.freePort)))
          yield* Layer.build(runner(b.layer, yield* Effect.promise(Runners.freePort)))
          const jobs = Context.get(first, ClusterJobs.ClusterJobs)
          // Both runners hold shards before the job starts (the second one's share moves to it after it joins).
          const sql = Context.get(pg, SqlClient.SqlClient)
          const deadline = Date.now() + 30_000
          while (
            Number((yield* sql<{ n: number }>`SELECT count(DISTINCT address) AS n FROM cluster_locks`)[0]?.n ?? 0) < 2
          ) {
            if (Date.now() > deadline) return assert.fail("the second runner held no shard after 30 s")
            yield* Effect.sleep("200 millis")
          }

          const { id } = yield* jobs.submit({ moduleId: "qa", optimizer: "random_search", trainset, valset })
          const done = yield* ClusterJobs.awaitJob(id, "100 millis").pipe(
            Effect.provideService(ClusterJobs.ClusterJobs, jobs),
            Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("the job did not end in 60 s") })
          )
          assert.strictEqual(done.status, "swapped", done.error)
          assert.isAbove(a.calls.n, 0, "runner A's LM scored shards")
          assert.isAbove(b.calls.n, 0, "runner B's LM scored shards")

          // The same compile in one process.
          const local = yield* Optimizer.compile(optimizers.random_search, program, {
            trainset,
            valset,
            metric: OptimizationCoordinator.defaultMetrics().exact_match!,
            seed: 0,
            concurrency: 4
          }).pipe(Effect.provide(SimLM.layer()))
          assert.strictEqual(done.score, local.report.bestScore)
          const swapped = Option.getOrThrow(yield* releases.load("qa")).versions.find(
            (v) => v.version === done.swappedVersion
          )
          assert.deepStrictEqual(swapped?.state, Module.dumpState(local.program))
          // Every candidate was scored on every valset example, on one runner or the other.
          assert.isAtLeast(a.calls.n + b.calls.n, local.report.trials.length * valset.length)
        })
      ),
    120_000
  )
})
