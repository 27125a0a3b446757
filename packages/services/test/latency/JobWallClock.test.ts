import { Example } from "@effect-dspy/core"
import { Checkpoint } from "@effect-dspy/optimizers"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { ModuleManager, OptimizationCoordinator, TestRuntime } from "../../src/index.js"

const splits = SimTask.splits(Arithmetic.task, { seed: 3, train: 6, dev: 6, test: 0 })
const toExample = (e: Arithmetic.Example) =>
  Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")

/** A checkpoint store on which each finished unit of LM work takes 100 ms of (test) wall-clock time. */
const tickingStore = (): Checkpoint.Service => {
  const store = Checkpoint.makeMemory()
  return {
    ...store,
    set: (ns, key, value) => Effect.zipRight(TestClock.adjust("100 millis"), store.set(ns, key, value))
  }
}

const runJob = (budget?: { readonly maxWallMs: number }) =>
  Effect.gen(function* () {
    const modules = yield* ModuleManager.ModuleManager
    yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
    const c = yield* OptimizationCoordinator.OptimizationCoordinator
    const started = yield* c.start({
      moduleId: "qa",
      optimizer: "bootstrap_few_shot",
      trainset: splits.train.map(toExample),
      valset: splits.dev.map(toExample),
      ...(budget === undefined ? {} : { budget })
    })
    return yield* c.await(started.id)
  })

describe("the optimization jobs' wall-clock limit", () => {
  it.effect("optimization.maxWallMs stops a job's units at the limit; the job still ends with its best program", () =>
    Effect.gen(function* () {
      const unlimited = yield* runJob().pipe(
        Effect.provide(TestRuntime.layer({ checkpoints: tickingStore(), config: { optimization: { concurrency: 1 } } }))
      )
      const limited = yield* runJob().pipe(
        Effect.provide(
          TestRuntime.layer({
            checkpoints: tickingStore(),
            config: { optimization: { maxWallMs: 250, concurrency: 1 } }
          })
        )
      )
      assert.isAbove(unlimited.progress.steps, 3)
      // Units start at 0, 100 and 200 ms; at 300 ms the limit holds the rest.
      assert.strictEqual(limited.progress.steps, 3)
      assert.include(["swapped", "rejected"], limited.status)
      // A job's own budget wins over the configured default.
      const own = yield* runJob({ maxWallMs: 150 }).pipe(
        Effect.provide(
          TestRuntime.layer({
            checkpoints: tickingStore(),
            config: { optimization: { maxWallMs: 250, concurrency: 1 } }
          })
        )
      )
      assert.strictEqual(own.progress.steps, 2)
    })
  )
})
