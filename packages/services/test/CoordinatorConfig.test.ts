/**
 * The coordinator's default optimizers take their settings from Config (`optimization.bootstrap`,
 * `optimization.copro`) as in force when a job is queued.
 */
import { Example, Module } from "@effect-dspy/core"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Config, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ModuleManager, OptimizationCoordinator, TestRuntime } from "../src/index.js"

const examples = (seed: number, train: number, dev: number) => {
  const splits = SimTask.splits(Arithmetic.task, { seed, train, dev, test: 0 })
  const toExample = (e: Arithmetic.Example) =>
    Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
  return { trainset: splits.train.map(toExample), valset: splits.dev.map(toExample) }
}

const createQa = Effect.flatMap(ModuleManager.ModuleManager, (m) =>
  m.create({ id: "qa", kind: "predict", signature: "question -> answer" })
)

/** Runs one job to its end; the job, the settings its compile started with, and the demos of what serves. */
const runJob = (request: Omit<OptimizationCoordinator.StartRequest, "moduleId">) =>
  Effect.gen(function* () {
    yield* createQa
    const c = yield* OptimizationCoordinator.OptimizationCoordinator
    const job = yield* c.await((yield* c.start({ moduleId: "qa", ...request })).id)
    const started = yield* Events.query({ types: ["optimization_started"] })
    const program = yield* Effect.flatMap(ModuleManager.ModuleManager, (m) => m.program("qa"))
    return {
      job,
      settings: started[0]!.data.config as { readonly [key: string]: unknown },
      demos: Module.namedPredictors(program).map((p) => p.predictor.demos.length)
    }
  })

describe("OptimizationCoordinator settings from Config", () => {
  it.effect("bootstrap_few_shot uses optimization.bootstrap (demos, rounds, errors)", () =>
    Effect.gen(function* () {
      const request = { optimizer: "bootstrap_few_shot", ...examples(0, 6, 4), seed: 1 }
      const defaults = yield* runJob(request).pipe(
        Effect.provide(TestRuntime.layer({ config: { optimization: { swapMargin: 0 } } }))
      )
      const configured = yield* runJob(request).pipe(
        Effect.provide(
          TestRuntime.layer({
            config: {
              optimization: {
                swapMargin: 0,
                bootstrap: { maxBootstrappedDemos: 1, maxLabeledDemos: 1, maxRounds: 2, maxErrors: 3 }
              }
            }
          })
        )
      )
      assert.deepStrictEqual(configured.settings, {
        maxBootstrappedDemos: 1,
        maxLabeledDemos: 1,
        maxRounds: 2,
        maxErrors: 3
      })
      assert.strictEqual(defaults.settings.maxBootstrappedDemos, 4)
      // What the compile did follows the settings: one demo per predictor instead of several.
      assert.strictEqual(configured.job.status, "swapped")
      assert.deepStrictEqual(configured.demos, [1])
      assert.strictEqual(defaults.job.status, "swapped")
      assert.isAbove(defaults.demos[0]!, 1)
    })
  )

  it.effect("a change of optimization.bootstrap applies to the jobs queued after it", () =>
    Effect.gen(function* () {
      yield* createQa
      const c = yield* OptimizationCoordinator.OptimizationCoordinator
      const data = examples(0, 6, 4)
      const first = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data })
      yield* c.await(first.id)
      yield* Config.update("optimization.bootstrap.maxBootstrappedDemos", 2)
      // The same request under other settings is another compile: not merged.
      const second = yield* c.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data })
      assert.isFalse(second.merged)
      yield* c.await(second.id)
      const started = yield* Events.query({ types: ["optimization_started"] })
      assert.deepStrictEqual(
        started.map((e) => (e.data.config as { readonly maxBootstrappedDemos: number }).maxBootstrappedDemos),
        [4, 2]
      )
    }).pipe(Effect.provide(TestRuntime.layer({ config: { optimization: { swapMargin: 100 } } })))
  )

  it.effect("copro uses optimization.copro (breadth, depth, initTemperature)", () =>
    Effect.gen(function* () {
      const { job, settings } = yield* runJob({ optimizer: "copro", ...examples(0, 4, 2) })
      assert.strictEqual(settings.breadth, 2)
      assert.strictEqual(settings.depth, 1)
      assert.strictEqual(settings.initTemperature, 0.5)
      // One level of breadth 2: the proposal and the original are scored, nothing more.
      assert.include(["swapped", "rejected"], job.status)
      assert.isAtMost(job.progress.trials, 2)
      assert.isAbove(job.progress.trials, 0)
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: { optimization: { swapMargin: 100, copro: { breadth: 2, depth: 1, initTemperature: 0.5 } } }
        })
      )
    )
  )
})
