import { Example } from "@effect-dspy/core"
import { Correlation, Tenant } from "@effect-dspy/foundation"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import {
  ExperienceStore,
  Experiments,
  Loop,
  ModuleManager,
  OptimizationCoordinator,
  type SharedCounter,
  Tenants,
  TestRuntime
} from "../../src/index.js"

const question = { question: "What is 2 + 3?" }
const spec = { id: "qa", kind: "predict", signature: "question -> answer" } as const

const data = (() => {
  const splits = SimTask.splits(Arithmetic.task, { seed: 0, train: 4, dev: 3, test: 0 })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
  return { trainset: splits.train.map(toExample), valset: splits.dev.map(toExample) }
})()

const acme = Tenant.withTenant("acme")
const globex = Tenant.withTenant("globex")

const tagOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

const runtime = (options: Tenants.Options = {}) => TestRuntime.layer().pipe(Layer.provide(Tenants.layerTest(options)))

describe("Tenants: isolation", () => {
  it.effect("a tenant's module is not found by another tenant, through every ModuleManager call", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const created = yield* acme(modules.create(spec))
      assert.strictEqual(created.id, "qa")
      const run = yield* acme(modules.execute("qa", question))
      assert.strictEqual(run.moduleId, "qa")
      // Every call of another tenant (and of the default tenant, and forged stored names) answers not found.
      for (const as of [globex, Tenant.withTenant("default")]) {
        for (const id of ["qa", "~acme/qa"]) {
          assert.strictEqual(yield* tagOf(as(modules.execute(id, question))), "ModuleNotFound")
          assert.strictEqual(yield* tagOf(as(modules.describe(id))), "ModuleNotFound")
          assert.strictEqual(yield* tagOf(as(modules.history(id))), "ModuleNotFound")
          assert.strictEqual(yield* tagOf(as(modules.program(id))), "ModuleNotFound")
          assert.strictEqual(yield* tagOf(as(modules.swap(id, { instructions: { self: "x" } }))), "ModuleNotFound")
          assert.strictEqual(yield* tagOf(as(modules.rollback(id))), "ModuleNotFound")
          assert.strictEqual(yield* tagOf(as(modules.remove(id))), "ModuleNotFound")
          assert.strictEqual(yield* tagOf(as(modules.policy(id))), "ModuleNotFound")
        }
        assert.deepStrictEqual(
          (yield* as(modules.list)).map((m) => m.id),
          []
        )
      }
      // The tenant sees its own by its own name; the system (unscoped) by the stored name.
      assert.deepStrictEqual(
        (yield* acme(modules.list)).map((m) => m.id),
        ["qa"]
      )
      assert.deepStrictEqual(
        (yield* modules.list).map((m) => m.id),
        ["~acme/qa"]
      )
      // The same name in two tenants is two modules.
      yield* globex(modules.create(spec))
      yield* globex(modules.swap("qa", { instructions: { self: "Answer in words." } }))
      assert.strictEqual((yield* acme(modules.describe("qa"))).version, 1)
      assert.strictEqual((yield* globex(modules.describe("qa"))).version, 2)
    }).pipe(Effect.provide(runtime()))
  )

  it.effect("jobs, experiments and feedback of another tenant are not found", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
      const experiments = yield* Experiments.Experiments
      const loop = yield* Loop.Loop
      yield* acme(modules.create(spec))
      const execution = yield* acme(modules.execute("qa", question))
      assert.strictEqual(
        yield* tagOf(globex(coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }))),
        "ModuleNotFound"
      )
      const job = yield* acme(coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }))
      assert.strictEqual((yield* acme(coordinator.status(job.id))).moduleId, "qa")
      assert.strictEqual(yield* tagOf(globex(coordinator.status(job.id))), "OptimizationJobNotFound")
      assert.strictEqual(yield* tagOf(globex(coordinator.cancel(job.id))), "OptimizationJobNotFound")
      assert.strictEqual(yield* tagOf(globex(coordinator.await(job.id))), "OptimizationJobNotFound")
      assert.deepStrictEqual(yield* globex(coordinator.list), [])
      assert.strictEqual((yield* acme(coordinator.list)).length, 1)
      const done = yield* acme(coordinator.await(job.id))
      assert.include(["swapped", "rejected"], done.status)

      const experiment = yield* acme(experiments.start({ moduleId: "qa", baseline: "1", arms: ["1"] })).pipe(
        Effect.either
      )
      if (experiment._tag === "Right") {
        assert.strictEqual(yield* tagOf(globex(experiments.get(experiment.right.id))), "ExperimentNotFound")
        assert.deepStrictEqual(yield* globex(experiments.list()), [])
      }

      assert.strictEqual(
        yield* tagOf(globex(loop.feedback({ executionId: execution.executionId, outcome: { reward: 1 } as never }))),
        "FeedbackUnknownExecution"
      )
    }).pipe(Effect.provide(runtime()))
  )
})

