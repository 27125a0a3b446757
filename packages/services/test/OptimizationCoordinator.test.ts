import { Evaluate, Example, Module, type Predict } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Config, Events } from "@effect-dspy/foundation"
import { Checkpoint, Optimizer } from "@effect-dspy/optimizers"
import { DynamicSupervisor, Process, Registry } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Application, ModuleManager, OptimizationCoordinator, TestRuntime } from "../src/index.js"

const examples = (seed: number, train: number, dev: number) => {
  const splits = SimTask.splits(Arithmetic.task, { seed, train, dev, test: 0 })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
  return { trainset: splits.train.map(toExample), valset: splits.dev.map(toExample) }
}

const data = examples(0, 6, 4)

const createQa = Effect.flatMap(ModuleManager.ModuleManager, (m) =>
  m.create({ id: "qa", kind: "predict", signature: "question -> answer" })
)

const coordinator = OptimizationCoordinator.OptimizationCoordinator

/** The test runtime with a coordinator over it (and the runtime's services). */
const runtime = (options: TestRuntime.Options = {}, coordinatorOptions: OptimizationCoordinator.Options = {}) =>
  OptimizationCoordinator.layer(coordinatorOptions).pipe(Layer.provideMerge(TestRuntime.layer(options)))

/** Repeats `effect` (yielding between tries, at most 10,000 times) until `until` holds; returns the last value. */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, until: (a: A) => boolean): Effect.Effect<A, E, R> => {
  const loop = (left: number): Effect.Effect<A, E, R> =>
    Effect.flatMap(effect, (a) =>
      until(a) || left === 0 ? Effect.succeed(a) : Effect.zipRight(Effect.yieldNow(), loop(left - 1))
    )
  return loop(10_000)
}

const slowLM = { sim: { default: { latency: TestRuntime.fixedLatency(1000) } } }

const startedOrder = Effect.map(Events.query({ types: ["optimization_started"] }), (events) =>
  events.map((e) => e.data.optimization_id as string)
)

