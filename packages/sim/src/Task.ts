/**
 * The contract of a simulated task: a seeded dataset generator and a hidden solver that works from the
 * prompt text alone, plus the task's skill parameters and its instruction concepts. The tasks are `Arithmetic`, `Routing`, `Multihop`, `Extraction` and `Vision`.
 *
 * @since 0.1.0
 */
import type * as Concepts from "./Concepts.js"
import type * as Prompt from "./Prompt.js"
import { Random } from "@effect-dspy/foundation"

/**
 * The tasks SimLM knows.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskName = "arithmetic" | "routing" | "multihop" | "extraction" | "vision"

/**
 * The coefficients of the skill model (logits): P(correct) = sigmoid(b0 + bReason * R + bDemo * D
 * - bWrong * wrong demos + I + evidence + difficulty + model offset), where R (0 to 1) is the credit of a
 * reasoning field before the answer, D the saturating credit of the demos (relevant, correct, with correct
 * reasoning in a reasoning program, duplicates once) and I the instruction's credit from its concepts
 * (see {@link Concepts}).
 *
 * @since 0.1.0
 * @category models
 */
export interface SkillParams {
  readonly b0: number
  readonly bReason: number
  readonly bDemo: number
  readonly bWrong: number
  /** Saturation of the demo credit (in demo units). */
  readonly demoCap: number
}

/**
 * A plausible wrong answer and its failure category (one of the task inventory's `categories`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly category: string
  readonly values: Readonly<Record<string, unknown>>
  /** What went wrong, in words (shown in the reasoning). */
  readonly detail: string
}

/**
 * The problem family of an example: demos of the same kind, size and tags are the most relevant.
 *
 * @since 0.1.0
 * @category models
 */
export interface Family {
  readonly kind: string
  readonly size: number
  readonly tags: ReadonlyArray<string>
}

/**
 * What the hidden solver knows about one request: its gold values (keyed by the task's own names), the
 * failure categories it is at risk of, the plausible wrong answers, worked reasoning for the gold or a
 * failure, the intermediate values correct reasoning shows, and the example's logit offsets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Solution {
  readonly task: TaskName
  /** A key of the problem itself (the same for any prompt asking it): the common random numbers' key. */
  readonly key: string
  /** Logit offset of this example (harder examples are negative). */
  readonly difficulty: number
  /** Logit bonus from evidence present in the prompt (multihop: supporting facts in the context). */
  readonly evidence: number
  readonly gold: Readonly<Record<string, unknown>>
  /** The failure categories this example is at risk of (a subset of the inventory's categories). */
  readonly risks: ReadonlyArray<string>
  /** Plausible wrong answers (never empty), each of a category in `risks`. */
  readonly failures: ReadonlyArray<Failure>
  /** Worked reasoning that leads to the gold (no failure) or to a failure's answer. */
  readonly reasoning: (failure: Failure | undefined) => string
  /** Values that correct worked reasoning shows (checked in demos' reasoning). */
  readonly intermediates: ReadonlyArray<string | number>
  readonly family: Family
}

/**
 * A task.
 *
 * @since 0.1.0
 * @category models
 */
export interface Task<E extends Readonly<Record<string, unknown>>> {
  readonly name: TaskName
  /** A one-line description (used in templated dataset summaries). */
  readonly description: string
  /** The input field names of the task's examples. */
  readonly inputKeys: ReadonlyArray<string>
  readonly skill: SkillParams
  /** The task's instruction concepts, failure categories and canonical best instruction. */
  readonly inventory: Concepts.Inventory
  /** One example from a generator. */
  readonly example: (rng: Random.Random) => E
  /** Solves a request from its input values and the rest of the prompt text (`context`). */
  readonly solve: (inputs: Readonly<Record<string, string>>, context: string) => Solution | undefined
  /** Places canonical values onto the signature's output fields (only the fields the task knows). */
  readonly assign: (
    outputs: ReadonlyArray<Prompt.Field>,
    values: Readonly<Record<string, unknown>>
  ) => Record<string, unknown>
  /** Output names not compared when judging a demo (e.g. a confidence). */
  readonly softFields: ReadonlyArray<string>
  /** How strongly a text looks like this task (cue count), for proposals and summaries. */
  readonly cues: (text: string) => number
}

/**
 * Any task.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyTask = Task<Readonly<Record<string, unknown>>>

/**
 * Train, dev and test splits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Splits<E> {
  readonly train: ReadonlyArray<E>
  readonly dev: ReadonlyArray<E>
  readonly test: ReadonlyArray<E>
}

/**
 * Options of a dataset: the seed and the size of each split (defaults 50 / 200 / 200).
 *
 * @since 0.1.0
 * @category models
 */
export interface DatasetOptions {
  readonly seed?: number
  readonly train?: number
  readonly dev?: number
  readonly test?: number
}

