/**
 * The cluster's jobs behind the coordinator interface (what `serve --cluster` gives the HTTP API): a runner in
 * this process on a throwaway PostgreSQL, jobs on the simulated LM. A job started through the coordinator runs
 * on the cluster and swaps once; a cancelled one stops where it is and never swaps; requests a cluster job
 * cannot honour are refused; tenants see only their own jobs and are held to their job limit.
 */
import { ClusterCoordinator, ClusterJobs, Runner } from "@effect-dspy/cluster"
import { Example } from "@effect-dspy/core"
import { Config, Tenant } from "@effect-dspy/foundation"
import { ClusterChannel, OptimizationCoordinator, TestPostgres as Postgres, Tenants } from "@effect-dspy/services"
import { SimLatency, SimLM } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Database from "./support/database.js"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { optimizers } from "./support/registry.js"
import * as Runners from "./support/runners.js"

const bins = Postgres.findPostgres()

const trainset = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    Example.make({ question: `What is ${i + 1} + ${i + 2}?`, answer: String(2 * i + 3) }).withInputs("question")
  )

/** Polls `check` every 100 ms until it holds (bounded: the runner and the database are real). */
const until = <A>(what: string, check: Effect.Effect<A | undefined, unknown>) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const found = yield* check
      if (found !== undefined) return found
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