describe("OptimizationCoordinator", () => {
  it.effect("start answers with an id at once; the job runs, is scored and decided", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const started = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data })
      assert.isFalse(started.merged)
      const now = yield* c.status(started.id)
      assert.include(["queued", "running"], now.status)
      const done = yield* c.await(started.id)
      assert.include(["swapped", "rejected"], done.status)
      assert.isDefined(done.servingScore)
      assert.isDefined(done.optimizedScore)
      assert.isAbove(done.progress.steps, 0)
      assert.deepStrictEqual(yield* startedOrder, [started.id])
    }).pipe(Effect.provide(runtime()))
  )

  it.effect("with one worker, queued jobs start by priority (then first come)", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const first = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(1, 3, 2) })
      const low = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", priority: 0, ...examples(2, 3, 2) })
      const high = yield* c.start({
        moduleId: "qa",
        optimizer: "bootstrap_few_shot",
        priority: 9,
        ...examples(3, 3, 2)
      })
      const mid = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", priority: 5, ...examples(4, 3, 2) })
      assert.deepStrictEqual(yield* c.workers, { limit: 1, running: 1, queued: 3 })
      for (const job of [first, low, high, mid]) yield* c.await(job.id)
      assert.deepStrictEqual(yield* startedOrder, [first.id, high.id, mid.id, low.id])
    }).pipe(Effect.provide(runtime({ config: { optimization: { workers: 1 } } })))
  )

  it.effect("a request for the same module version, optimizer, data and metric is merged: one compile", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const request: OptimizationCoordinator.StartRequest = { moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }
      const a = yield* c.start(request)
      const b = yield* c.start({ ...request, priority: 3 })
      assert.strictEqual(b.id, a.id)
      assert.isTrue(b.merged)
      // Rejected (the margin cannot be met), so the module stays at the version the request names.
      assert.strictEqual((yield* c.await(a.id)).status, "rejected")
      const again = yield* c.start(request)
      assert.deepStrictEqual(again, { id: a.id, merged: true })
      // Another metric or other data is another job.
      const other = yield* c.start({ ...request, ...examples(5, 3, 2) })
      assert.isFalse(other.merged)
      yield* c.await(other.id)
      assert.strictEqual((yield* startedOrder).filter((id) => id === a.id).length, 1)
      assert.strictEqual((yield* c.list).length, 2)
    }).pipe(Effect.provide(runtime({ config: { optimization: { swapMargin: 100 } } })))
  )

  it.effect("cancels a queued and a running job: status cancelled, no worker left, the next job starts", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const app = yield* Application.Application
      const supervisor = yield* app.optimizationWorkers
      const running = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(1, 3, 2) })
      const queued = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(2, 3, 2) })
      const next = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(3, 3, 2) })
      // The first job waits in its first LM call (the simulated LM's latency on the TestClock).
      yield* eventually(
        Effect.flatMap(Events.query({ types: ["optimization_started"] }), (e) => Effect.succeed(e.length)),
        (n) => n === 1
      )
      assert.strictEqual(yield* DynamicSupervisor.size(supervisor), 1)

      const cancelledQueued = yield* c.cancel(queued.id)
      assert.strictEqual(cancelledQueued.status, "cancelled")
      assert.strictEqual((yield* c.await(queued.id)).status, "cancelled")

      const cancelledRunning = yield* c.cancel(running.id)
      assert.strictEqual(cancelledRunning.status, "cancelled")
      assert.strictEqual((yield* c.status(running.id)).finishedAt !== undefined, true)
      // The cancelled worker is gone; the third job took the free worker.
      const now = yield* eventually(c.status(next.id), (j) => j.status === "running")
      assert.strictEqual(now.status, "running")
      const children = yield* DynamicSupervisor.whichChildren(supervisor)
      assert.strictEqual(children.length, 1)
      assert.deepStrictEqual(yield* c.workers, { limit: 1, running: 1, queued: 0 })
      assert.deepStrictEqual(yield* startedOrder, [running.id, next.id])
      // Cancelling a finished job changes nothing.
      assert.strictEqual((yield* c.cancel(queued.id)).status, "cancelled")
      const missing = yield* Effect.flip(c.cancel("nope"))
      assert.strictEqual(missing._tag, "OptimizationJobNotFound")
    }).pipe(Effect.provide(runtime({ ...slowLM, config: { optimization: { workers: 1 } } })))
  )

  it.effect("swaps the result in only when it gains the configured margin on the valset", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const modules = yield* ModuleManager.ModuleManager
      const config = yield* Config.Config
      const request: OptimizationCoordinator.StartRequest = { moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }

      yield* config.update("optimization.swapMargin", 100)
      const rejected = yield* c.await((yield* c.start(request)).id)
      assert.strictEqual(rejected.status, "rejected")
      assert.isBelow(rejected.optimizedScore! - rejected.servingScore!, 100)
      assert.strictEqual((yield* modules.describe("qa")).version, 1)

      yield* config.update("optimization.swapMargin", 0)
      const swapped = yield* c.await((yield* c.start({ ...request, seed: 1 })).id)
      assert.strictEqual(swapped.status, "swapped", `scores ${swapped.servingScore} -> ${swapped.optimizedScore}`)
      assert.strictEqual(swapped.swappedVersion, 2)
      assert.strictEqual((yield* modules.describe("qa")).version, 2)
      const types = (yield* Events.query({ types: ["optimization_swapped", "optimization_rejected"] })).map(
        (e) => e.type
      )
      assert.deepStrictEqual(types, ["optimization_rejected", "optimization_swapped"])
    }).pipe(Effect.provide(runtime()))
  )

  it.effect("a swapped job whose version was rolled back is not reported as serving, nor merged into", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const modules = yield* ModuleManager.ModuleManager
      const request: OptimizationCoordinator.StartRequest = {
        moduleId: "qa",
        optimizer: "bootstrap_few_shot",
        ...data,
        seed: 1
      }
      const first = yield* c.await((yield* c.start(request)).id)
      assert.strictEqual(first.status, "swapped")
      assert.isTrue(first.swapCurrent)
      // Back to the student (version 3 = version 1's program): the swap no longer serves.
      yield* modules.rollback("qa", 1)
      const now = yield* c.status(first.id)
      assert.strictEqual(now.swappedVersion, 2)
      assert.isFalse(now.swapCurrent)
      const again = yield* c.start(request)
      assert.isFalse(again.merged)
      const second = yield* c.await(again.id)
      assert.strictEqual(second.servingVersion, 3)
      assert.strictEqual(second.swappedVersion, 4)
      assert.isTrue(second.swapCurrent)
      assert.strictEqual((yield* c.status(first.id)).swapCurrent, false)
      // A rejected job is not a claim about what serves: swapCurrent is undefined.
      yield* Config.update("optimization.swapMargin", 100)
      const rejected = yield* c.await((yield* c.start({ ...request, seed: 2 })).id)
      assert.strictEqual(rejected.status, "rejected")
      assert.isUndefined(rejected.swapCurrent)
    }).pipe(Effect.provide(runtime({ config: { optimization: { swapMargin: 0 } } })))
  )

  it.effect("a change of optimization.workers takes effect at once", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const a = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(1, 3, 2) })
      const b = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(2, 3, 2) })
      assert.deepStrictEqual(yield* c.workers, { limit: 1, running: 1, queued: 1 })
      assert.strictEqual((yield* c.status(b.id)).status, "queued")
      yield* Config.update("optimization.workers", 2)
      const now = yield* eventually(c.status(b.id), (j) => j.status === "running")
      assert.strictEqual(now.status, "running")
      assert.strictEqual((yield* c.status(a.id)).status, "running")
      assert.deepStrictEqual(yield* c.workers, { limit: 2, running: 2, queued: 0 })
    }).pipe(Effect.provide(runtime({ ...slowLM, config: { optimization: { workers: 1 } } })))
  )

  it.effect("streams a job's progress: its statuses and the optimizer's events, ending with the final status", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const first = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(1, 3, 2) })
      const second = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(2, 3, 2) })
      // The second job is queued behind the first: its stream sees everything from its start on.
      const updates = Chunk.toReadonlyArray(yield* Stream.runCollect(c.progress(second.id)))
      const statuses = updates.flatMap((u) => (u._tag === "Status" ? [u.job.status] : []))
      assert.strictEqual(statuses[0], "running")
      assert.include(["swapped", "rejected"], statuses[statuses.length - 1])
      const tags = updates.flatMap((u) => (u._tag === "Progress" ? [u.event._tag] : []))
      assert.strictEqual(tags[0], "Started")
      assert.include(tags, "Step")
      assert.include(tags, "Completed")
      // A finished job's stream replays its history, ending with its final status as it is now.
      const firstJob = yield* c.await(first.id)
      const finished = Chunk.toReadonlyArray(yield* Stream.runCollect(c.progress(first.id)))
      assert.isAbove(finished.length, 3)
      assert.deepStrictEqual(finished[finished.length - 1], { _tag: "Status", job: firstJob })
    }).pipe(Effect.provide(runtime({ config: { optimization: { workers: 1 } } })))
  )

  it.effect("progress subscribed right after start replays the Started event and every step; one count", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const { id } = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(4, 8, 3) })
      // Let the job get going first: before, everything published until the subscription was lost.
      yield* eventually(c.status(id), (j) => j.progress.steps >= 2)
      const updates = Chunk.toReadonlyArray(yield* Stream.runCollect(c.progress(id)))
      const job = yield* c.status(id)
      const events = updates.flatMap((u) => (u._tag === "Progress" ? [u.event] : []))
      assert.strictEqual(events[0]?._tag, "Started")
      const steps = events.filter((e) => e._tag === "Step")
      assert.strictEqual(steps.length, job.progress.steps + job.progress.resumedSteps)
      assert.deepStrictEqual(
        steps.map((s) => s.key),
        [...new Set(steps.map((s) => s.key))],
        "each step once"
      )
      const completed = events.find((e) => e._tag === "Completed")
      assert.isDefined(completed)
      if (completed?._tag !== "Completed") return
      assert.strictEqual(job.progress.lmCalls, completed.lmCalls)
      assert.strictEqual(job.progress.trials, events.filter((e) => e._tag === "Trial").length)
      const statuses = updates.flatMap((u) => (u._tag === "Status" ? [u.job.status] : []))
      assert.strictEqual(statuses[0], "running")
      assert.strictEqual(statuses[statuses.length - 1], job.status)
    }).pipe(Effect.provide(runtime()))
  )

  it.effect("a coordinator restarted on the same database and checkpoint store resumes its job: fewer LM calls", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dspy-coordinator-"))
    const filename = path.join(dir, "jobs.db")
    const checkpoints = Checkpoint.makeMemory()
    const config = { optimization: { concurrency: 1 } }
    const request: OptimizationCoordinator.StartRequest = {
      moduleId: "qa",
      optimizer: "bootstrap_few_shot",
      ...examples(7, 8, 3)
    }
    /** A runtime whose module exists before the coordinator starts (as an application registers its modules). */
    const runtimeWithModule = (
      coordinatorOptions: OptimizationCoordinator.Options,
      store?: Checkpoint.Service,
      withModule = true
    ) => {
      const base = withModule
        ? Layer.provideMerge(Layer.effectDiscard(createQa), TestRuntime.layer({ config }))
        : TestRuntime.layer({ config })
      const coordinatorLayer = OptimizationCoordinator.layer(coordinatorOptions)
      return Layer.provideMerge(
        store === undefined
          ? coordinatorLayer
          : Layer.provide(coordinatorLayer, Layer.succeed(Checkpoint.CheckpointStore, store)),
        base
      )
    }
    const simCalls = Effect.map(
      Effect.flatMap(TestRuntime.SimControl, (sim) => sim.stats("default")),
      (s) => s.calls
    )
    return Effect.gen(function* () {
      // A fresh run, for reference.
      const reference = yield* Effect.gen(function* () {
        const c = yield* coordinator
        const job = yield* c.await((yield* c.start(request)).id)
        return { job, calls: yield* simCalls }
      }).pipe(Effect.provide(runtimeWithModule({})))

      // The first coordinator is stopped mid-job: its metric stalls at the 4th example.
      const midway = yield* Deferred.make<void>()
      let metricCalls = 0
      const stalling: Optimizer.Metric = (example, prediction) => {
        metricCalls++
        if (metricCalls < 4) return Evaluate.answerExactMatch(example, prediction)
        return Effect.zipRight(Deferred.succeed(midway, undefined), Effect.never)
      }
      const id = yield* Effect.gen(function* () {
        const c = yield* coordinator
        const started = yield* c.start(request)
        yield* Deferred.await(midway)
        const job = yield* c.status(started.id)
        assert.strictEqual(job.status, "running")
        assert.isAbove(job.progress.steps, 0)
        return started.id
      }).pipe(Effect.provide(runtimeWithModule({ filename, metrics: { exact_match: stalling } }, checkpoints)))

      // A new coordinator on the same file and store: the job is queued again, waits for its module to be
      // registered, resumes and finishes.
      const resumed = yield* Effect.gen(function* () {
        const c = yield* coordinator
        yield* Effect.yieldNow()
        assert.strictEqual((yield* c.status(id)).status, "queued")
        yield* createQa
        const job = yield* c.await(id)
        return { job, calls: yield* simCalls, jobs: yield* c.list }
      }).pipe(Effect.provide(runtimeWithModule({ filename }, checkpoints, false)))

      assert.strictEqual(resumed.jobs.length, 1)
      assert.include(["swapped", "rejected"], resumed.job.status)
      assert.isAbove(resumed.job.progress.resumedSteps, 0)
      assert.isBelow(resumed.calls, reference.calls)
      assert.strictEqual(resumed.job.optimizedScore, reference.job.optimizedScore)
      assert.strictEqual(resumed.job.status, reference.job.status)
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
  })

  it.effect("Application.layer provides a coordinator whose job workers are children of optimization_workers", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const app = yield* Application.Application
      const started = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data })
      assert.strictEqual((yield* c.status(started.id)).status, "running")
      const tree = yield* app.describe
      const slot = tree.children.find((child) => child.id === "optimization_workers")
      assert.strictEqual(slot?.children.length, 1)
      assert.strictEqual((yield* c.cancel(started.id)).status, "cancelled")
      assert.strictEqual(yield* DynamicSupervisor.size(yield* app.optimizationWorkers), 0)
    }).pipe(
      Effect.provide(
        // A metric that never answers keeps the job running until it is cancelled.
        Application.layerDefault({
          config: { env: false },
          optimization: { coordinator: { metrics: { exact_match: () => Effect.never } } }
        })
      )
    )
  )

  it.effect("a job whose worker is killed is queued again and restarts under a new worker", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const app = yield* Application.Application
      const supervisor = yield* app.optimizationWorkers
      const job = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(1, 3, 2) })
      yield* eventually(startedOrder, (ids) => ids.length === 1)
      const [worker] = yield* DynamicSupervisor.whichChildren(supervisor)
      yield* Process.kill(worker!.process!)
      const restarted = yield* eventually(startedOrder, (ids) => ids.length === 2)
      assert.deepStrictEqual(restarted, [job.id, job.id])
      assert.strictEqual((yield* c.status(job.id)).status, "running")
      const [replacement] = yield* DynamicSupervisor.whichChildren(supervisor)
      assert.notStrictEqual(replacement!.process, worker!.process)
    }).pipe(Effect.provide(runtime(slowLM)))
  )

  it.effect(
    "the application's dispatcher process, killed, is restarted; queued jobs still start, new starts are taken",
    () =>
      Effect.gen(function* () {
        yield* createQa
        const c = yield* coordinator
        const app = yield* Application.Application
        const registry = yield* Registry.Registry
        const request = (seed: number) => ({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(seed, 3, 2) })
        const first = yield* c.start(request(1))
        const second = yield* c.start(request(2))
        assert.deepStrictEqual(yield* c.workers, { limit: 1, running: 1, queued: 1 })

        const dispatcher = yield* registry.lookup(OptimizationCoordinator.actorName)
        yield* Process.kill(dispatcher)
        const replacement = yield* eventually(
          registry.whereis(OptimizationCoordinator.actorName),
          (found) => Option.isSome(found) && found.value.pid !== dispatcher.pid
        )
        assert.isTrue(Option.isSome(replacement))
        const tree = yield* app.describe
        const node = tree.children.find((child) => child.id === "optimization_coordinator")!
        assert.strictEqual(node.restarts, 1)
        assert.strictEqual(node.status, "running")
        // The running job was not touched; a start after the restart is taken by the new process.
        assert.strictEqual((yield* c.status(first.id)).status, "running")
        const third = yield* c.start(request(3))

        const all = yield* Effect.fork(Effect.forEach([first, second, third], (job) => c.await(job.id)))
        for (let i = 0; i < 2_000 && all.unsafePoll() === null; i++) yield* TestClock.adjust("1 second")
        const jobs = yield* Fiber.join(all)
        assert.isTrue(jobs.every((job) => job.status === "swapped" || job.status === "rejected"))
        assert.deepStrictEqual(yield* startedOrder, [first.id, second.id, third.id])
        // Each worker was listed under its job's id while it ran; none is left.
        assert.deepStrictEqual(yield* DynamicSupervisor.whichChildren(yield* app.optimizationWorkers), [])
      }).pipe(Effect.provide(TestRuntime.layer({ ...slowLM, config: { optimization: { workers: 1 } } })))
  )

  it.effect("a running job's worker is listed under the job's id in the tree", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const app = yield* Application.Application
      const job = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(1, 3, 2) })
      const workers = yield* DynamicSupervisor.whichChildren(yield* app.optimizationWorkers)
      assert.deepStrictEqual(
        workers.map((w) => w.id),
        [`job:${job.id}`]
      )
      assert.include(yield* app.render, `job:${job.id} (worker)`)
    }).pipe(Effect.provide(TestRuntime.layer(slowLM)))
  )

  it.effect("a job that cannot run ends failed with its error, and the next one starts", () =>
    Effect.gen(function* () {
      yield* createQa
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "gone", kind: "predict", signature: "question -> answer" })
      const c = yield* coordinator
      const first = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(1, 3, 2) })
      const doomed = yield* c.start({ moduleId: "gone", optimizer: "bootstrap_few_shot", ...examples(2, 3, 2) })
      const after = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...examples(3, 3, 2) })
      // The module of the queued job is removed before its turn comes.
      yield* modules.remove("gone")
      yield* c.cancel(first.id)
      const failed = yield* c.await(doomed.id)
      assert.strictEqual(failed.status, "failed")
      assert.include(failed.error ?? "", "gone")
      const next = yield* eventually(c.status(after.id), (j) => j.status === "running")
      assert.strictEqual(next.status, "running")
    }).pipe(Effect.provide(runtime({ ...slowLM, config: { optimization: { workers: 1 } } })))
  )

  it.effect("a job's LM calls count what its Completed event counts, calls outside units included", () => {
    // An optimizer that makes one call in a unit of work and one outside any (as a proposer can): the steps
    // report 1, the run made 2. Before, job.progress.lmCalls kept the steps' count (1) against Completed's (2).
    const probe = Optimizer.make({
      name: "probe",
      settings: {},
      compile: (student, run) =>
        Effect.gen(function* () {
          yield* Effect.orDie(run.unit("probe/0", Optimizer.callProgram(student, run.trainset[0]!)))
          yield* Effect.ignore(Optimizer.callProgram(student, run.trainset[1]!))
          return { program: student }
        })
    })
    return Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const { id } = yield* c.start({ moduleId: "qa", optimizer: "probe", ...examples(2, 3, 2) })
      const updates = Chunk.toReadonlyArray(yield* Stream.runCollect(c.progress(id)))
      const events = updates.flatMap((u) => (u._tag === "Progress" ? [u.event] : []))
      const steps = events.filter((e) => e._tag === "Step")
      assert.deepStrictEqual(
        steps.map((e) => e.lmCalls),
        [1]
      )
      const completed = events.find((e) => e._tag === "Completed")
      assert.strictEqual(completed?._tag === "Completed" ? completed.lmCalls : undefined, 2)
      assert.strictEqual((yield* c.status(id)).progress.lmCalls, 2)
    }).pipe(Effect.provide(runtime({}, { optimizers: { probe } })))
  })

  it.effect("rejects unknown optimizers, metrics and modules with typed errors", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      const badOptimizer = yield* Effect.flip(c.start({ moduleId: "qa", optimizer: "nope", ...data }))
      assert.strictEqual(badOptimizer._tag, "OptimizationRequestInvalid")
      const badMetric = yield* Effect.flip(c.start({ moduleId: "qa", optimizer: "copro", metric: "f9", ...data }))
      assert.strictEqual(badMetric._tag, "OptimizationRequestInvalid")
      const badModule = yield* Effect.flip(c.start({ moduleId: "zz", optimizer: "copro", ...data }))
      assert.strictEqual(badModule._tag, "ModuleNotFound")
      assert.deepStrictEqual(yield* c.list, [])
    }).pipe(Effect.provide(runtime()))
  )

  describe("the swap is a compare-and-swap against the version the job scored", () => {
    /** An optimizer that compiles at once (no LM call, no metric call): the student with new instructions. */
    const instruct = Optimizer.make({
      name: "instruct",
      settings: {},
      compile: (student) =>
        Effect.succeed({ program: Either.getOrThrow(Module.withInstructions(student, { self: "OPTIMIZED" })) })
    })
    /**
     * A metric that scores every prediction 1 (so with swapMargin 0 the job always swaps) and, while `changes`
     * has some, runs the next one first: a manual change landing while the job scores, before its swap.
     */
    const changes: Array<Effect.Effect<unknown, unknown>> = []
    let metricCalls = 0
    const interfering: Optimizer.Metric = () => {
      metricCalls++
      const change = changes.shift()
      return change === undefined ? 1 : Effect.as(change, 1)
    }
    const coordinated = runtime(
      { config: { optimization: { swapMargin: 0 } } },
      { optimizers: { instruct }, metrics: { interfering } }
    )
    const request: OptimizationCoordinator.StartRequest = {
      moduleId: "qa",
      optimizer: "instruct",
      metric: "interfering",
      ...data
    }
    const instructionsOf = (modules: ModuleManager.Service, version: number) =>
      Effect.map(modules.program("qa", version), (p) => (p as Predict.Any).signature.instructions)

    it.effect(
      "a manual swap between the scoring and the job's swap: the job re-scores against it and swaps on top",
      () =>
        Effect.gen(function* () {
          changes.length = 0
          metricCalls = 0
          yield* createQa
          const c = yield* coordinator
          const modules = yield* ModuleManager.ModuleManager
          // The first metric call (the job scoring serving version 1, after its compile) swaps version 2 in by hand.
          changes.push(modules.swap("qa", { instructions: { self: "MANUAL" } }))
          const job = yield* c.await((yield* c.start(request)).id)

          assert.strictEqual(job.status, "swapped", job.error)
          assert.strictEqual(job.servingVersion, 2)
          assert.strictEqual(job.swappedVersion, 3)
          assert.strictEqual(job.servingScore, 100)
          assert.strictEqual(job.optimizedScore, 100)
          assert.isUndefined(job.error)
          // Scored: serving version 1, the optimized program, then (after the conflict) serving version 2.
          assert.strictEqual(metricCalls, data.valset.length * 3)
          // The manual version was not overwritten: it is version 2, and the job's swap came after it.
          assert.deepStrictEqual(
            (yield* modules.history("qa")).map((v) => [v.version, v.reason, v.current]),
            [
              [1, "created", false],
              [2, "swapped", false],
              [3, "swapped", true]
            ]
          )
          assert.strictEqual(yield* instructionsOf(modules, 2), "MANUAL")
          assert.strictEqual(yield* instructionsOf(modules, 3), "OPTIMIZED")
          const conflicts = yield* Events.query({ types: ["optimization_swap_conflict"] })
          assert.deepStrictEqual(
            conflicts.map((e) => e.data),
            [
              {
                optimization_id: job.id,
                module_id: "qa",
                expected_version: 1,
                actual_version: 2,
                attempt: 1,
                max_attempts: OptimizationCoordinator.swapAttempts
              }
            ]
          )
          const [swapped] = yield* Events.query({ types: ["optimization_swapped"] })
          assert.strictEqual(swapped!.data.serving_version, 2)
          assert.strictEqual(swapped!.data.version, 3)
          assert.strictEqual(swapped!.data.attempt, 2)
        }).pipe(Effect.provide(coordinated))
    )

    it.effect("a module that changes under every decision: the job gives up after swapAttempts, rejected", () =>
      Effect.gen(function* () {
        changes.length = 0
        metricCalls = 0
        yield* createQa
        const c = yield* coordinator
        const modules = yield* ModuleManager.ModuleManager
        // Every metric call swaps a new version in by hand: each decision finds the module changed.
        const calls = data.valset.length * (1 + OptimizationCoordinator.swapAttempts)
        for (let i = 0; i < calls; i++) changes.push(modules.swap("qa", { instructions: { self: `MANUAL ${i}` } }))
        const job = yield* c.await((yield* c.start(request)).id)

        assert.strictEqual(job.status, "rejected")
        assert.isUndefined(job.swappedVersion)
        assert.include(job.error ?? "", `${OptimizationCoordinator.swapAttempts} times`)
        const conflicts = (yield* Events.query({ types: ["optimization_swap_conflict"] })).map((e) => e.data)
        assert.deepStrictEqual(
          conflicts.map((d) => d.attempt),
          [1, 2, 3]
        )
        // Each re-decision was against the version that had been serving at the previous swap.
        assert.strictEqual(conflicts[1]!.expected_version, conflicts[0]!.actual_version)
        assert.strictEqual(conflicts[2]!.expected_version, conflicts[1]!.actual_version)
        // The job records the last version it compared against; none of the versions is the job's.
        assert.strictEqual(job.servingVersion, conflicts[2]!.expected_version)
        const versions = yield* modules.history("qa")
        assert.strictEqual(versions.length, 1 + calls)
        for (const v of versions) assert.notStrictEqual(yield* instructionsOf(modules, v.version), "OPTIMIZED")
        const [rejected] = yield* Events.query({ types: ["optimization_rejected"] })
        assert.strictEqual(rejected!.data.reason, "swap_conflicts")
        assert.strictEqual(rejected!.data.current_version, conflicts[2]!.actual_version)
      }).pipe(Effect.provide(coordinated))
    )
  })

  it.effect("a job database deleted while running fails the next start with OptimizationStoreError", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dspy-coordinator-lost-"))
    const filename = path.join(dir, "jobs.db")
    return Effect.gen(function* () {
      yield* createQa
      const c = yield* coordinator
      for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(filename + suffix, { force: true })
      const error = yield* Effect.flip(c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data }))
      assert.strictEqual(error._tag, "OptimizationStoreError")
      assert.include(error.message, "deleted")
    }).pipe(
      Effect.provide(runtime({}, { filename })),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    )
  })
})
