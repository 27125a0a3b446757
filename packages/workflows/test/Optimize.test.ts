import type { Example, Prediction } from "@effect-dspy/core"
import { ExperienceStore, Loop, ModuleManager } from "@effect-dspy/services"
import { Extraction, Routing, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Optimize, RunStore, Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const text = `
version: 1
name: intake
inputs:
  query: str
  note: str
steps:
  - id: route
    module: { signature: "query -> agent" }
    inputs: { query: "{inputs.query}" }
  - id: extract
    module: { signature: "text -> customer" }
    inputs: { text: "{inputs.note}" }
  - id: tool
    tool: { name: nope, outputs: { x: str } }
outputs:
  agent: "{route.agent}"
  customer: "{extract.customer}"
`

/** The end-to-end metric: the fraction of the workflow's outputs that match. */
const score = (gold: { readonly [k: string]: unknown }, got: { readonly [k: string]: unknown }) =>
  ((got["agent"] === gold["agent"] ? 1 : 0) + (got["customer"] === gold["customer"] ? 1 : 0)) / 2

const metrics = {
  pipeline_match: (example: Example.Any, prediction: Prediction.AnyPrediction) =>
    score(example.toRecord(), prediction.fields as { readonly [k: string]: unknown })
}

const rows = (seed: number, train: number, test: number) => {
  const r = SimTask.splits(Routing.task, { seed, train, dev: 0, test })
  const e = SimTask.splits(Extraction.task, { seed, train, dev: 0, test })
  const zip = (a: typeof r.train, b: typeof e.train) =>
    a.map((x, i) => ({ query: x.query, note: b[i]!.text, agent: x.agent, customer: b[i]!.customer }))
  return { train: zip(r.train, e.train), test: zip(r.test, e.test) }
}

describe("Optimize", () => {
  it.effect(
    "whole-workflow optimization: the module steps are one program's predictors, against an end-to-end metric",
    () =>
      Effect.gen(function* () {
        const full = yield* Workflow.parse(text, "intake.yaml")
        // A workflow with a non-module step is refused, with the step's path.
        const refused = yield* Effect.flip(
          Optimize.optimizeWorkflow(full, { optimizer: "bootstrap_few_shot", metric: "pipeline_match", trainset: [] })
        )
        assert.strictEqual(refused._tag, "WorkflowInvalid")
        assert.include(refused.message, "steps[2]")

        const w = yield* Workflow.parse(text.replace(/ {2}- id: tool\n.*\n/, ""), "intake.yaml")
        const data = rows(0, 24, 16)
        const engine = yield* WorkflowEngine.WorkflowEngine
        const modules = yield* ModuleManager.ModuleManager
        const evaluate = (mode: "traditional" | "optimized") =>
          Effect.map(
            Effect.forEach(data.test, (row, i) =>
              Effect.map(engine.run(w, { query: row.query, note: row.note }, { mode, runId: `${mode}-${i}` }), (r) =>
                score(row, r.outputs)
              )
            ),
            (scores) => scores.reduce((a, b) => a + b, 0) / scores.length
          )
        const result = yield* Optimize.optimizeWorkflow(w, {
          optimizer: "bootstrap_few_shot",
          metric: "pipeline_match",
          trainset: data.train,
          seed: 1
        })
        assert.strictEqual(result.job.status, "swapped")
        assert.strictEqual(result.job.moduleId, "intake.__program")
        // Each step's module got a new version carrying the optimized program's demos.
        assert.deepStrictEqual(Object.keys(result.steps).sort(), ["extract", "route"])
        for (const step of ["route", "extract"]) {
          const history = yield* modules.history(`intake.${step}`)
          assert.strictEqual(history.length, 2)
          assert.strictEqual(history[1]!.jobId, result.job.id)
          const program = yield* modules.program(`intake.${step}`)
          assert.isAbove((program as { readonly demos: ReadonlyArray<unknown> }).demos.length, 0)
        }
        const traditional = yield* evaluate("traditional")
        const optimized = yield* evaluate("optimized")
        assert.isAbove(optimized, traditional)
      }).pipe(
        Effect.provide(
          Runtime.layer({}, RunStore.layerMemory, { application: { optimization: { coordinator: { metrics } } } })
        )
      ),
    120_000
  )

  it.effect("experiences: a step's recorded, labelled executions are its training set; its trigger decides when", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(
        `
version: 1
name: learner
mode: optimized
inputs: { query: str }
steps:
  - id: route
    module: { signature: "query -> agent" }
    inputs: { query: "{inputs.query}" }
    optimization: { optimizer: bootstrap_few_shot, experiences: true, triggers: { minExperiences: 4 } }
outputs: { agent: "{route.agent}" }
`,
        "learner.yaml"
      )
      const engine = yield* WorkflowEngine.WorkflowEngine
      const store = yield* ExperienceStore.ExperienceStore
      // Nothing recorded yet: nothing is due, and optimizing the step says what it lacks.
      assert.deepStrictEqual(yield* Optimize.optimizeDue(w), {})
      const refused = yield* Effect.flip(Optimize.optimizeStep(w, "route"))
      assert.strictEqual(refused._tag, "WorkflowInvalid")
      assert.include(refused.message, "0 labelled experiences; its trigger needs 4")
      const train = SimTask.splits(Routing.task, { seed: 3, train: 6, dev: 0, test: 0 }).train
      for (const row of train) yield* engine.run(w, { query: row.query })
      // The module step ran through the ModuleManager: each execution is an experience of the step's module.
      const recorded = yield* store.query({ moduleId: "learner.route" })
      assert.strictEqual(recorded.length, train.length)
      // Unlabelled experiences are no training data yet.
      assert.strictEqual((yield* Optimize.experienceExamples(w, "route")).length, 0)
      for (const e of recorded) {
        const gold = train.find((r) => r.query === (e.inputs as { readonly query: string }).query)!
        yield* store.attach([e], { corrected: { agent: gold.agent } }, 1, 0)
      }
      const examples = yield* Optimize.experienceExamples(w, "route")
      assert.strictEqual(examples.length, train.length)
      assert.sameMembers(
        examples.map((x) => x.toRecord()["agent"]),
        train.map((r) => r.agent)
      )
      const jobs = yield* Optimize.optimizeDue(w)
      assert.deepStrictEqual(Object.keys(jobs), ["route"])
      assert.strictEqual(jobs["route"]!.moduleId, "learner.route")
      assert.notStrictEqual(jobs["route"]!.status, "failed")
    }).pipe(Effect.provide(Runtime.layer()))
  )

  it.effect("a step's optimizer and triggers register with the real-time loop: its rule fires by them", () =>
    Effect.gen(function* () {
      const steered = (triggers: string) =>
        Workflow.parse(
          `
version: 1
name: steered
mode: optimized
inputs: { query: str }
steps:
  - id: route
    module: { signature: "query -> agent" }
    inputs: { query: "{inputs.query}" }
    optimization: { optimizer: bootstrap_few_shot, experiences: true, triggers: ${triggers} }
outputs: { agent: "{route.agent}" }
`,
          "steered.yaml"
        )
      const engine = yield* WorkflowEngine.WorkflowEngine
      const loop = yield* Loop.Loop
      // A value the loop refuses is an issue at its key (the loop's window is 20 rewards).
      const refused = yield* Effect.flip(engine.prepare(yield* steered("{ minSamples: 50 }")))
      assert.strictEqual(refused._tag, "WorkflowInvalid")
      assert.strictEqual(refused.issues[0]?.path, "steps[0].optimization.triggers.minSamples")
      assert.include(refused.message, "minSamples must be at most window")

      const w = yield* steered("{ minExperiences: 3, minSamples: 5, relativeDrop: 0.1 }")
      assert.strictEqual(loop.settingsOf("steered.route").minSamples, 20)
      yield* engine.prepare(w)
      const settings = loop.settingsOf("steered.route")
      assert.deepStrictEqual(
        [settings.minSamples, settings.relativeDrop, settings.minTrainSize, settings.optimizer],
        [5, 0.1, 3, "bootstrap_few_shot"]
      )
      // Ten runs; rewards of 0.9 (the baseline: 5 rewards), then 0 (unlabelled: neither corrected nor full).
      const store = yield* ExperienceStore.ExperienceStore
      const queries = SimTask.splits(Routing.task, { seed: 5, train: 10, dev: 0, test: 0 }).train
      for (const row of queries) yield* engine.run(w, { query: row.query })
      const recorded = yield* store.query({ moduleId: "steered.route" })
      assert.strictEqual(recorded.length, 10)
      const oldestFirst = [...recorded].sort((a, b) => a.at - b.at || a.executionId.localeCompare(b.executionId))
      for (const [i, e] of oldestFirst.entries()) {
        yield* loop.feedback({ executionId: e.executionId, outcome: { rating: i < 5 ? 0.9 : 0 } })
      }
      yield* loop.evaluate
      // The step's 5 samples (not the loop's 20) fire its degradation rule; its job would need 3 labelled ones.
      const decision = (yield* loop.decisions).find((d) => d.moduleId === "steered.route")
      assert.strictEqual(decision?.rule, "degradation")
      assert.strictEqual(decision?.action, "hold")
      assert.include(decision!.reason, "a job needs 3")
    }).pipe(
      Effect.provide(
        Runtime.layer({}, RunStore.layerMemory, {
          application: {
            loop: {
              settings: {
                enabled: true,
                window: 20,
                minSamples: 20,
                baselineSamples: 5,
                trainSize: 100,
                minTrainSize: 50
              }
            }
          }
        })
      )
    )
  )
})