/**
 * `count` examples for a seed: example `i` is drawn from its own seeded stream, and duplicates (same
 * inputs) are skipped, so the first examples of a longer list are those of a shorter one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = <E extends Readonly<Record<string, unknown>>>(
  task: Task<E>,
  seed: number,
  count: number
): Array<E> => {
  const out: Array<E> = []
  const seen = new Set<string>()
  for (let i = 0; out.length < count && i < count * 20 + 100; i++) {
    const e = task.example(Random.fromState(Random.hashParts(task.name, seed, i)))
    const key = task.inputKeys.map((k) => String(e[k])).join("\u0000")
    if (seen.has(key)) continue
    seen.add(key)
    out.push(e)
  }
  return out
}

/**
 * Disjoint train / dev / test splits for a seed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const splits = <E extends Readonly<Record<string, unknown>>>(
  task: Task<E>,
  options: DatasetOptions = {}
): Splits<E> => {
  const train = options.train ?? 50
  const dev = options.dev ?? 200
  const test = options.test ?? 200
  if (![train, dev, test].every((n) => Number.isInteger(n) && n >= 0)) {
    throw new RangeError(`split sizes must be non-negative integers, got train=${train} dev=${dev} test=${test}`)
  }
  const all = generate(task, options.seed ?? 0, train + dev + test)
  return { train: all.slice(0, train), dev: all.slice(train, train + dev), test: all.slice(train + dev) }
}

const REASONING = new Set(["reasoning", "rationale", "thought", "thinking", "chain_of_thought", "scratchpad"])

/**
 * True for output names that hold reasoning (`reasoning`, `rationale`, ...).
 *
 * @since 0.1.0
 * @category fields
 */
export const isReasoningField = (name: string): boolean => REASONING.has(name.toLowerCase())

/**
 * The output field that should carry a task's main answer: the first whose name is one of `names`, else the
 * last output that is not a reasoning field nor one of `exclude`.
 *
 * @since 0.1.0
 * @category fields
 */
export const answerField = (
  outputs: ReadonlyArray<Prompt.Field>,
  names: ReadonlyArray<string>,
  exclude: ReadonlyArray<string> = []
): Prompt.Field | undefined => {
  for (const n of names) {
    const f = outputs.find((o) => o.name.toLowerCase() === n)
    if (f !== undefined) return f
  }
  const rest = outputs.filter((o) => !isReasoningField(o.name) && !exclude.includes(o.name.toLowerCase()))
  return rest[rest.length - 1]
}

/** Where `text` ends without its trailing dots and whitespace (a scan: `/[.\s]+$/` backtracks quadratically). */
const endWithoutDotsOrSpaces = (text: string): number => {
  let end = text.length
  while (end > 0 && (text[end - 1] === "." || /\s/.test(text[end - 1]!))) end--
  return end
}

/**
 * Loose equality of an answer value with a gold value: numbers numerically, text case- and
 * space-insensitively, objects key by key.
 *
 * @since 0.1.0
 * @category fields
 */
export const sameValue = (a: unknown, b: unknown): boolean => {
  if (typeof b === "number") {
    const n = typeof a === "number" ? a : Number(String(a).replace(/[$,]/g, "").trim())
    return Number.isFinite(n) && Math.abs(n - b) < 1e-6 * Math.max(1, Math.abs(b))
  }
  if (typeof b === "boolean") {
    return typeof a === "boolean" ? a === b : String(a).trim().toLowerCase() === String(b)
  }
  if (typeof b === "object" && b !== null) {
    let obj: unknown = a
    if (typeof a === "string") {
      try {
        obj = JSON.parse(a)
      } catch {
        return false
      }
    }
    if (typeof obj !== "object" || obj === null) return false
    return Object.entries(b).every(([k, v]) => sameValue((obj as Record<string, unknown>)[k], v))
  }
  const norm = (x: unknown) =>
    String(x)
      .toLowerCase()
      .slice(0, endWithoutDotsOrSpaces(String(x).toLowerCase()))
      .replace(/\s+/g, " ")
      .trim()
  return norm(a) === norm(b)
}

/**
 * The failure category of an answer to a task request: `undefined` when the task does not know the request
 * or the answer is right; the category of the first plausible wrong answer it equals; else `"other"`.
 * Reflection proposers use it to diagnose failed examples.
 *
 * @since 0.1.0
 * @category diagnosis
 */
export const diagnose = (
  task: AnyTask,
  inputs: Readonly<Record<string, string>>,
  outputs: ReadonlyArray<Prompt.Field>,
  values: Readonly<Record<string, unknown>>
): string | undefined => {
  const solution = task.solve(inputs, "")
  if (solution === undefined) return undefined
  const matches = (expected: Record<string, unknown>) => {
    const keys = Object.keys(expected).filter((k) => !task.softFields.includes(k.toLowerCase()))
    return keys.length > 0 && keys.every((k) => values[k] !== undefined && sameValue(values[k], expected[k]))
  }
  if (matches(task.assign(outputs, solution.gold))) return undefined
  return solution.failures.find((f) => matches(task.assign(outputs, f.values)))?.category ?? "other"
}