describe.skipIf(bins === undefined)("ClusterCoordinator (a runner in process)", () => {
  it.live(
    "jobs run on the cluster, cancel fences a run off, bad requests are refused, tenants are kept apart",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { releases, url } = yield* Database.seeded(bins!, "coordinator", ["qa", "~acme/qa"])
          const port = yield* Effect.promise(Runners.freePort)
          const runner = Runner.layer({
            url,
            maxConnections: 4,
            settings: { runnerPort: port, jobWorkers: 2, lmConcurrency: 4, shardsPerGroup: 8 },
            optimizers
          }).pipe(Layer.provide(Layer.mergeAll(SimLM.layer({ latency: SimLatency.fixed(60) }), Config.layer())))
          const built = yield* Layer.build(
            ClusterCoordinator.layer({ pollInterval: "50 millis" }).pipe(
              Layer.provideMerge(runner),
              Layer.provide(Tenants.layerTest({ limits: { acme: { concurrentJobs: 1 } } }))
            )
          )
          const coordinator = Context.get(built, OptimizationCoordinator.OptimizationCoordinator)
          const clusterJobs = Context.get(built, ClusterJobs.ClusterJobs)
          const versions = (moduleId: string) =>
            Effect.map(releases.load(moduleId), (stored) => Option.getOrThrow(stored).versions)

          const notices: Array<ClusterChannel.Notice> = []
          yield* ClusterChannel.listen(url).pipe(
            Stream.runForEach((event) => Effect.sync(() => event._tag === "Notice" && notices.push(event.notice))),
            Effect.forkScoped
          )

          // 1. A job through the coordinator: it runs on the cluster and swaps once; its updates end swapped.
          const started = yield* coordinator.start({
            moduleId: "qa",
            optimizer: "bootstrap_all",
            trainset: trainset(4)
          })
          assert.isFalse(started.merged)
          const done = yield* coordinator.await(started.id)
          assert.strictEqual(done.status, "swapped", done.error)
          assert.strictEqual(done.moduleVersion, 1)
          assert.strictEqual(done.swappedVersion, 2)
          assert.strictEqual(done.progress.steps, 4, "one committed unit per example")
          const last = Chunk.toReadonlyArray(yield* Stream.runCollect(coordinator.progress(started.id))).at(-1)
          assert.strictEqual(last?._tag === "Status" ? last.job.status : undefined, "swapped")
          // The swap was published to the serving processes (a release notice for version 2).
          yield* until(
            "the swap's release notice",
            Effect.sync(() => (notices.some((n) => n.moduleId === "qa" && n.revision === 2) ? true : undefined))
          )
          assert.deepStrictEqual(
            (yield* versions("qa")).filter((v) => v.lineage.jobId === started.id).map((v) => v.version),
            [2]
          )
          assert.isTrue((yield* coordinator.list).some((job) => job.id === started.id))

          // 2. Cancel mid-run: the job ends cancelled, its run commits no more units and never swaps.
          const long = yield* coordinator.start({ moduleId: "qa", optimizer: "bootstrap_all", trainset: trainset(60) })
          yield* until(
            "the long job to commit 2 units",
            Effect.map(coordinator.status(long.id), (job) => (job.progress.steps >= 2 ? job : undefined))
          )
          const cancelled = yield* coordinator.cancel(long.id)
          assert.strictEqual(cancelled.status, "cancelled")
          const unitsAtCancel = (yield* clusterJobs.status(long.id)).units
          yield* Effect.sleep("700 millis")
          const after = yield* coordinator.status(long.id)
          assert.strictEqual(after.status, "cancelled")
          assert.isAtMost(after.progress.steps, unitsAtCancel + 1, "at most the unit in flight at the cancel")
          assert.isBelow(after.progress.steps, 60)
          assert.isFalse(
            (yield* versions("qa")).some((v) => v.lineage.jobId === long.id),
            "never swapped"
          )
          // Cancelling an ended job answers it as it is.
          assert.strictEqual((yield* coordinator.cancel(started.id)).status, "swapped")
          const missing = yield* Effect.flip(coordinator.cancel("job_nope"))
          assert.strictEqual(missing._tag, "OptimizationJobNotFound")

          // 3. What a cluster job cannot honour is refused, naming the field.
          const budget = yield* Effect.flip(
            coordinator.start({
              moduleId: "qa",
              optimizer: "bootstrap_all",
              trainset: trainset(2),
              budget: { maxLmCalls: 10 }
            })
          )
          assert.strictEqual(budget._tag, "OptimizationRequestInvalid")
          assert.strictEqual(budget._tag === "OptimizationRequestInvalid" ? budget.field : "", "budget")
          const priority = yield* Effect.flip(
            coordinator.start({ moduleId: "qa", optimizer: "bootstrap_all", trainset: trainset(2), priority: 5 })
          )
          assert.strictEqual(priority._tag === "OptimizationRequestInvalid" ? priority.field : "", "priority")
          const unknown = yield* Effect.flip(
            coordinator.start({ moduleId: "nope", optimizer: "bootstrap_all", trainset: trainset(2) })
          )
          assert.strictEqual(unknown._tag, "ModuleNotFound")
          const optimizer = yield* Effect.flip(
            coordinator.start({ moduleId: "qa", optimizer: "nope", trainset: trainset(2) })
          )
          assert.strictEqual(optimizer._tag === "OptimizationRequestInvalid" ? optimizer.field : "", "optimizer")

          // 4. Tenants: acme's job runs on acme's module; another tenant cannot see or cancel it; acme's limit holds.
          const acme = Tenant.make("acme")
          const other = Tenant.make("other")
          const acmeJob = yield* Tenant.withTenant(acme)(
            coordinator.start({ moduleId: "qa", optimizer: "bootstrap_all", trainset: trainset(30) })
          )
          const seen = yield* Tenant.withTenant(acme)(coordinator.status(acmeJob.id))
          assert.strictEqual(seen.moduleId, "qa", "the tenant sees its local name")
          assert.strictEqual((yield* clusterJobs.status(acmeJob.id)).moduleId, "~acme/qa", "stored qualified")
          const limited = yield* Effect.flip(
            Tenant.withTenant(acme)(
              coordinator.start({ moduleId: "qa", optimizer: "bootstrap_all", trainset: trainset(2) })
            )
          )
          assert.strictEqual(limited._tag, "TenantLimitExceeded")
          const hidden = yield* Effect.flip(Tenant.withTenant(other)(coordinator.status(acmeJob.id)))
          assert.strictEqual(hidden._tag, "OptimizationJobNotFound")
          const notCancelled = yield* Effect.flip(Tenant.withTenant(other)(coordinator.cancel(acmeJob.id)))
          assert.strictEqual(notCancelled._tag, "OptimizationJobNotFound")
          assert.deepStrictEqual(yield* Tenant.withTenant(other)(coordinator.list), [])
          const noModule = yield* Effect.flip(
            Tenant.withTenant(other)(
              coordinator.start({ moduleId: "qa", optimizer: "bootstrap_all", trainset: trainset(2) })
            )
          )
          assert.strictEqual(noModule._tag, "ModuleNotFound")
          assert.deepStrictEqual(
            (yield* Tenant.withTenant(acme)(coordinator.list)).map((job) => job.id),
            [acmeJob.id]
          )
          assert.strictEqual((yield* Tenant.withTenant(acme)(coordinator.cancel(acmeJob.id))).status, "cancelled")
        })
      ),
    120_000
  )
})
