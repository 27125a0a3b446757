/**
 * The skill model: the probability that SimLM answers a task request correctly, from what the prompt means.
 * P(correct) = sigmoid(b0 + bReason * R + bDemo * D - bWrong * W + I + evidence + difficulty + model offset):
 *
 * - R, reasoning: a free-text output field placed before the answer, whatever its name, that the model fills
 *   with worked steps (1); none when the field asks for something else (a poem, a title), is to be left
 *   empty, or the demos show it holding no worked steps.
 * - D, demos: per distinct demo, its relevance to the request (same problem family, size and failure risks)
 *   times, in a reasoning program, how much of the solver's intermediate values its reasoning shows (answer-
 *   only demos count 40%), saturating at the task's `demoCap`; W counts the distinct demos with a wrong answer.
 * - I, instruction: the credit of the concepts the instruction means (see {@link Concepts}), given the
 *   failure categories the example is at risk of.
 *
 * @since 0.1.0
 */
import * as Equations from "./internal/Equations.js"
import * as Concepts from "./Concepts.js"
import * as Meaning from "./Meaning.js"
import type * as Prompt from "./Prompt.js"
import * as Task from "./Task.js"

/**
 * What the skill model read from a prompt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Features {
  /** Reasoning credit R (0 to 1). */
  readonly reasoning: number
  /** The output field that carries the reasoning, if any (by position, not by name). */
  readonly reasoningField: string | undefined
  /** True when a reasoning field before the answer earns credit. */
  readonly reasoningFirst: boolean
  /** The saturating demo credit D. */
  readonly demoCredit: number
  /** Distinct demos of this task with a correct answer. */
  readonly goodDemos: number
  /** Distinct demos of this task with a wrong answer. */
  readonly wrongDemos: number
  /** Demos of another task (or none the solver can read). */
  readonly irrelevantDemos: number
  /** The instruction's meaning. */
  readonly instruction: Concepts.Reading
  /** The instruction's logit credit I for this example. */
  readonly instructionCredit: number
  /** Helpful concepts in force. */
  readonly helpful: ReadonlyArray<string>
  /** Harmful concepts in force. */
  readonly harmful: ReadonlyArray<string>
}

/**
 * The logistic function.
 *
 * @since 0.1.0
 * @category math
 */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

const HINT_FIELDS = /hint|advice|feedback|guidance|tip/i

/**
 * The instruction text the features are read from: the instructions plus any hint-like request input (a
 * Refine hint, SIMBA advice).
 *
 * @since 0.1.0
 * @category features
 */
export const instructionText = (parsed: Prompt.Parsed): string =>
  [
    parsed.instructions,
    ...Object.entries(parsed.request)
      .filter(([k]) => HINT_FIELDS.test(k))
      .map(([, v]) => v)
  ].join("\n")

/** Field names and descriptions that ask for something other than worked steps. */
const OFF_TOPIC = Meaning.stemSet([
  "poem",
  "haiku",
  "joke",
  "song",
  "story",
  "title",
  "greeting",
  "translation",
  "emoji",
  "mood",
  "sentiment",
  "language",
  "topic",
  "color",
  "colour",
  "rhyme",
  "limerick",
  "slogan",
  "tweet",
  "hashtag",
  "apology",
  "compliment",
  "riddle",
  "fact",
  "quote",
  "name",
  "summary",
  "keywords",
  "tags"
])
const REASONING_WORDS = Meaning.stemSet([
  "reasoning",
  "rationale",
  "thought",
  "thinking",
  "steps",
  "step",
  "work",
  "working",
  "scratchpad",
  "scratch",
  "explanation",
  "explain",
  "derivation",
  "calculation",
  "computation",
  "analysis",
  "justification",
  "plan",
  "notes",
  "logic",
  "solution",
  "chain",
  "trace",
  "process",
  "argument",
  "proof",
  "deliberation",
  "reflection"
])
const EMPTY_ASK =
  /\b(leave (it |this )?(empty|blank)|always (write|output|return|answer) ['"]?(n\/?a|none|nothing|empty)|empty string|write nothing|no reasoning)\b/i
const NOT_SUPPLIED = /^not supplied for this/i

const words = (text: string): Array<string> =>
  Meaning.normalise(text.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " "))
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "")
    .map(Meaning.stem)

