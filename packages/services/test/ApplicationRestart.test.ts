/**
 * The whole application restarted mid-optimization: the supervised tree (with its OptimizationCoordinator) is
 * shut down while a job runs, and a fresh application on the same job database and checkpoint file recovers
 * the job, resumes it from its checkpoints and finishes it.
 */
import { Example, Module } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Events } from "@effect-dspy/foundation"
import { Checkpoint } from "@effect-dspy/optimizers"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ModuleManager, OptimizationCoordinator, TestRuntime } from "../src/index.js"
import * as Sqlite from "../src/internal/sqlite.js"

const examples = (seed: number, train: number, dev: number) => {
  const splits = SimTask.splits(Arithmetic.task, { seed, train, dev, test: 0 })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
  return { trainset: splits.train.map(toExample), valset: splits.dev.map(toExample) }
}

const request: OptimizationCoordinator.StartRequest = {
  moduleId: "qa",
  optimizer: "bootstrap_few_shot",
  ...examples(0, 6, 4),
  seed: 1
}

/** Every LM call of the simulated provider takes this long on the TestClock. */
const latencyMs = 1000

const config = { optimization: { concurrency: 1, swapMargin: 0 } }

/** What a service does at start: register its modules (from their specs, so at version 1). */
const registerQa = Effect.flatMap(ModuleManager.ModuleManager, (m) =>
  m.create({ id: "qa", kind: "predict", signature: "question -> answer" })
)

/**
 * One start of the application: a test runtime whose coordinator keeps its jobs in `dir/jobs.db` and their
 * checkpoints in `dir/checkpoints.jsonl` (opened anew, as a restarted process would), with the module
 * registered at start.
 */
const application = (
  dir: string,
  overrides: { readonly [key: string]: unknown } = {},
  register: Effect.Effect<unknown, unknown, ModuleManager.ModuleManager> = registerQa
) =>
  Layer.unwrapEffect(
    Effect.map(Checkpoint.makeFile(path.join(dir, "checkpoints.jsonl")), (checkpoints) =>
      Layer.provideMerge(
        Layer.effectDiscard(Effect.orDie(register)),
        TestRuntime.layer({
          config: { ...config, ...overrides },
          sim: { default: { latency: TestRuntime.fixedLatency(latencyMs) } },
          checkpoints,
          application: { optimization: { coordinator: { filename: path.join(dir, "jobs.db") } } }
        })
      )
    )
  )

/** Moves the TestClock on, one LM latency at a time, until `fiber` ends; its result. */
const drive = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<A, E> =>
  Effect.gen(function* () {
    for (let i = 0; i < 100_000; i++) {
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      yield* TestClock.adjust(latencyMs)
    }
    return yield* Effect.dieMessage("the fiber did not end after 100,000 LM latencies")
  })

const coordinator = OptimizationCoordinator.OptimizationCoordinator

/** Runs the job to its end (driving the clock). */
const finish = (id: string) => Effect.flatMap(coordinator, (c) => Effect.flatMap(Effect.fork(c.await(id)), drive))

/**
 * Lets the job finish `steps` new units of work (not read back from checkpoints), counted on its progress
 * stream; the job is then still running (in its next LM call).
 */
const runSteps = (id: string, steps: number) =>
  Effect.gen(function* () {
    const c = yield* coordinator
    const counted = yield* Effect.fork(
      c.progress(id).pipe(
        Stream.takeUntil((u) => u._tag === "Status" && OptimizationCoordinator.terminalStatuses.includes(u.job.status)),
        Stream.filter((u) => u._tag === "Progress" && u.event._tag === "Step" && !u.event.resumed),
        Stream.take(steps),
        Stream.runCount
      )
    )
    const seen = yield* drive(counted)
    assert.strictEqual(seen, steps)
    const job = yield* c.status(id)
    assert.strictEqual(job.status, "running")
    return job
  })

const simCalls = Effect.map(
  Effect.flatMap(TestRuntime.SimControl, (sim) => sim.stats("default")),
  (s) => s.calls
)

