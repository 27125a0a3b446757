import { Example, type Module } from "@effect-dspy/core"
import { Config, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as Metric from "effect/Metric"
import { Metrics } from "@effect-dspy/foundation"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Checkpoint from "../src/Checkpoint.js"
import * as Optimizer from "../src/Optimizer.js"
import * as OptimizerEvents from "../src/OptimizerEvents.js"
import * as TrainingData from "../src/TrainingData.js"
import { arithmetic, cot, metric, predict, recordingSim } from "./support/sim.js"

const data = arithmetic({ seed: 3, train: 12, dev: 20 })

/** A minimal optimizer: scores the student and a labeled-demo variant on the valset, keeps the better. */
const probe = Optimizer.make({
  name: "Probe",
  settings: { k: 2 },
  compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
    Effect.gen(function* () {
      const baseline = yield* run.evaluate(student, run.valset, { key: "baseline" })
      yield* run.trial({ id: "baseline", score: baseline.score, details: { complete: baseline.complete } })
      return {
        program: student,
        bestScore: baseline.score,
        baselineScore: baseline.score,
        details: { complete: baseline.complete, scored: baseline.scores.filter((s) => s !== undefined).length }
      }
    })
})

describe("Optimizer.compile (the contract)", () => {
  it.effect("runs the optimizer, accounts LM calls, and publishes the optimization_* events with scores", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const events = yield* Events.Events
      const { program, report } = yield* Optimizer.compile(probe, predict(), {
        trainset: data.train,
        valset: data.dev,
        metric,
        concurrency: 4
      })
      assert.strictEqual(report.lmCalls, data.dev.length)
      assert.strictEqual(requests.length, data.dev.length)
      assert.strictEqual(report.units, data.dev.length)
      assert.strictEqual(report.trials.length, 1)
      assert.isTrue(report.bestScore! > 0 && report.bestScore! < 100)
      assert.isFalse(report.budgetExhausted)
      assert.isTrue(report.tokens.total > 0)
      assert.strictEqual(program.demos.length, 0)
      const recorded = yield* events.query({
        correlationId: report.correlationId,
        types: ["optimization_started", "optimization_iteration", "optimization_completed", "optimization_failed"]
      })
      assert.isAbove((yield* events.query({ correlationId: report.correlationId, types: ["lm_request"] })).length, 0)
      assert.deepStrictEqual(
        recorded.map((e) => e.type),
        ["optimization_started", "optimization_iteration", "optimization_completed"]
      )
      // Each event decodes with its definition (what compile publishes matches the catalog), typed.
      const byRun = { correlationId: report.correlationId }
      const [started] = yield* Events.queryOf(OptimizerEvents.Started, byRun)
      const [iteration] = yield* Events.queryOf(OptimizerEvents.Iteration, byRun)
      const [completed] = yield* Events.queryOf(OptimizerEvents.Completed, byRun)
      assert.strictEqual(iteration!.data.evaluation_score, report.bestScore)
      assert.strictEqual(completed!.data.final_score, report.bestScore)
      assert.strictEqual(completed!.data.lm_calls, data.dev.length)
      assert.strictEqual(started!.data.trainset_size, data.train.length)
      assert.deepStrictEqual(started!.data.config, { k: 2 })
      const iterations = yield* Metric.value(Metric.tagged(Metrics.optimizationIteration, "optimizer", "Probe"))
      assert.isAtLeast(iterations.count, 1)
      const gauge = yield* Metric.value(Metric.tagged(Metrics.optimizationScore, "optimizer", "Probe"))
      assert.strictEqual(gauge.value, report.bestScore)
    }).pipe(Effect.provide(layer), Effect.provide(Events.layerMemory))
  })

  it.effect("the default concurrency comes from the configuration (optimization.concurrency)", () => {
    const { layer, flight } = recordingSim()
    return Effect.gen(function* () {
      const { report } = yield* Optimizer.compile(probe, predict(), { trainset: data.train, valset: data.dev, metric })
      assert.strictEqual(report.concurrency, 2)
      assert.strictEqual(flight.max, 2)
    }).pipe(Effect.provide(layer), Effect.provide(Config.layerTest({ optimization: { concurrency: 2 } })))
  })

  it.effect("a failed or interrupted run publishes optimization_failed", () =>
    Effect.gen(function* () {
      const strict = Optimizer.make({
        name: "Strict",
        settings: {},
        compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
          Effect.map(run.evaluate(student, run.valset, { key: "strict", maxErrors: 2 }), () => ({ program: student }))
      })
      const error = yield* Effect.flip(
        Optimizer.compile(strict, predict(), {
          trainset: data.train,
          metric: () => Effect.fail("no metric today"),
          concurrency: 1
        })
      )
      assert.strictEqual(error._tag, "TooManyErrors")
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Optimizer.compile(probe, predict(), {
          trainset: data.train,
          metric,
          concurrency: 1,
          onProgress: (event) => (event._tag === "Step" ? Deferred.succeed(started, undefined) : Effect.void)
        })
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      const failed = yield* Events.queryOf(OptimizerEvents.Failed)
      assert.deepStrictEqual(
        failed.map((e) => [e.data.optimizer, e.data.error.includes("no metric today") || e.data.error]),
        [
          ["Strict", true],
          ["Probe", "interrupted"]
        ]
      )
    }).pipe(Effect.provide(recordingSim().layer), Effect.provide(Events.layerMemory))
  )

  it.effect("fails with TrainingDataInvalid listing every offending example and field", () =>
    Effect.gen(function* () {
      const trainset = [
        data.train[0]!,
        Example.make({ question: "2 + 2?" }).withInputs("question"),
        data.train[1]!,
        Example.make({ question: "1 + 1?", answer: 2 }),
        Example.make({ prompt: "x", answer: 1 }).withInputs("prompt")
      ]
      const error = yield* Effect.flip(Optimizer.compile(probe, cot(), { trainset, metric }))
      assert.strictEqual(error._tag, "TrainingDataInvalid")
      if (error._tag !== "TrainingDataInvalid") return
      assert.deepStrictEqual(
        error.problems.map((p) => [p.index, [...p.missing]]),
        [
          [1, ["answer"]],
          [3, []],
          [4, ["question"]]
        ]
      )
      assert.deepStrictEqual([...error.requiredInputs], ["question"])
      assert.deepStrictEqual([...error.requiredLabels], ["answer"])
      assert.include(error.message, "withInputs")
      // A declared metric field is required too.
      const declared = TrainingData.problems(
        data.train.slice(0, 2),
        TrainingData.requirements(cot(), ["answer", "unit"])
      )
      assert.deepStrictEqual(
        declared.map((p) => [p.index, [...p.missing]]),
        [
          [0, ["unit"]],
          [1, ["unit"]]
        ]
      )
      const bad = yield* Effect.flip(Optimizer.compile(probe, cot(), { trainset: data.train, metric, concurrency: 0 }))
      assert.strictEqual(bad._tag, "OptimizerConfigError")
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("stays within a budget: calls <= max + concurrency - 1 for single-call units, best so far returned", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const { report } = yield* Optimizer.compile(probe, predict(), {
        trainset: data.train,
        valset: data.dev,
        metric,
        concurrency: 3,
        budget: { maxLmCalls: 5 }
      })
      assert.isTrue(report.budgetExhausted)
      assert.isAtLeast(report.lmCalls, 5)
      assert.isAtMost(report.lmCalls, 5 + 3 - 1)
      assert.strictEqual(requests.length, report.lmCalls)
      assert.isFalse(report.details["complete"] as boolean)
      assert.strictEqual(report.details["scored"], report.units)
      // A cost budget: the simulated LM prices sim-1 calls; stop after about three calls' worth.
      const full = yield* Optimizer.compile(probe, predict(), { trainset: data.train, valset: data.dev, metric })
      assert.isAbove(full.report.costUsd, 0)
      const perCall = full.report.costUsd / full.report.lmCalls
      const costly = yield* Optimizer.compile(probe, predict(), {
        trainset: data.train,
        valset: data.dev,
        metric,
        concurrency: 2,
        budget: { maxCostUsd: 3 * perCall }
      })
      assert.isTrue(costly.report.budgetExhausted)
      assert.isAtLeast(costly.report.costUsd, 3 * perCall * 0.8)
      assert.isBelow(costly.report.lmCalls, data.dev.length)
      assert.isAtMost(costly.report.lmCalls, 3 * 2)
      const failed = yield* Effect.flip(
        Optimizer.compile(probe, predict(), {
          trainset: data.train,
          valset: data.dev,
          metric,
          concurrency: 1,
          budget: { maxLmCalls: 2, onExhausted: "fail" }
        })
      )
      assert.strictEqual(failed._tag, "BudgetExceeded")
      const negative = yield* Effect.flip(
        Optimizer.compile(probe, predict(), { trainset: data.train, metric, budget: { maxLmCalls: -1 } })
      )
      assert.strictEqual(negative._tag, "OptimizerConfigError")
    }).pipe(Effect.provide(layer))
  })

  it.scoped("streams progress: Started, Steps, Trial, Completed", () =>
    Effect.gen(function* () {
      const running = yield* Optimizer.compileWithProgress(probe, predict(), {
        trainset: data.train,
        valset: data.dev.slice(0, 5),
        metric,
        concurrency: 2
      })
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(running.progress))
      const result = yield* running.result
      const tags = events.map((e) => e._tag)
      assert.strictEqual(tags[0], "Started")
      assert.strictEqual(tags.filter((t) => t === "Step").length, 5)
      assert.strictEqual(tags.at(-2), "Trial")
      assert.strictEqual(tags.at(-1), "Completed")
      const trial = events.find((e) => e._tag === "Trial")
      assert.strictEqual(trial?._tag === "Trial" ? trial.trial.score : -1, result.report.bestScore)
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("resumes from a checkpoint after an interruption: no finished unit is run again, same result", () => {
    const { layer, requests } = recordingSim()
    const options = { trainset: data.train, valset: data.dev, metric, concurrency: 2, runId: "resume-1" }
    return Effect.gen(function* () {
      const reference = yield* Optimizer.compile(probe, predict(), { ...options, runId: "reference" })
      const referenceCalls = requests.length
      requests.length = 0
      const sixDone = yield* Deferred.make<void>()
      let steps = 0
      const supervisor = yield* Supervisor.track
      const fiber = yield* Effect.fork(
        Optimizer.compile(probe, predict(), {
          ...options,
          onProgress: (event) =>
            event._tag === "Step" && ++steps === 6 ? Deferred.succeed(sixDone, undefined) : Effect.void
        }).pipe(Effect.supervised(supervisor))
      )
      yield* Deferred.await(sixDone)
      assert.isAbove((yield* supervisor.value).length, 0)
      yield* Fiber.interrupt(fiber)
      // No fiber of the run is left behind.
      assert.strictEqual((yield* supervisor.value).length, 0)
      const firstCalls = requests.length
      assert.isAtLeast(steps, 6)
      assert.isBelow(steps, data.dev.length)
      const resumed = yield* Optimizer.compile(probe, predict(), options)
      assert.isAtLeast(resumed.report.resumedUnits, 6)
      assert.strictEqual(resumed.report.resumedUnits + resumed.report.units, data.dev.length)
      assert.strictEqual(resumed.report.lmCalls, data.dev.length - resumed.report.resumedUnits)
      // Calls interrupted in flight are the only ones made twice.
      assert.isAtMost(firstCalls + resumed.report.lmCalls, referenceCalls + options.concurrency)
      assert.strictEqual(resumed.report.bestScore, reference.report.bestScore)
      // A changed setting (the seed) is a different run: nothing is read back.
      const other = yield* Optimizer.compile(probe, predict(), { ...options, seed: 1 })
      assert.strictEqual(other.report.resumedUnits, 0)
    }).pipe(Effect.provide(layer), Effect.provide(Checkpoint.layerMemory))
  })

  it.effect("a run restarted with the same checkpoint file (a new process) makes no LM call for finished units", () => {
    const { layer, requests } = recordingSim()
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-")), "run.jsonl")
    const options = { trainset: data.train, valset: data.dev, metric, concurrency: 3, runId: "file-run" }
    const compileWith = Optimizer.compile(probe, predict(), options).pipe(
      Effect.provide(Checkpoint.layerFile({ filename: file }))
    )
    return Effect.gen(function* () {
      const first = yield* compileWith
      assert.strictEqual(first.report.units, data.dev.length)
      const calls = requests.length
      const second = yield* compileWith
      assert.strictEqual(requests.length, calls)
      assert.strictEqual(second.report.lmCalls, 0)
      assert.strictEqual(second.report.resumedUnits, data.dev.length)
      assert.strictEqual(second.report.bestScore, first.report.bestScore)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the file checkpoint store survives reopening and ignores a torn last line", () =>
    Effect.gen(function* () {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-")), "run.jsonl")
      const first = yield* Checkpoint.makeFile(file)
      yield* first.set("ns", "a", { score: 1 })
      yield* first.set("ns", "b", [1, 2])
      yield* first.set("gone", "x", 1)
      yield* first.clear("gone")
      fs.appendFileSync(file, '{"ns":"ns","key":"c","val')
      const second = yield* Checkpoint.makeFile(file)
      assert.deepStrictEqual(yield* second.get("ns", "a"), Option.some({ score: 1 }))
      assert.deepStrictEqual(yield* second.get("ns", "b"), Option.some([1, 2]))
      assert.isTrue(Option.isNone(yield* second.get("ns", "c")))
      assert.strictEqual(yield* second.size("gone"), 0)
    })
  )
})
