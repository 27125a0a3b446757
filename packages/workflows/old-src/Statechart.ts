/**
 * A workflow as an xstate 5 statechart, and the chart as a Mermaid `stateDiagram-v2` (what `effect-dspy workflow
 * describe` prints).
 *
 * @example
 * ```ts
 * import { Statechart, Workflow } from "@effect-dspy/workflows"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.map(
 *   Workflow.parse(`
 * version: 1
 * name: route
 * inputs: { query: str }
 * steps:
 *   - id: route
 *     module: { signature: "query -> agent" }
 *     inputs: { query: "{inputs.query}" }
 * `),
 *   (w) => Statechart.mermaid(w)
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as xstate from "xstate"
import * as Chart from "./internal/statechart.js"
import type * as Workflow from "./Workflow.js"
import type * as WorkflowSchema from "./WorkflowSchema.js"

/**
 * One transition of the chart.
 *
 * @since 0.1.0
 * @category models
 */
export type Edge = Chart.Edge

/**
 * The compiled chart: the xstate machine, its states and transitions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Statechart {
  readonly machine: xstate.AnyStateMachine
  readonly initial: string
  readonly states: ReadonlyArray<{ readonly id: string; readonly kind: WorkflowSchema.StepKind }>
  readonly edges: ReadonlyArray<Edge>
}

/**
 * Compiles a checked workflow to its statechart.
 *
 * @since 0.1.0
 * @category constructors
 */
export const compile = (workflow: Workflow.Workflow): Statechart =>
  Chart.compile({
    file: workflow.file,
    definition: workflow.definition,
    nodes: workflow.nodes,
    inputs: workflow.inputs,
    outputs: workflow.outputs
  })

const name = (id: string) => (id === Chart.DONE ? "[*]" : id === Chart.FAILED ? "failed" : id.replaceAll("-", "_"))

/**
 * The chart as Mermaid text (`stateDiagram-v2`): branches as choice states, parallel and map steps as composite
 * states holding their children.
 *
 * @since 0.1.0
 * @category formatting
 */
export const mermaid = (workflow: Workflow.Workflow): string => {
  const chart = compile(workflow)
  const lines = ["stateDiagram-v2", `  [*] --> ${name(chart.initial)}`]
  for (const state of chart.states) {
    const node = workflow.nodes.get(state.id)!
    if (state.kind === "branch") lines.push(`  state ${name(state.id)} <<choice>>`)
    if (state.kind === "parallel") {
      const children = (node.step as WorkflowSchema.ParallelStep).parallel
      lines.push(`  state ${name(state.id)} {`)
      children.forEach((c, i) => {
        if (i > 0) lines.push("    --")
        lines.push(`    [*] --> ${name(c.id)}`, `    ${name(c.id)} --> [*]`)
      })
      lines.push("  }")
    }
    if (state.kind === "map") {
      const spec = (node.step as WorkflowSchema.MapStep).map
      lines.push(
        `  state ${name(state.id)} {`,
        `    [*] --> ${name(spec.step.id)}`,
        `    ${name(spec.step.id)} --> [*]`,
        "  }",
        `  note right of ${name(state.id)} : for each of ${spec.over}, ${spec.concurrency ?? 4} at a time`
      )
    }
    if (state.kind !== "branch" && state.kind !== "parallel" && state.kind !== "map") {
      lines.push(`  ${name(state.id)} : ${state.id} (${state.kind})`)
    }
  }
  for (const edge of chart.edges) {
    lines.push(
      `  ${name(edge.from)} --> ${name(edge.to)}${edge.label === undefined ? "" : ` : ${edge.label.replaceAll(":", " ")}`}`
    )
  }
  return lines.join("\n")
}