/** How much of the solver's intermediate values a reasoning text shows (0 to 1), less for false equations. */
export const reasoningQuality = (text: string, solution: Task.Solution): number => {
  const t = text.trim()
  if (t === "" || NOT_SUPPLIED.test(t)) return 0
  const expected = solution.intermediates.map((v) => String(v).toLowerCase())
  if (expected.length === 0) {
    const answer = Object.values(solution.gold).map(String)
    return answer.some((a) => t.includes(a)) ? 1 : 0
  }
  const numbers = new Set((t.match(/-?\d+(?:\.\d+)?/g) ?? []).map((n) => String(Number(n))))
  const lower = t.toLowerCase()
  const shown = expected.filter((v) => (/^-?\d/.test(v) ? numbers.has(String(Number(v))) : lower.includes(v))).length
  let quality = shown / expected.length
  // The equations written (a linear scanner; see internal/Equations.ts).
  for (const [as, op, bs, cs] of Equations.all(t)) {
    const a = Number(as)
    const b = Number(bs)
    const v = op === "+" ? a + b : op === "-" ? a - b : op === "/" ? a / b : a * b
    if (Math.abs(v - Number(cs)) > 1e-6) {
      quality *= 0.3
      break
    }
  }
  return quality
}

const demoCache = new Map<string, Task.Solution | null>()

const solveDemo = (task: Task.AnyTask, demo: Prompt.Demo): Task.Solution | undefined => {
  const key = `${task.name}\u0000${JSON.stringify(demo.inputs)}`
  let s = demoCache.get(key)
  if (s === undefined) {
    s = task.solve(demo.inputs, "") ?? null
    if (demoCache.size >= 4096) demoCache.delete(demoCache.keys().next().value!)
    demoCache.set(key, s)
  }
  return s ?? undefined
}

const answerIndex = (task: Task.AnyTask, parsed: Prompt.Parsed, solution: Task.Solution): number => {
  const keys = Object.keys(task.assign(parsed.outputs, solution.gold)).filter(
    (k) => !task.softFields.includes(k.toLowerCase())
  )
  const at = keys.map((k) => parsed.outputOrder.indexOf(k)).filter((i) => i >= 0)
  return at.length === 0 ? -1 : Math.min(...at)
}

/**
 * The reasoning field of a request by position and content: the free-text output field before the answer
 * that the model fills with worked steps, and the credit R it earns (0 when none does).
 *
 * @since 0.1.0
 * @category features
 */
export const reasoningOf = (
  task: Task.AnyTask,
  parsed: Prompt.Parsed,
  solution: Task.Solution
): { readonly field: string | undefined; readonly credit: number } => {
  const answerAt = answerIndex(task, parsed, solution)
  if (answerAt <= 0) return { field: undefined, credit: 0 }
  let best: { field: string | undefined; credit: number } = { field: undefined, credit: 0 }
  for (const name of parsed.outputOrder.slice(0, answerAt)) {
    const field = parsed.outputs.find((f) => f.name === name)
    if (field === undefined || (field.type._tag !== "str" && field.type._tag !== "any")) continue
    const ask = words(`${name} ${field.description ?? ""}`)
    const reasoningAsked = ask.some((w) => REASONING_WORDS.has(w))
    const offTopic = ask.some((w) => OFF_TOPIC.has(w))
    if (EMPTY_ASK.test(field.description ?? "") || (offTopic && !reasoningAsked)) continue
    // The demos show what goes in the field: the model imitates them.
    let shown = 0
    let worked = 0
    for (const demo of parsed.demos) {
      const v = demo.outputs[name]
      if (typeof v !== "string" || NOT_SUPPLIED.test(v.trim())) continue
      const s = solveDemo(task, demo)
      if (s === undefined) continue
      shown++
      worked += reasoningQuality(v, s) > 0.5 ? 1 : 0
    }
    const credit = shown >= 2 && worked / shown < 0.5 ? 0.3 : 1
    if (credit > best.credit) best = { field: name, credit }
  }
  return best
}

/**
 * How relevant a demo's problem is to the request's: the same kind, a similar size and the same failure
 * risks make it fully relevant; another kind of problem (a bare `2 + 3`) little.
 *
 * @since 0.1.0
 * @category features
 */
export const relevance = (demo: Task.Family, request: Task.Family): number => {
  if (demo.kind !== request.kind) return 0.15
  const a = new Set(demo.tags)
  const b = new Set(request.tags)
  const union = new Set([...a, ...b])
  const shared = [...a].filter((t) => b.has(t)).length
  const jaccard = union.size === 0 ? 1 : shared / union.size
  return 0.55 + (Math.abs(demo.size - request.size) <= 1 ? 0.2 : 0) + 0.25 * jaccard
}