describe("Tenants: the experience store", () => {
  it.effect("get, byCorrelation, attach and remove of another tenant's execution find nothing", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const store = yield* ExperienceStore.ExperienceStore
      yield* acme(modules.create(spec))
      const execution = yield* acme(modules.execute("qa", question).pipe(Correlation.withCorrelationId("corr-acme-1")))
      const id = execution.executionId
      const mine = yield* acme(Effect.sync(() => store.get(id)))
      assert.strictEqual(mine?.executionId, id)
      assert.strictEqual(yield* globex(Effect.sync(() => store.get(id))), undefined)
      assert.strictEqual((yield* acme(Effect.sync(() => store.byCorrelation("corr-acme-1")))).length, 1)
      assert.deepStrictEqual(yield* globex(Effect.sync(() => store.byCorrelation("corr-acme-1"))), [])
      assert.strictEqual(
        yield* tagOf(globex(store.attach([mine!], { reward: 0 } as never, 0, 0))),
        "FeedbackUnknownExecution"
      )
      assert.strictEqual(mine?.reward, undefined)
      assert.strictEqual(yield* globex(store.remove([id])), 0)
      assert.strictEqual((yield* Effect.sync(() => store.get(id)))?.executionId, id)
      // Its own tenant (and the system, unscoped) reach it.
      yield* acme(store.attach([mine!], { reward: 1 } as never, 1, 0))
      assert.strictEqual(store.get(id)?.reward, 1)
      assert.strictEqual(yield* acme(store.remove([id])), 1)
      assert.strictEqual(store.get(id), undefined)
    }).pipe(Effect.provide(runtime()))
  )
})

describe("Tenants: limits", () => {
  it.effect("an exhausted LM-call budget fails that tenant only, typed", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* acme(modules.create(spec))
      yield* globex(modules.create(spec))
      yield* acme(modules.execute("qa", question))
      const error = yield* Effect.flip(acme(modules.execute("qa", { question: "What is 7 + 1?" })))
      assert.strictEqual(error._tag, "TenantLimitExceeded")
      assert.strictEqual((error as Tenant.TenantLimitExceeded).limit, "lm_calls")
      yield* globex(modules.execute("qa", question))
      yield* globex(modules.execute("qa", { question: "What is 7 + 1?" }))
    }).pipe(Effect.provide(runtime({ limits: { acme: { lmCalls: 1 } } })))
  )

  it.effect("stored modules and concurrent jobs are limited per tenant", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
      yield* acme(modules.create(spec))
      const full = yield* Effect.flip(acme(modules.create({ ...spec, id: "qa2" })))
      assert.strictEqual(full._tag, "TenantLimitExceeded")
      yield* globex(modules.create(spec))
      yield* globex(modules.create({ ...spec, id: "qa2" }))
      const noJobs = yield* Effect.flip(
        acme(coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }))
      )
      assert.strictEqual(noJobs._tag, "TenantLimitExceeded")
      yield* globex(coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }))
    }).pipe(Effect.provide(runtime({ limits: { acme: { maxModules: 1, concurrentJobs: 0 } } })))
  )

  it.effect("with the cluster's shared counters, the budget is spent across processes", () =>
    Effect.gen(function* () {
      // Two processes' limit services over one set of shared counters (the cluster's, on PostgreSQL: a map here).
      const totals = new Map<string, number>()
      const counter: SharedCounter.Service = {
        take: () => Effect.die("not used"),
        add: (key, amount) =>
          Effect.sync(() => {
            const used = (totals.get(key) ?? 0) + amount
            totals.set(key, used)
            return { granted: amount, used, windowLeftMs: 60_000 }
          })
      }
      const options = { limits: { acme: { lmCalls: 3, costUsd: 1 } } }
      const one = yield* Tenants.make(options, { counter, syncMs: 1_000 })
      const two = yield* Tenants.make(options, { counter, syncMs: 1_000 })
      yield* one.admitExecution("acme")
      one.charge("acme", 2, 0.1)
      yield* two.admitExecution("acme")
      two.charge("acme", 1, 0.1)
      // Each process's next admission hands its spend to the counters and reads the cluster's total.
      yield* one.admitExecution("acme")
      assert.strictEqual(totals.get(Tenants.sharedKeys.lmCalls("acme")), 2)
      const first = yield* Effect.flip(two.admitExecution("acme"))
      assert.strictEqual(first.limit, "lm_calls")
      assert.strictEqual(first.used, 3)
      // A process that spent nothing since reads the others' spend within `syncMs` (the Clock).
      yield* TestClock.adjust("1 second")
      const second = yield* Effect.flip(one.admitExecution("acme"))
      assert.strictEqual(second.limit, "lm_calls")
      assert.strictEqual(second.used, 3)
      assert.closeTo(totals.get(Tenants.sharedKeys.costUsd("acme"))!, 0.2, 1e-9)
      // Without the shared counters each process would have seen its own spend only (2 and 1 of 3).
      const alone = yield* Tenants.make(options)
      alone.charge("acme", 2, 0.1)
      yield* alone.admitExecution("acme")
    })
  )

  it.effect("a tenant's request rate", () =>
    Effect.gen(function* () {
      const tenants = yield* Tenants.Tenants
      yield* tenants.admitRequest("acme")
      yield* tenants.admitRequest("acme")
      const error = yield* Effect.flip(tenants.admitRequest("acme"))
      assert.strictEqual(error.limit, "rate")
      yield* tenants.admitRequest("globex")
    }).pipe(Effect.provide(Tenants.layerTest({ limits: { acme: { requestsPerMinute: 2 } } })))
  )
})