const withDir = <A, E, R>(f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "dspy-restart-"))),
    f,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** A fresh run of the request in its own application, for reference. */
const reference = withDir((dir) =>
  Effect.gen(function* () {
    const c = yield* coordinator
    const job = yield* finish((yield* c.start(request)).id)
    return { job, calls: yield* simCalls }
  }).pipe(Effect.provide(application(dir)))
)

/** After a restart: the recovered job, finished, and what the restarted application saw. */
const resumeAndFinish = (id: string) =>
  Effect.gen(function* () {
    const c = yield* coordinator
    const modules = yield* ModuleManager.ModuleManager
    const jobs = yield* c.list
    assert.deepStrictEqual(
      jobs.map((j) => j.id),
      [id]
    )
    const job = yield* finish(id)
    return {
      job,
      calls: yield* simCalls,
      info: yield* modules.describe("qa"),
      serving: Module.dumpState(yield* modules.program("qa")),
      events: (yield* Events.query({ types: ["optimization_swapped", "optimization_rejected"] })).map((e) => e.type)
    }
  })

describe("Application restart", () => {
  it.effect("the whole application restarted mid-optimization: the job is recovered, resumes and finishes", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const fresh = yield* reference

        // The first application: the job runs 3 units, then the whole application shuts down.
        const before = yield* Effect.gen(function* () {
          const c = yield* coordinator
          const started = yield* c.start(request)
          return yield* runSteps(started.id, 3)
        }).pipe(Effect.provide(application(dir)))
        assert.strictEqual(before.progress.steps, 3)

        // A fresh application on the same files: the job is recovered (same id) and resumes; the restarted
        // service starting its optimization again is merged into it.
        const after = yield* Effect.gen(function* () {
          const again = yield* Effect.flatMap(coordinator, (c) => c.start(request))
          assert.deepStrictEqual(again, { id: before.id, merged: true })
          return yield* resumeAndFinish(before.id)
        }).pipe(Effect.provide(application(dir)))
        const job = after.job
        assert.strictEqual(job.id, before.id)
        assert.isAtLeast(job.progress.resumedSteps, 3)
        assert.isBelow(after.calls, fresh.calls)
        assert.include(["swapped", "rejected"], job.status)
        // The decision is the one an uninterrupted run makes, per the swap margin (0 here).
        assert.strictEqual(job.optimizedScore, fresh.job.optimizedScore)
        assert.strictEqual(job.status, job.optimizedScore! - job.servingScore! >= 0 ? "swapped" : "rejected")
        assert.strictEqual(job.status, fresh.job.status)
        if (job.status === "swapped") {
          // The restarted ModuleManager serves the new version.
          assert.strictEqual(job.swappedVersion, 2)
          assert.strictEqual(after.info.version, 2)
          assert.deepStrictEqual(after.events, ["optimization_swapped"])
        } else {
          assert.strictEqual(after.info.version, 1)
          assert.deepStrictEqual(after.events, ["optimization_rejected"])
        }
      })
    )
  )

  it.effect("after a restart, a swap made before it is not reported as serving; the same request runs anew", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        // The first application swaps version 2 in.
        const before = yield* Effect.gen(function* () {
          const c = yield* coordinator
          return yield* finish((yield* c.start(request)).id)
        }).pipe(Effect.provide(application(dir)))
        assert.strictEqual(before.status, "swapped")
        assert.strictEqual(before.swappedVersion, 2)
        assert.isTrue(before.swapCurrent)

        // The restarted application serves version 1 (registered from its spec again).
        const after = yield* Effect.gen(function* () {
          const c = yield* coordinator
          const modules = yield* ModuleManager.ModuleManager
          assert.strictEqual((yield* modules.describe("qa")).version, 1)
          const old = yield* c.status(before.id)
          // Still the record of what happened, but not claimed as serving.
          assert.strictEqual(old.status, "swapped")
          assert.isFalse(old.swapCurrent)
          assert.isFalse((yield* c.list)[0]!.swapCurrent)
          // The same request is not merged into the old job: a new job runs and swaps on what serves now.
          const again = yield* c.start(request)
          assert.isFalse(again.merged)
          assert.notStrictEqual(again.id, before.id)
          const job = yield* finish(again.id)
          return { job, info: yield* modules.describe("qa") }
        }).pipe(Effect.provide(application(dir)))
        assert.strictEqual(after.job.status, "swapped")
        assert.strictEqual(after.job.servingVersion, 1)
        assert.strictEqual(after.job.swappedVersion, 2)
        assert.isTrue(after.job.swapCurrent)
        assert.strictEqual(after.info.version, 2)
      })
    )
  )

  it.effect("restarted twice in a row mid-job: each application resumes from the units of both before it", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        // A margin no program can meet: the job ends rejected and the module stays at version 1.
        const margin = { optimization: { ...config.optimization, swapMargin: 100 } }
        const fresh = yield* reference

        const first = yield* Effect.gen(function* () {
          const c = yield* coordinator
          return yield* runSteps((yield* c.start(request)).id, 2)
        }).pipe(Effect.provide(application(dir, margin)))

        // The second application resumes the 2 units, runs 2 more, and is shut down too.
        const second = yield* Effect.gen(function* () {
          const job = yield* runSteps(first.id, 2)
          return { job, calls: yield* simCalls }
        }).pipe(Effect.provide(application(dir, margin)))
        assert.strictEqual(second.job.id, first.id)
        assert.strictEqual(second.job.progress.resumedSteps, 2)

        const third = yield* resumeAndFinish(first.id).pipe(Effect.provide(application(dir, margin)))
        assert.strictEqual(third.job.id, first.id)
        assert.isAtLeast(third.job.progress.resumedSteps, 4)
        assert.isBelow(third.calls, fresh.calls)
        assert.isBelow(third.calls + second.calls, fresh.calls + 2)
        assert.strictEqual(third.job.status, "rejected")
        assert.strictEqual(third.job.optimizedScore, fresh.job.optimizedScore)
        assert.strictEqual(third.info.version, 1)
        assert.deepStrictEqual(third.events, ["optimization_rejected"])
      })
    )
  )

  it.effect("a job started from a swapped version resumes after a restart and swaps on the version serving now", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const other = { ...request, ...examples(7, 8, 3), seed: 0 }
        // The first application: one job swaps version 2 in; a second job starts from version 2.
        const before = yield* Effect.gen(function* () {
          const c = yield* coordinator
          const modules = yield* ModuleManager.ModuleManager
          const first = yield* finish((yield* c.start(request)).id)
          assert.strictEqual(first.status, "swapped")
          assert.strictEqual((yield* modules.describe("qa")).version, 2)
          const second = yield* c.start(other)
          assert.strictEqual((yield* c.status(second.id)).moduleVersion, 2)
          const job = yield* runSteps(second.id, 2)
          return { job, student: Module.dumpState(yield* modules.program("qa", 2)) }
        }).pipe(Effect.provide(application(dir, { optimization: { ...config.optimization, swapMargin: 0 } })))

        // The restarted application registers the module from its spec again: version 1, without the demos of
        // the earlier swap. The job still resumes from the program it started from (its saved state).
        const after = yield* Effect.gen(function* () {
          const c = yield* coordinator
          const modules = yield* ModuleManager.ModuleManager
          assert.strictEqual((yield* modules.describe("qa")).version, 1)
          const job = yield* finish(before.job.id)
          const done = yield* c.list
          return {
            job,
            jobs: done.length,
            info: yield* modules.describe("qa"),
            calls: yield* simCalls,
            rebased: yield* Events.query({ types: ["optimization_rebased"] })
          }
        }).pipe(Effect.provide(application(dir, { optimization: { ...config.optimization, swapMargin: 0 } })))

        assert.strictEqual(after.job.error, undefined)
        assert.strictEqual(after.job.status, "swapped")
        assert.isAtLeast(after.job.progress.resumedSteps, 2)
        assert.deepStrictEqual(after.rebased, [])
        // Compared with the version serving now (1) and swapped on top of it.
        assert.strictEqual(after.job.servingVersion, 1)
        assert.strictEqual(after.job.swappedVersion, 2)
        assert.strictEqual(after.job.moduleVersion, 2)
        assert.strictEqual(after.info.version, 2)
      })
    )
  )

  it.effect("a recovered job whose saved student no longer fits the re-registered module re-bases on it", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const id = yield* Effect.gen(function* () {
          const c = yield* coordinator
          return (yield* runSteps((yield* c.start(request)).id, 2)).id
        }).pipe(Effect.provide(application(dir)))

        // The restarted service registers "qa" with another shape (chain of thought adds a reasoning field).
        const reshaped = Effect.flatMap(ModuleManager.ModuleManager, (m) =>
          m.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer" })
        )
        const after = yield* Effect.gen(function* () {
          const job = yield* finish(id)
          const rebased = yield* Events.query({ types: ["optimization_rebased"] })
          return { job, rebased }
        }).pipe(Effect.provide(application(dir, {}, reshaped)))

        assert.strictEqual(after.job.id, id)
        assert.include(["swapped", "rejected"], after.job.status)
        assert.strictEqual(after.job.error, undefined)
        // Nothing of the old student's checkpoints is read back: the re-based job compiles from the start.
        assert.strictEqual(after.job.progress.resumedSteps, 0)
        assert.isAbove(after.job.progress.steps, 0)
        assert.strictEqual(after.job.servingVersion, 1)
        assert.strictEqual(after.rebased.length, 1)
        assert.strictEqual(after.rebased[0]!.data.optimization_id, id)
        assert.strictEqual(after.rebased[0]!.data.to_version, 1)
        assert.include(String(after.rebased[0]!.data.reason), "does not fit")
      })
    )
  )

  it.effect("a job queued in a database of the first schema (no saved student) is recovered and re-based", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        // The table as the first coordinator made it, with one job left running.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const run = yield* Sqlite.openReserved(path.join(dir, "jobs.db"))
            yield* run(
              `CREATE TABLE dspy_optimization_jobs (
                id TEXT PRIMARY KEY, dedupe_key TEXT NOT NULL, module_id TEXT NOT NULL, module_version INTEGER NOT NULL,
                optimizer TEXT NOT NULL, metric TEXT NOT NULL, priority INTEGER NOT NULL, seq INTEGER NOT NULL,
                seed INTEGER NOT NULL, data TEXT NOT NULL, budget TEXT NOT NULL, status TEXT NOT NULL,
                serving_score REAL, optimized_score REAL, swapped_version INTEGER, error TEXT,
                created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER)`,
              []
            )
            const data = JSON.stringify({ trainset: request.trainset.map((e) => e.toJSON()), valset: null })
            yield* run(
              `INSERT INTO dspy_optimization_jobs (id, dedupe_key, module_id, module_version, optimizer, metric,
                priority, seq, seed, data, budget, status, created_at, started_at)
                VALUES ('opt-old', 'old', 'qa', 3, 'bootstrap_few_shot', 'exact_match', 0, 1, 0, ?, 'null', 'running', 0, 0)`,
              [data]
            )
          })
        ).pipe(Effect.orDie)

        const after = yield* Effect.gen(function* () {
          const job = yield* finish("opt-old")
          return { job, rebased: yield* Events.query({ types: ["optimization_rebased"] }) }
        }).pipe(Effect.provide(application(dir)))
        assert.include(["swapped", "rejected"], after.job.status)
        assert.strictEqual(after.job.moduleVersion, 1)
        assert.strictEqual(after.job.servingVersion, 1)
        assert.deepStrictEqual(
          after.rebased.map((e) => [e.data.from_version, e.data.to_version]),
          [[3, 1]]
        )
        assert.include(String(after.rebased[0]!.data.reason), "no saved student state")
      })
    )
  )
})