/** Answer-only demos in a reasoning program count this share of a demo with worked reasoning. */
const ANSWER_ONLY = 0.4

/**
 * Whether a demo's outputs agree with the hidden solver: `undefined` when the demo is not of this task or
 * shows no answer.
 *
 * @since 0.1.0
 * @category features
 */
export const judgeDemo = (
  task: Task.AnyTask,
  outputs: ReadonlyArray<Prompt.Field>,
  demo: Prompt.Demo
): boolean | undefined => {
  const solution = solveDemo(task, demo)
  if (solution === undefined) return undefined
  const expected = task.assign(outputs, solution.gold)
  const keys = Object.keys(expected).filter(
    (k) =>
      !task.softFields.includes(k.toLowerCase()) &&
      demo.outputs[k] !== undefined &&
      !(typeof demo.outputs[k] === "string" && NOT_SUPPLIED.test(String(demo.outputs[k]).trim()))
  )
  if (keys.length === 0) return undefined
  return keys.every((k) => Task.sameValue(demo.outputs[k], expected[k]))
}

/**
 * Reads the skill features of a prompt for a task request.
 *
 * @since 0.1.0
 * @category features
 */
export const features = (task: Task.AnyTask, parsed: Prompt.Parsed, solution: Task.Solution): Features => {
  const reasoning = reasoningOf(task, parsed, solution)
  const seenGood = new Set<string>()
  const seenWrong = new Set<string>()
  let irrelevantDemos = 0
  let credit = 0
  for (const demo of parsed.demos) {
    const verdict = judgeDemo(task, parsed.outputs, demo)
    const s = solveDemo(task, demo)
    if (verdict === undefined || s === undefined) {
      irrelevantDemos++
      continue
    }
    if (!verdict) {
      seenWrong.add(s.key)
      continue
    }
    if (seenGood.has(s.key)) continue
    seenGood.add(s.key)
    const shows =
      reasoning.field === undefined
        ? 1
        : (() => {
            const text = demo.outputs[reasoning.field]
            const q = typeof text === "string" ? reasoningQuality(text, s) : 0
            return ANSWER_ONLY + (1 - ANSWER_ONLY) * q
          })()
    credit += relevance(s.family, solution.family) * shows
  }
  const cap = task.skill.demoCap
  const instruction = Concepts.read(task.inventory, instructionText(parsed))
  return {
    reasoning: reasoning.credit,
    reasoningField: reasoning.field,
    reasoningFirst: reasoning.credit > 0,
    demoCredit: cap * (1 - Math.exp(-credit / cap)),
    goodDemos: seenGood.size,
    wrongDemos: seenWrong.size,
    irrelevantDemos,
    instruction,
    instructionCredit: Concepts.credit(task.inventory, instruction, solution.risks),
    helpful: [...instruction.helpful.keys()],
    harmful: [...instruction.harmful.keys()]
  }
}

/**
 * The logit of answering correctly.
 *
 * @since 0.1.0
 * @category model
 */
export const logit = (params: Task.SkillParams, f: Features, solution: Task.Solution, modelOffset = 0): number =>
  params.b0 +
  params.bReason * f.reasoning +
  params.bDemo * f.demoCredit -
  params.bWrong * Math.min(f.wrongDemos, 6) +
  f.instructionCredit +
  solution.evidence +
  solution.difficulty +
  modelOffset

/**
 * The probability of answering correctly.
 *
 * @since 0.1.0
 * @category model
 */
export const probability = (params: Task.SkillParams, f: Features, solution: Task.Solution, modelOffset = 0): number =>
  sigmoid(logit(params, f, solution, modelOffset))

/**
 * The failure of a wrong answer: drawn among the solution's failures, each weighted by how much of its
 * category's risk the instruction leaves (see {@link Concepts.residualRisk}).
 *
 * @since 0.1.0
 * @category model
 */
export const failureOf = (task: Task.AnyTask, f: Features, solution: Task.Solution, u: number): Task.Failure => {
  const weights = solution.failures.map((x) => Concepts.residualRisk(task.inventory, f.instruction, x.category))
  const total = weights.reduce((a, b) => a + b, 0)
  let r = u * total
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!
    if (r < 0) return solution.failures[i]!
  }
  return solution.failures[solution.failures.length - 1]!
}
