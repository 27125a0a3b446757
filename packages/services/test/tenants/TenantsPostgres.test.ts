/**
 * Tenant isolation with the application's state on PostgreSQL (releases, experiments, jobs, checkpoints, events;
 * a server started per file, see support/pgServer.ts), across a restart of the application.
 */
import { Example } from "@effect-dspy/core"
import { Events, Tenant } from "@effect-dspy/foundation"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Experiments, ModuleManager, OptimizationCoordinator, ReleaseStore, TestRuntime } from "../../src/index.js"
import * as PgServer from "../support/pgServer.js"

const pg = PgServer.shared()
const acme = Tenant.withTenant("acme")
const globex = Tenant.withTenant("globex")

const data = (() => {
  const splits = SimTask.splits(Arithmetic.task, { seed: 3, train: 4, dev: 3, test: 0 })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
  return { trainset: splits.train.map(toExample), valset: splits.dev.map(toExample) }
})()

const tagOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

const application = (url: Redacted.Redacted<string>) =>
  TestRuntime.layer({
    config: {
      optimization: { concurrency: 1, swapMargin: 0 },
      storage: { backend: "postgres", postgres: { url: Redacted.value(url), maxConnections: 4 } }
    }
  })

describe.skipIf(PgServer.binaries === undefined)("Tenants on PostgreSQL", () => {
  it.live(
    "a tenant's module, versions, job and events stay its own, across a restart",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const { jobId, versionBefore } = yield* Effect.gen(function* () {
            const modules = yield* ModuleManager.ModuleManager
            const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
            yield* acme(modules.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
            yield* acme(modules.execute("qa", { question: "What is 2 + 3?" }))
            const job = yield* acme(coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }))
            yield* acme(coordinator.await(job.id))
            assert.strictEqual(yield* tagOf(globex(coordinator.status(job.id))), "OptimizationJobNotFound")
            return { jobId: job.id, versionBefore: (yield* acme(modules.describe("qa"))).version }
          }).pipe(Effect.provide(application(url)))

          yield* Effect.gen(function* () {
            const modules = yield* ModuleManager.ModuleManager
            const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
            const experiments = yield* Experiments.Experiments
            const releases = yield* ReleaseStore.ReleaseStore
            // Stored in the database under the tenant's name; made again, the tenant's module is restored.
            assert.isDefined(yield* releases.load("~acme/qa"))
            const restored = yield* acme(modules.create({ id: "qa", kind: "predict", signature: "question -> answer" }))
            assert.strictEqual(restored.id, "qa")
            assert.strictEqual(restored.version, versionBefore)
            assert.strictEqual((yield* acme(coordinator.status(jobId))).moduleId, "qa")
            const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
              modules.describe("qa"),
              modules.history("qa"),
              modules.program("qa")
            ]
            for (const call of calls) {
              assert.strictEqual(yield* tagOf(globex(call)), "ModuleNotFound")
            }
            assert.strictEqual(yield* tagOf(globex(coordinator.status(jobId))), "OptimizationJobNotFound")
            assert.deepStrictEqual(yield* globex(coordinator.list), [])
            assert.deepStrictEqual(yield* globex(modules.list), [])
            assert.deepStrictEqual(yield* globex(experiments.list()), [])
            // Events in the database name the tenant's module by its stored name only.
            const events = yield* Events.query({ limit: 10_000 })
            const scope = Effect.runSync(Tenant.scope.pipe(globex))
            assert.isFalse(events.some((e) => Tenant.eventVisibleTo(scope, e.data)))
          }).pipe(Effect.provide(application(url)))
        })
      ),
    90_000
  )
})
