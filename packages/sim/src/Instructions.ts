/**
 * Instruction proposals: when a signature asks for a new instruction (COPRO, MIPROv2's proposer, SIMBA's
 * advice, GEPA's reflection), SimLM composes one from a phrase bank of helpful, neutral and harmful
 * phrases. Higher temperature flattens the choice (more diverse, more harmful phrases); prior attempts
 * shown with scores pull the choice toward the phrases of the better attempts. Dataset summaries and
 * program descriptions are templated text.
 *
 * @since 0.1.0
 */
import * as Concepts from "./Concepts.js"
import type { Random } from "@effect-dspy/foundation"
import type * as Prompt from "./Prompt.js"
import * as Reflection from "./Reflection.js"
import * as ProgramCode from "./internal/ProgramCode.js"
import * as ScoredObjects from "./internal/ScoredObjects.js"
import type * as Task from "./Task.js"

/**
 * A phrase of the bank.
 *
 * @since 0.1.0
 * @category models
 */
export interface Phrase {
  readonly text: string
  readonly kind: "helpful" | "neutral" | "harmful"
  /** The concept the phrase carries (helpful and harmful phrases). */
  readonly feature: Concepts.Concept | undefined
  /** The inventory of the concept's task. */
  readonly inventory: Concepts.Inventory | undefined
}

/**
 * Phrases that neither help nor hurt.
 *
 * @since 0.1.0
 * @category constants
 */
export const neutralPhrases: ReadonlyArray<string> = [
  "Be clear and concise.",
  "Use the information given in the input fields.",
  "Write in plain language.",
  "Keep the answer focused on what was asked.",
  "Follow the output format exactly.",
  "Read the input carefully."
]

const BASE_WEIGHT = { helpful: 1, neutral: 0.8, harmful: 0.5 } as const

/**
 * The phrase bank for a set of tasks.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bank = (tasks: ReadonlyArray<Task.AnyTask>): Array<Phrase> => {
  const out: Array<Phrase> = []
  for (const t of tasks) {
    for (const f of t.inventory.concepts) {
      for (const text of f.phrasings) out.push({ text, kind: f.polarity, feature: f, inventory: t.inventory })
    }
  }
  for (const text of neutralPhrases) out.push({ text, kind: "neutral", feature: undefined, inventory: undefined })
  return out
}

const PROPOSAL_FIELDS = [
  "proposed_instruction",
  "instruction",
  "instructions",
  "new_instruction",
  "improved_instruction",
  "new_instructions",
  "new_prompt",
  "advice",
  "module_advice",
  "rule",
  "rules"
]

/**
 * The output field of a request that asks for a new instruction, if any.
 *
 * @since 0.1.0
 * @category detection
 */
export const proposalField = (parsed: Prompt.Parsed): Prompt.Field | undefined =>
  parsed.outputs.find((o) => PROPOSAL_FIELDS.includes(o.name.toLowerCase()))

const TEMPLATE_FIELDS = /summary|observations|description|program_description|module_description|dataset_description/i

/**
 * True for output fields that get templated descriptive text (dataset summaries, program descriptions).
 *
 * @since 0.1.0
 * @category detection
 */
export const isTemplatedField = (field: Prompt.Field): boolean =>
  (field.type._tag === "str" || field.type._tag === "any") && TEMPLATE_FIELDS.test(field.name)

/**
 * An attempt shown in a prompt: an instruction and its score.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt {
  readonly text: string
  readonly score: number
}

/**
 * Reads prior attempts with scores from a prompt: `Instruction #k: ...` with `Score #k: x` (COPRO's form,
 * any prefix before "Score"), and JSON objects with `instruction` and `score` keys.
 *
 * @since 0.1.0
 * @category parsing
 */
