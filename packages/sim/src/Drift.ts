/**
 * Drift of the simulated LM, settable while it serves: the world changing under a deployed program, so the
 * real-time optimization loop has something to detect and repair. Two kinds:
 *
 * - `AccuracyDrop`: the model's logit on one task drops by `logits` (every prompt of that task answers right
 *   less often; demos and instructions still add their credit, so an optimizer can win quality back);
 * - `HarderFamily`: the traffic of one task shifts to its harder examples (those whose solver difficulty is in
 *   the hardest `share`); the LM is unchanged, the inputs are harder. {@link example} draws traffic under it.
 *
 * A {@link Control} holds the drift in force; the simulated LM reads it on each call (`SimLM.make({ drift })`),
 * so a test or the demo changes it at run time with `control.set(...)` / `control.clear()`.
 *
 * @example
 * ```ts
 * import { SimDrift, SimLM } from "@effect-dspy/sim"
 *
 * const drift = SimDrift.make()
 * const provider = SimLM.make({ drift })
 * drift.set({ _tag: "AccuracyDrop", task: "arithmetic", logits: 1 })
 * ```
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import * as Arithmetic from "./Arithmetic.js"
import * as Extraction from "./Extraction.js"
import * as Multihop from "./Multihop.js"
import * as Routing from "./Routing.js"
import type * as Task from "./Task.js"

/**
 * A drift of the simulated world.
 *
 * @since 0.1.0
 * @category models
 */
export type Drift =
  | { readonly _tag: "AccuracyDrop"; readonly task: Task.TaskName; readonly logits: number }
  | { readonly _tag: "HarderFamily"; readonly task: Task.TaskName; readonly share: number }

/**
 * The drift in force, changed at run time; read by the simulated LM on every call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Control {
  /** The drift in force (none: the world as generated). */
  readonly current: () => Drift | undefined
  /** Puts a drift in force from the next call on; throws a `RangeError` saying what to fix for a bad one. */
  readonly set: (drift: Drift) => void
  /** Ends the drift. */
  readonly clear: () => void
}

/**
 * Checks a drift; returns a message saying what to fix, or undefined.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (drift: Drift): string | undefined => {
  if (!["arithmetic", "routing", "multihop", "extraction"].includes(drift.task))
    return `drift.task must be one of arithmetic, routing, multihop, extraction, got ${String(drift.task)}`
  switch (drift._tag) {
    case "AccuracyDrop":
      return Number.isFinite(drift.logits) && drift.logits >= 0 && drift.logits <= 10
        ? undefined
        : `AccuracyDrop.logits must be a number in [0, 10], got ${drift.logits}`
    case "HarderFamily":
      return Number.isFinite(drift.share) && drift.share > 0 && drift.share <= 1
        ? undefined
        : `HarderFamily.share must be in (0, 1], got ${drift.share}`
    default:
      return `unknown drift kind: ${String((drift as { _tag?: unknown })._tag)}`
  }
}

/**
 * A control with no drift in force (or `initial`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (initial?: Drift): Control => {
  let drift: Drift | undefined
  const set = (next: Drift) => {
    const problem = validate(next)
    if (problem !== undefined) throw new RangeError(`simulated LM drift: ${problem}`)
    drift = next
  }
  if (initial !== undefined) set(initial)
  return {
    current: () => drift,
    set,
    clear: () => {
      drift = undefined
    }
  }
}

/**
 * The logit offset the drift in force puts on a request of `task` (0 when none applies).
 *
 * @since 0.1.0
 * @category answering
 */
export const logitOffset = (control: Control | undefined, task: Task.TaskName): number => {
  const drift = control?.current()
  return drift !== undefined && drift._tag === "AccuracyDrop" && drift.task === task ? -drift.logits : 0
}

const taskOf = (name: Task.TaskName): Task.AnyTask =>
  (name === "arithmetic"
    ? Arithmetic.task
    : name === "routing"
      ? Routing.task
      : name === "multihop"
        ? Multihop.task
        : Extraction.task) as unknown as Task.AnyTask

const difficultyOf = (task: Task.AnyTask, example: Readonly<Record<string, unknown>>): number => {
  const inputs: Record<string, string> = {}
  for (const k of task.inputKeys) inputs[k] = String(example[k])
  return task.solve(inputs, "")?.difficulty ?? 0
}

/** The difficulty below which an example is in the hardest `share` of a task (from 400 seeded draws), cached. */
const cutoffs = new Map<string, number>()
const cutoffOf = (task: Task.AnyTask, share: number): number => {
  const key = `${task.name}:${share}`
  const known = cutoffs.get(key)
  if (known !== undefined) return known
  const ds: Array<number> = []
  for (let i = 0; i < 400; i++)
    ds.push(difficultyOf(task, task.example(Random.fromState(Random.hashParts("drift-cutoff", task.name, i)))))
  ds.sort((a, b) => a - b)
  const cutoff = ds[Math.min(ds.length - 1, Math.max(0, Math.ceil(share * ds.length) - 1))]!
  cutoffs.set(key, cutoff)
  return cutoff
}

/**
 * Traffic example `i` of a task for a seed, under the drift in force: the task's own distribution, or, under a
 * `HarderFamily` drift of that task, the next example (of the same seeded stream) in its hardest `share`.
 *
 * @since 0.1.0
 * @category traffic
 */
export const example = (
  control: Control | undefined,
  name: Task.TaskName,
  seed: number,
  i: number
): Readonly<Record<string, unknown>> => {
  const task = taskOf(name)
  const drift = control?.current()
  const draw = (j: number) => task.example(Random.fromState(Random.hashParts("drift-traffic", name, seed, i, j)))
  if (drift === undefined || drift._tag !== "HarderFamily" || drift.task !== name) return draw(0)
  const cutoff = cutoffOf(task, drift.share)
  for (let j = 0; j < 64; j++) {
    const e = draw(j)
    if (difficultyOf(task, e) <= cutoff) return e
  }
  return draw(0)
}
