/**
 * Declarative workflows (`@effect-dspy/workflows`).
 *
 * 1. `step_overhead_p50`: the microseconds a workflow step adds over calling its module directly, including the
 *    durable step-boundary write (SQLite in WAL mode). A 20-step workflow of module steps (one registered program
 *    that answers without an LM call, so the figure is the engine: the statechart transition, the bindings, the
 *    step record and the boundary's write, one appended row per step) against the same 20 `ModuleManager.execute`
 *    calls, in interleaved pairs; the figure is
 *    the median of the per-step differences. Target <= 50 us. `step_overhead_cpu_p50` is the same difference in
 *    the process's CPU time (`process.cpuUsage`), which a shared, loaded machine inflates less than wall time.
 * 2. `resume_time`: the milliseconds `WorkflowEngine.resume` takes on a 20-step run stopped before its last step
 *    (read the record, check the workflow, restore the chart, run the last step, write); the baseline is running
 *    the whole workflow. Target <= 100 ms.
 *
 * `WORKFLOW_ITERATIONS=100 pnpm bench workflow` for a quick look (default 500 pairs).
 */
import { Module, Predict, Signature } from "@effect-dspy/core"
import { ModuleManager, TestRuntime } from "@effect-dspy/services"
import { RunStore, Workflow, WorkflowEngine, WorkflowTools } from "@effect-dspy/workflows"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Bench, nowUs, quantile } from "../Harness.js"

/** The process's CPU time (user and system, all its threads) in microseconds. */
const cpuUs = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}

const ITERATIONS = Number(process.env.WORKFLOW_ITERATIONS ?? 500)
const WARMUP = Math.min(100, Math.floor(ITERATIONS / 5))
const STEPS = 20
const RESUMES = Math.max(5, Math.min(50, Math.floor(ITERATIONS / 10)))

/** A program that answers without an LM call: what is measured is the engine around it. */
const echo = Module.make({
  name: "echo",
  parameters: { p: Predict.make(Signature.make("question -> answer")) },
  forward: (_parameters, given: { readonly question: string }) => Effect.succeed({ answer: given.question })
})

const workflowText = (last: "module" | "gate") => `
version: 1
name: bench${last === "gate" ? "_gate" : ""}
mode: optimized
inputs:
  question: str
steps:
${Array.from({ length: STEPS }, (_, i) =>
  last === "gate" && i === STEPS - 1
    ? `  - id: s${i}\n    tool: { name: gate, outputs: { answer: str } }\n`
    : `  - id: s${i}\n    module: { ref: echo }\n    inputs: { question: "${i === 0 ? "{inputs.question}" : `{s${i - 1}.answer}`}" }\n`
).join("")}
outputs:
  answer: "{s${STEPS - 1}.answer}"
`

const bench: Bench = {
  name: "workflow",
  description:
    "Declarative workflows: the time a step adds over its module (with the durable step-boundary write in WAL mode), and resuming a 20-step run",
  run: async (report) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-workflow-"))
    const gate = { open: false }
    const runtime = ManagedRuntime.make(
      WorkflowEngine.layer.pipe(
        Layer.provideMerge(
          Layer.mergeAll(
            RunStore.layerSqlite(path.join(dir, "runs.db")),
            WorkflowTools.layer({
              gate: () => (gate.open ? Effect.succeed({ answer: "done" }) : Effect.fail("closed"))
            }),
            TestRuntime.layer({ config: { events: { maxEvents: 10_000 } } })
          )
        )
      )
    )
    try {
      const w = await runtime.runPromise(
        Effect.gen(function* () {
          yield* Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("echo", echo))
          return yield* Workflow.parse(workflowText("module"), "bench.yaml")
        })
      )
      const inputs = { question: "What is 2 + 3?" }
      const direct = Effect.gen(function* () {
        let question = inputs.question
        for (let i = 0; i < STEPS; i++) {
          const x = yield* ModuleManager.execute("echo", { question })
          question = String((x.output as { readonly answer: unknown }).answer)
        }
      })
      let n = 0
      const viaWorkflow = Effect.suspend(() =>
        Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.run(w, inputs, { runId: `r${++n}` }))
      )
      const perStep: Array<number> = []
      const perStepCpu: Array<number> = []
      const directSamples: Array<number> = []
      const directCpu: Array<number> = []
      const runSamples: Array<number> = []
      for (let i = 0; i < WARMUP + ITERATIONS; i++) {
        const c0 = cpuUs()
        const t0 = nowUs()
        await runtime.runPromise(direct)
        const t1 = nowUs()
        const c1 = cpuUs()
        await runtime.runPromise(viaWorkflow)
        const t2 = nowUs()
        const c2 = cpuUs()
        if (i < WARMUP) continue
        perStep.push((t2 - t1 - (t1 - t0)) / STEPS)
        perStepCpu.push((c2 - c1 - (c1 - c0)) / STEPS)
        directSamples.push((t1 - t0) / STEPS)
        directCpu.push((c1 - c0) / STEPS)
        runSamples.push((t2 - t1) / 1000)
      }
      report({
        bench: "workflow",
        metric: "step_overhead_p50",
        value: quantile(perStep, 0.5),
        unit: "us",
        baseline: quantile(directSamples, 0.5),
        target: "<= 50 us",
        n: perStep.length
      })
      report({ bench: "workflow", metric: "step_overhead_p99", value: quantile(perStep, 0.99), unit: "us" })
      report({
        bench: "workflow",
        metric: "step_overhead_cpu_p50",
        value: quantile(perStepCpu, 0.5),
        unit: "us",
        baseline: quantile(directCpu, 0.5),
        n: perStepCpu.length
      })

      // Resume: runs stopped before their last step (the gate fails), then resumed with the gate open.
      const gated = await runtime.runPromise(Workflow.parse(workflowText("gate"), "bench_gate.yaml"))
      gate.open = false
      for (let i = 0; i < RESUMES; i++) {
        await runtime.runPromise(
          Effect.either(Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.run(gated, inputs, { runId: `g${i}` })))
        )
      }
      gate.open = true
      const resumeSamples: Array<number> = []
      for (let i = 0; i < RESUMES; i++) {
        const t0 = nowUs()
        const result = await runtime.runPromise(
          Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.resume(gated, `g${i}`))
        )
        resumeSamples.push((nowUs() - t0) / 1000)
        if (result.restored.length !== STEPS - 1) {
          throw new Error(`workflow bench: resume restored ${result.restored.length} steps, not ${STEPS - 1}`)
        }
      }
      report({
        bench: "workflow",
        metric: "resume_time",
        value: quantile(resumeSamples, 0.5),
        unit: "ms",
        baseline: quantile(runSamples, 0.5),
        target: "<= 100 ms",
        n: resumeSamples.length
      })
    } finally {
      await runtime.dispose()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default bench
