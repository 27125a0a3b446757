/**
 * A workflow as an xstate 5 statechart: each top-level work step (and each step of a branch's cases) is a state,
 * a branch is a transient state whose guarded `always` transitions pick its case, `done` and `failed` are final.
 * Parallel and map steps are single states whose children run inside them. The machine is driven with xstate's
 * pure `transition` (no timers in xstate: timeouts are Effect's, so tests use TestClock); its snapshot (state and
 * context: the inputs and every finished step's outputs) is what the run store keeps at each step boundary.
 */
import * as xstate from "xstate"
import type * as WS from "../WorkflowSchema.js"
import type * as Check from "./check.js"
import * as Template from "./template.js"

/** The machine's context: the run's inputs and each finished step's outputs. */
export interface Context {
  readonly inputs: { readonly [name: string]: unknown }
  readonly outputs: { readonly [step: string]: { readonly [field: string]: unknown } }
}

/** The events a run sends: a step's outputs, or its failure. */
export type Event =
  | { readonly type: "DONE"; readonly step: string; readonly outputs: { readonly [field: string]: unknown } }
  | { readonly type: "FAIL"; readonly step: string }

/** One edge of the chart (for diagrams and tests). */
export interface Edge {
  readonly from: string
  readonly to: string
  readonly label?: string
}

/** The compiled chart. */
export interface Chart {
  readonly machine: xstate.AnyStateMachine
  /** The states in order: work steps and branches. */
  readonly states: ReadonlyArray<{ readonly id: string; readonly kind: WS.StepKind }>
  readonly edges: ReadonlyArray<Edge>
  readonly initial: string
}

/** The scope templates read in a run: the inputs and the finished steps' outputs. */
export const scopeOf = (context: Context): Template.Scope => ({ ...context.outputs, inputs: context.inputs })

/** Whether a branch condition holds in the scope (a missing value never matches). */
export const holds = (condition: WS.Condition, scope: Template.Scope): boolean => {
  const resolved = Template.resolve(condition.value, scope)
  if (!resolved.ok) return false
  const v = resolved.value
  if (condition.equals !== undefined) return same(v, condition.equals)
  if (condition.notEquals !== undefined) return !same(v, condition.notEquals)
  if (condition.in !== undefined) return condition.in.some((x) => same(v, x))
  return false
}

const same = (a: unknown, b: unknown): boolean =>
  a === b || (typeof a === "object" && a !== null && JSON.stringify(a) === JSON.stringify(b))

export const DONE = "done"
export const FAILED = "failed"

/** Compiles a checked workflow. */
export const compile = (workflow: Check.Checked): Chart => {
  const states: Record<string, xstate.StateNodeConfig<any, any, any, any, any, any, any, any, any, any>> = {}
  const order: Array<{ id: string; kind: WS.StepKind }> = []
  const edges: Array<Edge> = []
  const record = xstate.assign(({ context, event }: { context: Context; event: Event }) =>
    event.type === "DONE" ? { outputs: { ...context.outputs, [event.step]: event.outputs } } : {}
  )

  /** Adds the states of a sequence; returns the id of its first state (or `next` when empty). */
  const sequence = (steps: ReadonlyArray<WS.Step>, next: string): string => {
    let target = next
    for (let i = steps.length - 1; i >= 0; i--) target = state(steps[i]!, target)
    return target
  }
  const state = (step: WS.Step, next: string): string => {
    const node = workflow.nodes.get(step.id)!
    if (node.kind === "branch") {
      const b = (step as WS.BranchStep).branch
      const branches = b.cases.map((c, i) => ({
        target: sequence(c.steps, next),
        guard: { type: "case", params: { condition: c.when } },
        actions: xstate.assign(({ context }: { context: Context }) => ({
          outputs: { ...context.outputs, [step.id]: { case: `cases[${i}]` } }
        })),
        label: `${c.when.value} ${describeTest(c.when)}`
      }))
      const otherwise = {
        target: b.otherwise === undefined ? next : sequence(b.otherwise, next),
        actions: xstate.assign(({ context }: { context: Context }) => ({
          outputs: { ...context.outputs, [step.id]: { case: "otherwise" } }
        })),
        label: "otherwise"
      }
      states[step.id] = {
        always: [...branches, otherwise].map(({ label: _label, ...t }) => t)
      }
      for (const t of [...branches, otherwise]) edges.push({ from: step.id, to: t.target, label: t.label })
      order.unshift({ id: step.id, kind: node.kind })
      return step.id
    }
    states[step.id] = {
      on: {
        DONE: { target: next, actions: record },
        FAIL: { target: FAILED }
      }
    }
    edges.push({ from: step.id, to: next })
    order.unshift({ id: step.id, kind: node.kind })
    return step.id
  }
  const initial = sequence(workflow.definition.steps, DONE)
  states[DONE] = { type: "final" }
  states[FAILED] = { type: "final" }
  const machine: xstate.AnyStateMachine = xstate
    .setup({
      types: {} as { context: Context; events: Event },
      guards: {
        case: ({ context }, params: { readonly condition: WS.Condition }) => holds(params.condition, scopeOf(context))
      }
    })
    .createMachine({
      id: workflow.definition.name,
      initial,
      context: { inputs: {}, outputs: {} },
      states: states as never
    }) as unknown as xstate.AnyStateMachine
  return { machine, states: order, edges, initial }
}

const describeTest = (c: WS.Condition): string =>
  c.equals !== undefined
    ? `== ${JSON.stringify(c.equals)}`
    : c.notEquals !== undefined
      ? `!= ${JSON.stringify(c.notEquals)}`
      : `in ${JSON.stringify(c.in)}`

/** A snapshot of a run: the current state and the context. */
export interface Position {
  readonly value: string
  readonly context: Context
}

/** The first position of a run on `inputs` (past any leading branch). */
export const start = (chart: Chart, inputs: Context["inputs"]): Position => {
  const snapshot = chart.machine.resolveState({ value: chart.initial, context: { inputs, outputs: {} } })
  // Resolving does not take eventless transitions: a leading branch is settled by a no-op event.
  return settle(chart, snapshot)
}

/** The position after an event. */
export const step = (chart: Chart, position: Position, event: Event): Position => {
  const snapshot = chart.machine.resolveState({ value: position.value, context: position.context })
  const [next] = xstate.transition(chart.machine, snapshot, event as never)
  return settle(chart, next)
}

const SETTLE = { type: "xstate.settle" }

const settle = (chart: Chart, snapshot: xstate.AnyMachineSnapshot): Position => {
  let s = snapshot
  // An unknown event takes only the eventless (`always`) transitions of transient branch states.
  for (let i = 0; i < 10_000 && chart.states.some((t) => t.id === s.value && t.kind === "branch"); i++) {
    ;[s] = xstate.transition(chart.machine, s, SETTLE as never)
  }
  return { value: s.value as string, context: s.context as Context }
}
