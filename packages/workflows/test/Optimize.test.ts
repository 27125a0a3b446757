import type { Example, Prediction } from "@effect-dspy/core"
import { ModuleManager } from "@effect-dspy/services"
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
})
