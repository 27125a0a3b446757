import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Chart from "../src/internal/statechart.js"
import { Workflow } from "../src/index.js"

// A leading branch, a branch whose case holds, one whose `otherwise` serves, nested sequences, a parallel step.
const text = `
version: 1
name: chart
inputs:
  kind: str
steps:
  - id: first
    branch:
      cases:
        - when: { value: "{inputs.kind}", equals: "a" }
          steps:
            - id: a1
              tool: { name: t, outputs: { v: str } }
            - id: a2
              tool: { name: t, outputs: { v: str } }
      otherwise:
        - id: o1
          tool: { name: t, outputs: { v: str } }
  - id: mid
    tool: { name: t, outputs: { v: str } }
  - id: second
    branch:
      cases:
        - when: { value: "{mid.v}", in: ["x", "y"] }
          steps:
            - id: b1
              tool: { name: t, outputs: { v: str } }
      otherwise:
        - id: b2
          tool: { name: t, outputs: { v: str } }
  - id: both
    parallel:
      - id: left
        tool: { name: t, outputs: { v: str } }
      - id: right
        tool: { name: t, outputs: { v: str } }
  - id: last
    tool: { name: t, outputs: { v: str } }
outputs:
  v: "{last.v}"
`

/** Drives a runner to the end, each step answering `answer(step)`; the positions it went through. */
const drive = (runner: Chart.Runner, answer: (step: string) => string): Array<Chart.Position> => {
  const seen = [runner.position()]
  let position = runner.position()
  while (position.value !== Chart.DONE && position.value !== Chart.FAILED) {
    if (position.value === "both") {
      runner.send({ type: "OUTPUTS", outputs: { left: { v: "l" }, right: { v: "r" } } })
    }
    position = runner.send({ type: "DONE", step: position.value, outputs: { v: answer(position.value) } })
    seen.push(position)
  }
  return seen
}

describe("Statechart", () => {
  it.effect(
    "a run's transitions are xstate's: the same states and contexts as an xstate actor, branches included",
    () =>
      Effect.gen(function* () {
        const w = yield* Workflow.parse(text, "chart.yaml")
        const chart = Chart.compile(w)
        for (const [kind, mid] of [
          ["a", "x"],
          ["b", "y"],
          ["a", "z"],
          ["c", "q"]
        ] as const) {
          const answer = (step: string) => (step === "mid" ? mid : `${step}!`)
          const direct = drive(Chart.start(chart, { kind }), answer)
          const reference = drive(Chart.interpret(chart, { kind }), answer)
          assert.deepStrictEqual(direct, reference)
          assert.strictEqual(direct.at(-1)!.value, Chart.DONE)
          // The path depends on the branches (so the comparison covers both cases of each).
          const path = direct.map((p) => p.value)
          assert.strictEqual(path[0], kind === "a" ? "a1" : "o1")
          assert.include(path, ["x", "y"].includes(mid) ? "b1" : "b2")
        }
      })
  )

  it.effect("FAIL ends the run where it stands, as in xstate; a restored run continues from its stored position", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(text, "chart.yaml")
      const chart = Chart.compile(w)
      const direct = Chart.start(chart, { kind: "a" })
      const reference = Chart.interpret(chart, { kind: "a" })
      assert.deepStrictEqual(direct.send({ type: "FAIL", step: "a1" }), reference.send({ type: "FAIL", step: "a1" }))
      assert.strictEqual(direct.position().value, Chart.FAILED)
      // Nothing moves a finished run.
      assert.strictEqual(direct.send({ type: "DONE", step: "a1", outputs: {} }).value, Chart.FAILED)
      const restored = Chart.restore(chart, { value: "mid", context: { inputs: { kind: "a" }, outputs: {} } })
      assert.strictEqual(restored.send({ type: "DONE", step: "mid", outputs: { v: "x" } }).value, "b1")
    })
  )
})