export const attempts = (text: string): Array<Attempt> => {
  const out: Array<Attempt> = []
  const instructions = new Map<string, string>()
  for (const m of text.matchAll(/Instruction #(\d+):\s*((?:[^\n"\\]|\\.)+)/g)) instructions.set(m[1]!, m[2]!.trim())
  for (const m of text.matchAll(/Score #(\d+):\s*(-?\d+(?:\.\d+)?)/g)) {
    const i = instructions.get(m[1]!)
    if (i !== undefined) out.push({ text: i, score: Number(m[2]) })
  }
  for (const o of ScoredObjects.find(text)) out.push({ text: o.text, score: o.score })
  return out
}

const carries = (attempt: string, phrase: Phrase): boolean =>
  phrase.feature !== undefined
    ? phrase.inventory !== undefined && Concepts.asserts(phrase.inventory, attempt, phrase.feature.id)
    : attempt.toLowerCase().includes(phrase.text.toLowerCase())

/**
 * The weight of each phrase of the bank: its base weight (helpful 1, neutral 0.8, harmful 0.5), times
 * `exp(2.5 * z)` where `z` is the mean standardised score of the attempts that carry it, sharpened or
 * flattened by temperature (`weight ^ (1 / max(temperature, 0.3))`).
 *
 * @since 0.1.0
 * @category proposals
 */
export const weights = (
  phrases: ReadonlyArray<Phrase>,
  shown: ReadonlyArray<Attempt>,
  temperature: number
): Array<number> => {
  const mean = shown.reduce((a, b) => a + b.score, 0) / Math.max(1, shown.length)
  const sd = Math.sqrt(shown.reduce((a, b) => a + (b.score - mean) ** 2, 0) / Math.max(1, shown.length)) || 1
  const tau = Math.max(temperature, 0.3)
  return phrases.map((p) => {
    const with_ = shown.filter((a) => carries(a.text, p))
    const z = with_.length === 0 ? 0 : with_.reduce((a, b) => a + (b.score - mean) / sd, 0) / with_.length
    return (BASE_WEIGHT[p.kind] * Math.exp(2.5 * z)) ** (1 / tau)
  })
}

const BASE_FIELDS = [
  "basic_instruction",
  "current_instruction",
  "curr_instruction",
  "initial_instruction",
  "instruction",
  "current_instruction_doc"
]

const stripBank = (text: string, phrases: ReadonlyArray<Phrase>): string => {
  let out = text
  for (const p of phrases) out = out.split(p.text).join("")
  return out.replace(/\s+/g, " ").trim()
}

/**
 * How a proposal is asked for: for one module (SIMBA advises each module of a program by name), and whether
 * the answer is a whole instruction or advice to append to the current one.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProposalOptions {
  readonly module?: string
  readonly mode?: Reflection.Mode
}

/** The current instructions of a module from SIMBA's `modules_defn` (`path: signature\n  instructions: ...`). */
const moduleInstructions = (parsed: Prompt.Parsed, module: string | undefined): string | undefined => {
  const defn = parsed.request["modules_defn"]
  if (defn === undefined || module === undefined) return undefined
  const lines = defn.split("\n")
  const at = lines.findIndex((l) => l.startsWith(`${module}: `))
  const next = at < 0 ? undefined : lines[at + 1]
  // `:(.*)` then trimStart, not `:\s*(.*)`: the two overlap and backtrack quadratically on a long blank run.
  const m = next === undefined ? null : /^\s+instructions:(.*)$/.exec(next)
  return m === null ? undefined : m[1]!.trimStart()
}

/**
 * The tasks a proposal request is about: those the prompt's cues point at most (examples, demos, the
 * current instruction; prior attempts left out, since they may wander off the task); without cues, the task
 * whose strategies the higher-scoring attempts assert (what a reader of the scores would infer); else all.
 *
 * @since 0.1.0
 * @category proposals
 */
export const relevantTasks = (
  parsed: Prompt.Parsed,
  tasks: ReadonlyArray<Task.AnyTask>,
  shown: ReadonlyArray<Attempt>
): ReadonlyArray<Task.AnyTask> => {
  let text = parsed.fullText
  for (const a of [...shown].sort((x, y) => y.text.length - x.text.length)) text = text.split(a.text).join(" ")
  const scored = tasks.map((t) => [t, t.cues(text)] as const)
  const best = Math.max(...scored.map(([, c]) => c))
  if (best > 0) return scored.filter(([, c]) => c === best).map(([t]) => t)
  if (shown.length >= 2) {
    // Each task's best lean: over its helpful strategies, how much better the attempts asserting one scored
    // than those that do not.
    const avg = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    const lean = tasks.map((t) => {
      let best = 0
      for (const c of t.inventory.concepts) {
        if (c.polarity !== "helpful") continue
        const carrying = shown.filter((a) => Concepts.read(t.inventory, a.text).helpful.has(c.id))
        if (carrying.length === 0 || carrying.length === shown.length) continue
        const rest = shown.filter((a) => !carrying.includes(a))
        best = Math.max(best, avg(carrying.map((a) => a.score)) - avg(rest.map((a) => a.score)))
      }
      return best
    })
    const top = Math.max(...lean)
    if (top > 0) return [tasks[lean.indexOf(top)]!]
  }
  return tasks
}

/**
 * Composes a proposed instruction. When the prompt is about one task, it reflects
 * ({@link Reflection.improve}): it keeps the parent instruction's useful content (the current instruction,
 * else the best attempt shown) and adds strategies that address the failures diagnosed in the examples and
 * feedback the prompt shows, leaning toward the strategies of higher-scoring attempts. Otherwise it appends
 * 1 to 4 phrases drawn by {@link weights} to the first sentence of the current instruction.
 *
 * @since 0.1.0
 * @category proposals
 */
export const propose = (
  parsed: Prompt.Parsed,
  tasks: ReadonlyArray<Task.AnyTask>,
  rng: Random.Random,
  temperature: number,
  options: ProposalOptions = {}
): string => {
  const shown = attempts(parsed.fullText)
  const relevant = relevantTasks(parsed, tasks, shown)
  const baseText =
    moduleInstructions(parsed, options.module) ??
    BASE_FIELDS.map((f) => parsed.request[f]).find((v) => v !== undefined && v.trim() !== "")
  if (relevant.length === 1) {
    const task = relevant[0]!
    const observed = Reflection.observations(parsed)
    const bestAttempt = [...shown].sort((a, b) => b.score - a.score)[0]
    return Reflection.improve({
      inventory: task.inventory,
      parent: baseText ?? bestAttempt?.text ?? "",
      diagnosis: observed.length > 0 ? Reflection.diagnose(task, observed, options.module) : undefined,
      attempts: shown,
      rng,
      temperature,
      mode: options.mode ?? "rewrite"
    })
  }
  const phrases = bank(relevant)
  const w = weights(phrases, shown, temperature)
  const count = Math.min(4, 1 + Math.floor(rng.next() * (2 + Math.min(temperature, 2))))
  const chosen: Array<Phrase> = []
  const usedFeatures = new Set<string>()
  for (let i = 0; i < count; i++) {
    const live = w.map((x, j) => {
      const p = phrases[j]!
      return chosen.includes(p) || (p.feature !== undefined && usedFeatures.has(p.feature.id)) ? 0 : x
    })
    if (live.every((x) => x === 0)) break
    const p = phrases[rng.weighted(live)]!
    chosen.push(p)
    if (p.feature !== undefined) usedFeatures.add(p.feature.id)
  }
  if (options.mode === "advice") return chosen.map((p) => p.text).join(" ")
  const base = stripBank(
    baseText ?? (parsed.instructions !== "" ? parsed.instructions : "Solve the task."),
    bank(tasks)
  )
  const firstSentence = /^[^.!?]*[.!?]?/.exec(base)?.[0]?.trim() ?? base
  return [firstSentence === "" ? "Solve the task." : firstSentence, ...chosen.map((p) => p.text)].join(" ")
}

/**
 * Templated descriptive text for a dataset summary, observations, or a program or module description: a
 * program is described from the structure the prompt shows (`program_code`: its predictors, their kinds and
 * signatures), a module from its line (`module`), never from source text.
 *
 * @since 0.1.0
 * @category proposals
 */
export const describe = (field: Prompt.Field, parsed: Prompt.Parsed, tasks: ReadonlyArray<Task.AnyTask>): string => {
  const scored = tasks.map((t) => [t, t.cues(parsed.fullText)] as const).sort((a, b) => b[1] - a[1])
  const top = scored[0]
  const what = top !== undefined && top[1] > 0 ? top[0].description : "input-output examples of a language task"
  if (/module/i.test(field.name) && parsed.request["module"] !== undefined) {
    return `This module, ${parsed.request["module"]}, is one step of a program that works on ${what}: it reads its inputs and writes its outputs for the next step or the final answer.`
  }
  if (/program|module/i.test(field.name)) {
    const predictors = ProgramCode.predictors(parsed.request["program_code"] ?? "").map(
      ([name, kind, args]) => `${name} (a ${kind} from ${args})`
    )
    const structure =
      predictors.length === 0
        ? "takes its inputs and uses language model calls to produce its outputs"
        : `calls ${predictors.length === 1 ? "one predictor" : `${predictors.length} predictors in turn`}, ${predictors.join(", then ")}`
    return `This program works on ${what}. It ${structure}.`
  }
  return `The dataset consists of ${what}. Each example pairs its inputs with a single expected output, and answers must follow the requested format.`
}
