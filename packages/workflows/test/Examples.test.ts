/**
 * The three example workflows of `examples/workflows/`, each on a task the simulated LM solves: their module
 * steps are optimized through the OptimizationCoordinator (their `optimization` blocks), then held-out examples run
 * in traditional mode (the modules' baseline versions) and in optimized mode (the promoted versions). Over three
 * simulator seeds, the optimized mode's mean metric beats the traditional one's.
 */
import { Evaluate, type Example, type Prediction } from "@effect-dspy/core"
import { Extraction, Multihop, Routing, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { ModeReport, Optimize, RunStore, Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const dir = path.join(__dirname, "..", "..", "..", "examples", "workflows")

const orderFields = ["customer", "product", "quantity", "total", "express"] as const
const orderScore = (gold: { readonly [k: string]: unknown }, got: { readonly [k: string]: unknown }) =>
  orderFields.filter((f) => got[f] === gold[f]).length / orderFields.length

const metrics = {
  agent_match: Evaluate.exactMatch("agent"),
  answer_match: Evaluate.exactMatch("answer"),
  order_match: (example: Example.Any, prediction: Prediction.AnyPrediction) =>
    orderScore(example.toRecord(), prediction.fields as { readonly [k: string]: unknown })
}

interface Case {
  readonly file: string
  /** One run's inputs and its score (0..1) from the run's outputs. */
  readonly runs: ReadonlyArray<{
    readonly inputs: { readonly [k: string]: unknown }
    readonly score: (outputs: { readonly [k: string]: unknown }) => number
  }>
}

const held = <E extends Readonly<Record<string, unknown>>>(task: SimTask.Task<E>, n: number) =>
  SimTask.splits(task, { seed: 0, train: 24, dev: 0, test: n }).test

const cases: ReadonlyArray<Case> = [
  {
    file: "support-triage.yaml",
    runs: held(Routing.task, 16).map((e) => ({
      inputs: { ticket: e.query },
      score: (o) => (o["agent"] === e.agent ? 1 : 0)
    }))
  },
  {
    file: "research.yaml",
    runs: [0, 1, 2, 3].map((batch) => {
      const qs = held(Multihop.task, 16).slice(batch * 4, batch * 4 + 4)
      return {
        inputs: { questions: qs.map((q) => q.question) },
        score: (o) => {
          const answers = o["answers"] as ReadonlyArray<{ readonly answer?: unknown }>
          return qs.filter((q, i) => answers[i]?.answer === q.answer).length / qs.length
        }
      }
    })
  },
  {
    file: "document-extraction.yaml",
    runs: held(Extraction.task, 16).map((e) => ({
      inputs: { note: e.text },
      score: (o) => orderScore(e, o)
    }))
  }
]

const seeds = [1, 2, 3]

/** Optimizes the workflow's module steps, then scores held-out runs in both modes: mean scores by mode. */
const measure = (c: Case, seed: number) =>
  Effect.gen(function* () {
    const w = yield* Workflow.load(path.join(dir, c.file))
    const jobs = yield* Optimize.optimizeAll(w, { seed })
    const engine = yield* WorkflowEngine.WorkflowEngine
    const scores = { traditional: 0, optimized: 0 }
    const records = []
    for (const mode of ["traditional", "optimized"] as const) {
      for (const [i, run] of c.runs.entries()) {
        const result = yield* engine.run(w, run.inputs, { mode, runId: `${mode}-${seed}-${i}` })
        scores[mode] += run.score(result.outputs) / c.runs.length
        records.push(yield* engine.record(result.runId))
      }
    }
    return { scores, jobs, records }
  }).pipe(
    Effect.provide(
      Runtime.layer({}, RunStore.layerMemory, {
        sim: { default: { seed } },
        application: { optimization: { coordinator: { metrics } } }
      })
    )
  )

describe("examples/workflows", () => {
  for (const c of cases) {
    it.effect(
      `${c.file}: the optimized mode beats the traditional one (mean over ${seeds.length} seeds)`,
      () =>
        Effect.gen(function* () {
          const results = yield* Effect.forEach(seeds, (seed) => measure(c, seed))
          const mean = (mode: "traditional" | "optimized") =>
            results.reduce((s, r) => s + r.scores[mode], 0) / results.length
          for (const r of results) {
            for (const job of Object.values(r.jobs)) assert.strictEqual(job.status, "swapped")
          }
          assert.isAbove(mean("optimized"), mean("traditional"))
          // The mode comparison report over the same runs, per step and end to end.
          const report = ModeReport.compare(results[0]!.records, {
            runQuality: (run) => {
              const i = Number(run.runId.split("-")[2])
              return run.result === undefined ? undefined : c.runs[i]!.score(run.result)
            }
          })
          assert.deepStrictEqual(
            report.endToEnd.arms.map((a) => a.arm),
            ["traditional", "optimized"]
          )
          assert.include(ModeReport.render(report), "End to end")
          console.log(
            `${c.file}: traditional ${mean("traditional").toFixed(3)}, optimized ${mean("optimized").toFixed(3)}`
          )
        }),
      240_000
    )
  }
})
