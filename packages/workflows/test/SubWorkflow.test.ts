import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ModeReport, type RunRecord, Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const child = `version: 1
name: child
inputs:
  text: str
steps:
  - id: shout
    tool: { name: upper, outputs: { value: str } }
    inputs: { value: "{inputs.text}" }
outputs: { loud: "{shout.value}" }
`

const parent = `version: 1
name: parent
inputs:
  text: str
steps:
  - id: sub
    workflow: { file: child.yaml }
    inputs: { text: "{inputs.text}" }
  - id: fan
    parallel:
      - id: pick
        branch:
          cases:
            - when: { value: "{sub.loud}", equals: "HI" }
              steps:
                - id: greet
                  tool: { name: upper, outputs: { value: str } }
                  inputs: { value: "hello" }
      - id: plain
        tool: { name: upper, outputs: { value: str } }
        inputs: { value: "x" }
outputs:
  loud: "{sub.loud}"
  case: "{fan.pick.case}"
  greet: "{greet.value}"
`

const tools = {
  upper: (inputs: { readonly [k: string]: unknown }) => Effect.succeed({ value: String(inputs["value"]).toUpperCase() })
}

describe("sub-workflows and nesting", () => {
  it.effect("a sub-workflow runs as its own stored run; a branch nested in a parallel step runs its case", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wf-sub-"))
        fs.writeFileSync(path.join(dir, "child.yaml"), child)
        fs.writeFileSync(path.join(dir, "parent.yaml"), parent)
        return dir
      }),
      (dir) =>
        Effect.gen(function* () {
          const w = yield* Workflow.load(path.join(dir, "parent.yaml"))
          const engine = yield* WorkflowEngine.WorkflowEngine
          const result = yield* engine.run(w, { text: "hi" }, { runId: "p1" })
          assert.deepStrictEqual(result.outputs, { loud: "HI", case: "cases[0]", greet: "HELLO" })
          const sub = yield* engine.record("p1/sub")
          assert.strictEqual(sub.status, "succeeded")
          assert.deepStrictEqual(sub.result, { loud: "HI" })
          // A case not taken leaves its steps without values: reading one is a typed error naming the output.
          const error = yield* Effect.flip(engine.run(w, { text: "bye" }, { runId: "p2" }))
          assert.strictEqual(error._tag, "StepFailed")
          assert.include(error.message, `output "greet": {greet.value} has no value`)
        }).pipe(Effect.provide(Runtime.layer(tools))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
  )
})

describe("ModeReport", () => {
  const step = (arm: string, quality: number, shadow?: { arm: string; quality: number }): RunRecord.StepRecord => ({
    step: "route",
    path: "steps[0]",
    kind: "module",
    mode: shadow === undefined ? arm : "evaluation",
    arm,
    attempts: 1,
    timeMs: 10,
    costUsd: 0.001,
    lmCalls: 1,
    success: true,
    outputs: { q: quality },
    ...(shadow === undefined
      ? {}
      : { shadow: { arm: shadow.arm, outputs: { q: shadow.quality }, timeMs: 12, costUsd: 0.001, success: true } })
  })
  const run = (id: string, steps: ReadonlyArray<RunRecord.StepRecord>): RunRecord.RunRecord => ({
    schemaVersion: 1,
    runId: id,
    workflow: "w",
    file: "w.yaml",
    fingerprint: "f",
    status: "succeeded",
    state: "done",
    inputs: {},
    outputs: {},
    partials: {},
    steps,
    result: {},
    createdAt: 0,
    updatedAt: 0
  })

  it("counts both arms of evaluation steps, per step and end to end, on ModeComparison", () => {
    const runs = Array.from({ length: 40 }, (_, i) =>
      run(`r${i}`, [step("traditional", i % 4 === 0 ? 1 : 0, { arm: "optimized", quality: 1 })])
    )
    const report = ModeReport.compare(runs, {
      quality: (_step, outputs) => outputs["q"] as number,
      runQuality: () => 0.5
    })
    const route = report.steps["route"]!
    assert.deepStrictEqual(
      route.arms.map((a) => [a.arm, a.observed]),
      [
        ["traditional", 40],
        ["optimized", 40]
      ]
    )
    assert.strictEqual(route.comparisons[0]!.verdict, "better")
    assert.deepStrictEqual(
      report.endToEnd.arms.map((a) => a.arm),
      ["traditional"]
    )
    assert.include(ModeReport.render(report), "### Step route")
  })
})