describe("Tenants: shared models", () => {
  it.effect("a shared module serves every tenant until a tenant's own version replaces its fork", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      // The operator publishes the shared module (a cross-tenant key runs unscoped).
      yield* modules.create({ ...spec, id: "~shared/qa" })
      const served = yield* acme(modules.execute("qa", question))
      assert.strictEqual(served.moduleId, "qa")
      assert.deepStrictEqual(
        (yield* acme(modules.list)).map((m) => m.id),
        ["qa"]
      )
      // A tenant's change forks the shared module; its fork's first version defers to the shared one.
      const swapped = yield* acme(modules.swap("qa", { instructions: { self: "Answer with a number only." } }))
      assert.strictEqual(swapped.id, "qa")
      const ids = (yield* modules.list).map((m) => m.id)
      assert.deepStrictEqual(ids, ["~acme/qa", "~shared/qa"])
      // acme is now served its own version; globex still the shared one, unchanged.
      assert.strictEqual((yield* acme(modules.describe("qa"))).version, swapped.version)
      assert.strictEqual((yield* globex(modules.describe("qa"))).version, 1)
      const history = yield* modules.history("~acme/qa")
      assert.deepStrictEqual(
        history.map((v) => v.reason),
        ["created", "forked_from_shared", "swapped"]
      )
      // Rolled back to the fork: acme is served the shared module again.
      yield* acme(modules.rollback("qa", 2))
      assert.strictEqual((yield* acme(modules.describe("qa"))).version, 1)
    }).pipe(Effect.provide(runtime()))
  )

  it.effect("a tenant's optimization job forks the shared module; its result serves the tenant only if it won", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
      yield* modules.create({ ...spec, id: "~shared/qa" })
      const job = yield* globex(coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }))
      const done = yield* globex(coordinator.await(job.id))
      assert.strictEqual(done.moduleId, "qa")
      // The job ran on globex's fork, evaluated on globex's data.
      assert.include(
        (yield* modules.list).map((m) => m.id),
        "~globex/qa"
      )
      const served = yield* globex(modules.describe("qa"))
      if (done.status === "swapped") {
        assert.strictEqual(served.version, done.swappedVersion)
      } else {
        // Not better on globex's data: the shared module still serves globex.
        assert.strictEqual(served.version, 1)
      }
      // Other tenants are served the shared module either way.
      assert.strictEqual((yield* acme(modules.describe("qa"))).version, 1)
      assert.strictEqual((yield* modules.describe("~shared/qa")).version, 1)
    }).pipe(Effect.provide(runtime()))
  )
})
