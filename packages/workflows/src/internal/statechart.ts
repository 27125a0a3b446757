/**
 * A workflow as an xstate 5 statechart: each top-level work step (and each step of a branch's cases) is a state,
 * a branch is a transient state whose guarded `always` transitions pick its case, `done` and `failed` are final.
 * Parallel and map steps are single states whose children run inside them. No timers in xstate: timeouts are
 * Effect's, so tests use TestClock. The snapshot (state and context: the inputs and every finished step's outputs)
 * is what the run store keeps at each step boundary.
 *
 * Driving a run: a work state's `DONE` transition has no guard and one target, so its target is read once from the
 * machine xstate built (its state nodes' resolved transitions) and a step boundary applies it directly (the same
 * `assign`: the step's outputs added to the context); a transition that reaches a branch (guarded eventless
 * transitions) is taken by xstate's `transition`. Interpreting every step with an xstate actor cost more than the
 * rest of a step boundary together (see docs/workflows.md, "The cost of a step").
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
  /** Outputs of nested steps (a parallel's children), readable by their ids: recorded, the state stays. */
  | { readonly type: "OUTPUTS"; readonly outputs: { readonly [step: string]: { readonly [field: string]: unknown } } }

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
  /** The ids of the branch states (transient). */
  readonly branches: ReadonlySet<string>
  /** Each work state's `DONE` target, read from the machine's resolved transitions. */
  readonly next: ReadonlyMap<string, string>
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
  const states: Record<string, object> = {}
  const order: Array<{ id: string; kind: WS.StepKind }> = []
  const edges: Array<Edge> = []
  const record = xstate.assign(({ context, event }: { context: Context; event: Event }) =>
    event.type === "DONE"
      ? { outputs: { ...context.outputs, [event.step]: event.outputs } }
      : event.type === "OUTPUTS"
        ? { outputs: { ...context.outputs, ...event.outputs } }
        : {}
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
      types: {} as { context: Context; events: Event; input: Context["inputs"] },
      guards: {
        case: ({ context }, params: { readonly condition: WS.Condition }) => holds(params.condition, scopeOf(context))
      }
    })
    .createMachine({
      id: workflow.definition.name,
      initial,
      on: { OUTPUTS: { actions: record as never } },
      context: ({ input }: { input: Context["inputs"] }) => ({ inputs: input, outputs: {} }),
      states: states as never
    }) as unknown as xstate.AnyStateMachine
  const branches = new Set(order.filter((s) => s.kind === "branch").map((s) => s.id))
  return { machine, states: order, edges, initial, branches, next: nextOf(machine, branches) }
}

/** The `DONE` target of each work state, as xstate resolved it (a work state's `DONE` has no guard, one target). */
const nextOf = (machine: xstate.AnyStateMachine, branches: ReadonlySet<string>): ReadonlyMap<string, string> => {
  const next = new Map<string, string>()
  for (const [id, node] of Object.entries(machine.states as Record<string, xstate.AnyStateNode>)) {
    if (branches.has(id)) continue
    const done = node.on.DONE
    if (done === undefined) continue
    if (done.length !== 1 || done[0]!.guard !== undefined || done[0]!.target?.length !== 1) {
      throw new Error(`statechart ${machine.id}: state "${id}"'s DONE transition is not one unguarded target`)
    }
    next.set(id, done[0]!.target[0]!.key)
  }
  return next
}

/** Whether a work state's `DONE` goes straight to another work state (or the end): no branch in between. */
export const isDirect = (chart: Chart, state: string): boolean => {
  const target = chart.next.get(state)
  return target !== undefined && !chart.branches.has(target)
}

const describeTest = (c: WS.Condition): string =>
  c.equals !== undefined
    ? `== ${JSON.stringify(c.equals)}`
    : c.notEquals !== undefined
      ? `!= ${JSON.stringify(c.notEquals)}`
      : `in ${JSON.stringify(c.in)}`

/** A run's place in the chart: the current state and the context. */
export interface Position {
  readonly value: string
  readonly context: Context
}

/**
 * A run's chart, live: moves only on the events the executor sends, and takes the eventless transitions of
 * branches by itself.
 */
export interface Runner {
  readonly position: () => Position
  readonly send: (event: Event) => Position
}

const runner = (chart: Chart, start: Position): Runner => {
  let position = start
  /** xstate takes the transition from the current position (a branch's guards pick its case). */
  const viaXstate = (event: Event): Position => {
    const [snapshot] = xstate.transition(chart.machine, chart.machine.resolveState(position), event)
    return { value: snapshot.value as string, context: snapshot.context as Context }
  }
  return {
    position: () => position,
    send: (event) => {
      const { value, context } = position
      if (value === DONE || value === FAILED) return position
      switch (event.type) {
        case "OUTPUTS":
          position = { value, context: { inputs: context.inputs, outputs: { ...context.outputs, ...event.outputs } } }
          break
        case "FAIL":
          position = { value: FAILED, context }
          break
        case "DONE": {
          const target = chart.next.get(value)
          if (target === undefined || chart.branches.has(target)) {
            position = viaXstate(event)
            break
          }
          position = {
            value: target,
            context: { inputs: context.inputs, outputs: { ...context.outputs, [event.step]: event.outputs } }
          }
        }
      }
      return position
    }
  }
}

/** A new run on `inputs` (past any leading branch). */
export const start = (chart: Chart, inputs: Context["inputs"]): Runner => {
  if (!chart.branches.has(chart.initial)) {
    return runner(chart, { value: chart.initial, context: { inputs, outputs: {} } })
  }
  const [snapshot] = xstate.initialTransition(chart.machine, inputs)
  return runner(chart, { value: snapshot.value as string, context: snapshot.context as Context })
}

/** A run restored at a stored position (a step boundary: never a branch, which is transient). */
export const restore = (chart: Chart, position: Position): Runner => runner(chart, position)

/**
 * The chart interpreted by an xstate actor at every event (what {@link start} computes, at a higher cost): the
 * reference the direct transitions are tested against.
 */
export const interpret = (chart: Chart, inputs: Context["inputs"]): Runner => {
  const actor = xstate.createActor(chart.machine, { input: inputs })
  actor.start()
  const position = (): Position => {
    const s = actor.getSnapshot()
    return { value: s.value as string, context: s.context as Context }
  }
  return {
    position,
    send: (event) => {
      actor.send(event)
      return position()
    }
  }
}
