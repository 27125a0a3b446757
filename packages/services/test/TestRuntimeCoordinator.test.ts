import { Example } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Checkpoint } from "@effect-dspy/optimizers"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ModuleManager, OptimizationCoordinator, TestRuntime } from "../src/index.js"

const splits = SimTask.splits(Arithmetic.task, { seed: 3, train: 4, dev: 2, test: 0 })
const toExample = (e: Arithmetic.Example) =>
  Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
const request: OptimizationCoordinator.StartRequest = {
  moduleId: "qa",
  optimizer: "bootstrap_few_shot",
  trainset: splits.train.map(toExample),
  valset: splits.dev.map(toExample)
}

/** A memory store that counts what is written to it. */
const countingStore = () => {
  const store = Checkpoint.makeMemory()
  const counter = { sets: 0 }
  const service: Checkpoint.Service = {
    ...store,
    set: (namespace, key, value) =>
      Effect.zipRight(
        Effect.sync(() => counter.sets++),
        store.set(namespace, key, value)
      )
  }
  return { service, counter }
}

/** Runs one job through the runtime's own coordinator. */
const runJob = Effect.gen(function* () {
  const modules = yield* ModuleManager.ModuleManager
  yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
  const c = yield* OptimizationCoordinator.OptimizationCoordinator
  return yield* c.await((yield* c.start(request)).id)
})

describe("TestRuntime and the OptimizationCoordinator", () => {
  it.effect("provides the application's coordinator, its jobs checkpointed in the store given as an option", () =>
    Effect.gen(function* () {
      const { service, counter } = countingStore()
      const job = yield* runJob.pipe(Effect.provide(TestRuntime.layer({ checkpoints: service })))
      assert.include(["swapped", "rejected"], job.status)
      assert.isAbove(job.progress.steps, 0)
      assert.strictEqual(counter.sets, job.progress.steps)
    })
  )

  it.effect("or in a CheckpointStore from the context the runtime is provided in", () =>
    Effect.gen(function* () {
      const { service, counter } = countingStore()
      const job = yield* runJob.pipe(
        Effect.provide(Layer.provide(TestRuntime.layer(), Layer.succeed(Checkpoint.CheckpointStore, service)))
      )
      assert.isAbove(job.progress.steps, 0)
      assert.strictEqual(counter.sets, job.progress.steps)
    })
  )
})
