/**
 * Reflection: what the simulated proposer reads in a prompt besides the instruction it is asked to improve,
 * and how it turns that into a better instruction.
 *
 * - **Observations**: examples the program ran on, with what it produced, the metric's feedback and score:
 *   GEPA's reflective dataset (`# Example k` / `## Inputs` / `## Generated Outputs` / `## Feedback`), SIMBA's
 *   better and worse trajectories (JSON, with their rewards and the metric's info), and the demos MIPROv2's
 *   proposer is shown (`Question: ...` / `Answer: ...` blocks, all successes).
 * - **Diagnosis**: for each observed answer the task's solver recognises, its failure category
 *   ({@link Task.diagnose}: the wrong answer equals one of the solver's plausible failures); the feedback's
 *   own words (a strategy it names, read for meaning like an instruction, points at the categories that
 *   strategy addresses); and the categories the observed examples are at risk of.
 * - **Improvement**: the parent instruction's useful content is kept (its task statement and the sentences
 *   that carry helpful strategies; sentences with harmful or prohibited strategies are dropped), and one or
 *   two strategies are added, drawn with weights that favour those addressing the diagnosed failures, then
 *   the risks seen, then (with prior attempts and scores) the strategies of the higher-scoring attempts.
 *   Temperature flattens the draw. Without anything to diagnose or compare, the draw is blind (the task's
 *   strategies, harmful ones included at a lower weight), as a proposer guessing would be.
 *
 * @since 0.1.0
 */
import * as Concepts from "./Concepts.js"
import type { Random } from "@effect-dspy/foundation"
import * as FieldType from "./FieldType.js"
import type * as Prompt from "./Prompt.js"
import * as Task from "./Task.js"

/**
 * One example the prompt shows: its inputs, what the program produced (undefined for a demo shown as a
 * success), the feedback text, and the score when given.
 *
 * @since 0.1.0
 * @category models
 */
export interface Observation {
  readonly inputs: Readonly<Record<string, string>>
  readonly outputs: Readonly<Record<string, unknown>> | undefined
  readonly feedback: string
  readonly score: number | undefined
  /** The module (predictor path) that produced the outputs, when the prompt names one. */
  readonly module: string | undefined
}

/**
 * An attempt shown with its score (read by `Instructions.attempts`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt {
  readonly text: string
  readonly score: number
}

/**
 * What the proposer concluded from the observations for one task.
 *
 * @since 0.1.0
 * @category models
 */
export interface Diagnosis {
  /** Failure categories of the observed wrong answers (and those the feedback points at), with weights. */
  readonly failures: ReadonlyMap<string, number>
  /** Failure categories the observed examples are at risk of, with counts. */
  readonly risks: ReadonlyMap<string, number>
  /** The same for the examples shown as solved demos (MIPROv2's task demos). */
  readonly demoRisks: ReadonlyMap<string, number>
  /**
   * For each failed example, the categories to fix, in order: its wrong answer's category, then the other
   * categories it is at risk of.
   */
  readonly perFailure: ReadonlyArray<ReadonlyArray<string>>
  /** Observed answers judged wrong. */
  readonly failed: number
  /** Observations the task's solver could read. */
  readonly read: number
}

const render = (value: unknown): string => (typeof value === "string" ? value : (JSON.stringify(value) ?? ""))

const parseValue = (text: string): unknown => {
  const t = text.trim()
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t)
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t)
    } catch {
      return t
    }
  }
  return t
}

/** `### name\nvalue` blocks of a markdown section. */
const subsections = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const parts = text.split(/^### /m).slice(1)
  for (const part of parts) {
    const nl = part.indexOf("\n")
    const name = (nl < 0 ? part : part.slice(0, nl)).trim()
    if (name !== "") out[name] = nl < 0 ? "" : part.slice(nl + 1).trim()
  }
  return out
}

const SCORE = /score of (-?\d+(?:\.\d+)?)/i

/** GEPA's reflective dataset: `# Example k` blocks with inputs, generated outputs and feedback. */
const gepaExamples = (text: string): Array<Observation> => {
  if (!/^# Example \d+/m.test(text)) return []
  const out: Array<Observation> = []
  for (const block of text.split(/^# Example \d+\s*$/m).slice(1)) {
    const section = (name: string) => {
      const m = new RegExp(`^## ${name}\\s*$`, "m").exec(block)
      if (m === null) return undefined
      const rest = block.slice(m.index + m[0].length)
      const next = /^## /m.exec(rest)
      return (next === null ? rest : rest.slice(0, next.index)).trim()
    }
    const inputs = subsections(section("Inputs") ?? "")
    const generated = section("Generated Outputs") ?? ""
    const fields = subsections(generated)
    const outputs: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(fields)) outputs[k] = parseValue(v)
    const feedback = section("Feedback") ?? ""
    const score = SCORE.exec(feedback)
    out.push({
      inputs,
      outputs: Object.keys(outputs).length > 0 ? outputs : generated === "" ? undefined : { error: generated },
      feedback,
      score: score === null ? undefined : Number(score[1]),
      module: undefined
    })
  }
  return out
}

const json = (text: string | undefined): unknown => {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const stringRecord = (value: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) out[k] = render(v)
  }
  return out
}

/** SIMBA's better and worse runs: their module calls (JSON), rewards and the metric's info. */
const simbaExamples = (request: Readonly<Record<string, string>>): Array<Observation> => {
  const out: Array<Observation> = []
  for (const side of ["worse", "better"] as const) {
    const trajectory = json(request[`${side}_program_trajectory`])
    const reward = Number(request[`${side}_reward_value`])
    const info = request[`${side}_reward_info`] ?? ""
    if (!Array.isArray(trajectory)) continue
    for (const call of trajectory as ReadonlyArray<Record<string, unknown>>) {
      if (typeof call !== "object" || call === null) continue
      out.push({
        inputs: stringRecord(call["inputs"]),
        outputs:
          typeof call["outputs"] === "object" && call["outputs"] !== null ? stringRecordLoose(call["outputs"]) : {},
        feedback: info,
        score: Number.isFinite(reward) ? reward : undefined,
        module: typeof call["module_name"] === "string" ? call["module_name"] : undefined
      })
    }
  }
  return out
}

const stringRecordLoose = (value: unknown): Record<string, unknown> => ({ ...(value as Record<string, unknown>) })

/** MIPROv2's task demos: blank-line separated blocks of `Prefix: value` lines (successes). */
const demoExamples = (text: string | undefined): Array<Observation> => {
  if (text === undefined || /^No task demos/i.test(text.trim())) return []
  const out: Array<Observation> = []
  for (const block of text.split(/\n\s*\n/)) {
    const inputs: Record<string, string> = {}
    for (const line of block.split("\n")) {
      // `:(.*)` then trimStart, not `:\s*(.*)`: the two overlap and backtrack quadratically on a long blank run.
      const m = /^([A-Z][\w ]*?):(.*)$/.exec(line.trim())
      if (m === null) continue
      const key = m[1]!.trim().toLowerCase().replace(/\s+/g, "_")
      inputs[key] = m[2]!.trimStart()
    }
    if (Object.keys(inputs).length > 0) {
      out.push({ inputs, outputs: undefined, feedback: "", score: 1, module: undefined })
    }
  }
  return out
}

/**
 * The examples a prompt shows (see the module documentation): GEPA's reflective dataset, SIMBA's trajectories,
 * MIPROv2's task demos.
 *
 * @since 0.1.0
 * @category reading
 */
export const observations = (parsed: Prompt.Parsed): Array<Observation> => {
  const out: Array<Observation> = []
  for (const value of Object.values(parsed.request)) out.push(...gepaExamples(value))
  out.push(...simbaExamples(parsed.request))
  out.push(...demoExamples(parsed.request["task_demos"]))
  return out
}

const POSITIVE = /^\s*(correct|right|perfect|well done|good|exactly right)\b/i

const fieldsOf = (values: Readonly<Record<string, unknown>>): Array<Prompt.Field> =>
  Object.keys(values).map((name) => ({
    name,
    typeText: "str",
    type: FieldType.parse("str"),
    description: undefined
  }))

const bump = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by)

/**
 * Diagnoses the observations for a task (optionally only those of one module): the failure category of each
 * wrong answer the solver recognises, the categories of the strategies the feedback names, and the risks of
 * the examples.
 *
 * @since 0.1.0
 * @category diagnosis
 */
export const diagnose = (task: Task.AnyTask, shown: ReadonlyArray<Observation>, module?: string): Diagnosis => {
  const failures = new Map<string, number>()
  const risks = new Map<string, number>()
  const demoRisks = new Map<string, number>()
  const perFailure: Array<ReadonlyArray<string>> = []
  let failed = 0
  let read = 0
  const byId = new Map(task.inventory.concepts.map((c) => [c.id, c]))
  for (const o of shown) {
    if (module !== undefined && o.module !== undefined && o.module !== module) continue
    const solution = task.solve(o.inputs, "")
    if (solution === undefined) continue
    read++
    for (const r of solution.risks) bump(risks, r, 1)
    if (o.outputs === undefined && o.score === 1) for (const r of solution.risks) bump(demoRisks, r, 1)
    let wrong = false
    let category: string | undefined
    if (o.outputs !== undefined) {
      category = Task.diagnose(task, o.inputs, fieldsOf(o.outputs), o.outputs)
      if (category !== undefined) {
        wrong = true
        if (category !== "other") bump(failures, category, 1)
        else for (const r of solution.risks) bump(failures, r, 1 / solution.risks.length)
      }
    }
    if (!wrong && o.score !== undefined && o.score < 1 && !POSITIVE.test(o.feedback)) wrong = true
    if (wrong) {
      failed++
      // What made the failed example hard: the risks it carries count toward their categories too.
      for (const r of solution.risks) bump(failures, r, 0.5)
      const first = category !== undefined && category !== "other" ? [category] : []
      perFailure.push([...first, ...solution.risks.filter((r) => r !== category)])
    }
    // The feedback's own words: a strategy it names points at the categories that strategy addresses.
    if (o.feedback !== "" && !POSITIVE.test(o.feedback)) {
      const reading = Concepts.read(task.inventory, o.feedback)
      for (const m of reading.mentions) {
        const concept = byId.get(m.concept)
        if (concept === undefined) continue
        for (const c of concept.addresses) bump(failures, c, 0.5 / concept.addresses.length)
      }
    }
  }
  return { failures, risks, demoRisks, perFailure, failed, read }
}

const SENTENCE = /[^.!?\n]+[.!?]*/g

const sentencesOf = (text: string): Array<string> =>
  (text.match(SENTENCE) ?? []).map((s) => s.trim()).filter((s) => s !== "")

/**
 * The parent's useful content: its first sentence (the task statement) unless it carries a harmful or
 * prohibited strategy, and every other sentence that carries a helpful strategy and nothing harmful.
 *
 * @since 0.1.0
 * @category improvement
 */
export const usefulContent = (inventory: Concepts.Inventory, parent: string): Array<string> => {
  const kept: Array<string> = []
  sentencesOf(parent).forEach((sentence, i) => {
    const r = Concepts.read(inventory, sentence)
    const clean = r.harmful.size === 0 && r.prohibited.size === 0 && r.cancelled.length === 0
    if (clean && (i === 0 || r.helpful.size > 0)) kept.push(sentence)
  })
  return kept
}

/**
 * How a proposal is written: `rewrite` returns the whole new instruction (the parent's useful content and
 * the added strategies), `advice` only the added sentences (SIMBA appends advice to the instruction).
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "rewrite" | "advice"

/**
 * Options of {@link improve}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ImproveOptions {
  readonly inventory: Concepts.Inventory
  /** The instruction to improve ("" when there is none). */
  readonly parent: string
  readonly diagnosis: Diagnosis | undefined
  readonly attempts: ReadonlyArray<Attempt>
  readonly rng: Random.Random
  readonly temperature: number
  readonly mode: Mode
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

/**
 * The weight of each strategy of the inventory as the next addition (0 for strategies already in force).
 * Helpful strategies start at 1, harmful ones at 0.35 (and at 0 once failures are diagnosed: reflection does
 * not propose what causes them); diagnosed failures they address multiply by `exp(3 x share)`, risks seen by
 * `exp(2 x share)`, and
 * attempts by `exp(2.5 z)` with `z` the mean standardised score of the attempts that assert them; the
 * result is raised to `1 / max(temperature, 0.3)`.
 *
 * @since 0.1.0
 * @category improvement
 */
export const weights = (
  inventory: Concepts.Inventory,
  inForce: ReadonlySet<string>,
  diagnosis: Diagnosis | undefined,
  shown: ReadonlyArray<Attempt>,
  temperature: number
): Array<number> => {
  const failTotal = diagnosis === undefined ? 0 : [...diagnosis.failures.values()].reduce((a, b) => a + b, 0)
  const riskTotal = diagnosis === undefined ? 0 : [...diagnosis.risks.values()].reduce((a, b) => a + b, 0)
  const scores = shown.map((a) => a.score)
  const m = mean(scores)
  const sd = Math.sqrt(mean(scores.map((s) => (s - m) ** 2))) || 1
  const tau = Math.max(temperature, 0.3)
  return inventory.concepts.map((c) => {
    if (inForce.has(c.id) || cleanPhrasings(inventory, c).length === 0) return 0
    if (c.polarity === "harmful" && failTotal > 0) return 0
    let logw = Math.log(c.polarity === "helpful" ? 1 : 0.35)
    if (diagnosis !== undefined && c.polarity === "helpful") {
      const spread = Math.sqrt(Math.max(1, c.addresses.length))
      if (failTotal > 0) {
        const share = c.addresses.reduce((a, k) => a + (diagnosis.failures.get(k) ?? 0), 0) / failTotal
        logw += (3 * share) / spread
      }
      if (riskTotal > 0) {
        const share = c.addresses.reduce((a, k) => a + (diagnosis.risks.get(k) ?? 0), 0) / riskTotal
        logw += (2 * share) / spread
      }
    }
    if (shown.length > 0) {
      const carrying = shown.filter((a) => Concepts.asserts(inventory, a.text, c.id))
      if (carrying.length > 0) logw += 2.5 * mean(carrying.map((a) => (a.score - m) / sd))
    }
    return Math.exp(logw / tau)
  })
}

const cleanCache = new WeakMap<Concepts.Concept, ReadonlyArray<string>>()

/**
 * The phrasings of a concept that read as that concept and nothing else (so that a proposal never asserts a
 * strategy it did not mean to); a concept without any is never proposed.
 *
 * @since 0.1.0
 * @category improvement
 */
export const cleanPhrasings = (inventory: Concepts.Inventory, concept: Concepts.Concept): ReadonlyArray<string> => {
  const hit = cleanCache.get(concept)
  if (hit !== undefined) return hit
  const clean = concept.phrasings.filter((p) => {
    const r = Concepts.read(inventory, p)
    const held = concept.polarity === "helpful" ? r.helpful : r.harmful
    return held.has(concept.id) && r.mentions.every((m) => m.concept === concept.id && !m.negated)
  })
  cleanCache.set(concept, clean)
  return clean
}

const addressedBy = (inventory: Concepts.Inventory, inForce: ReadonlySet<string>, category: string): boolean =>
  inventory.concepts.some((c) => c.polarity === "helpful" && inForce.has(c.id) && c.addresses.includes(category))

const MAX_WORDS = 70

/**
 * Proposes an improved instruction (see the module documentation).
 *
 * @since 0.1.0
 * @category improvement
 */
export const improve = (options: ImproveOptions): string => {
  const { inventory, rng, temperature } = options
  const kept = usefulContent(inventory, options.parent)
  const inForce = new Set(Concepts.read(inventory, kept.join(" ")).helpful.keys())
  const w = weights(inventory, inForce, options.diagnosis, options.attempts, temperature)
  const failures = [...(options.diagnosis?.failures ?? new Map<string, number>())]
    .filter(([, n]) => n > 0)
    .sort((x, y) => y[1] - x[1] || (rng.next() < 0.5 ? -1 : 1))
  // One addition for each failed example and one broadly useful one (one or two without failures; at most
  // four).
  const failedCount = options.diagnosis?.perFailure.length ?? 0
  const extra = rng.next() < Math.min(0.9, 0.25 + 0.35 * temperature) ? 1 : 0
  // Demos showing several kinds of problems (several risk categories) call for one more strategy.
  const riskKinds = [...(options.diagnosis?.demoRisks.keys() ?? [])].filter((k) => !addressedBy(inventory, inForce, k))
  const count = Math.min(4, failedCount > 0 ? failedCount + 1 : 1 + extra + (riskKinds.length >= 2 ? 1 : 0))
  const added: Array<string> = []
  const take = (j: number) => {
    const concept = inventory.concepts[j]!
    w[j] = 0
    inForce.add(concept.id)
    for (const other of concept.opposes ?? []) {
      const k = inventory.concepts.findIndex((c) => c.id === other)
      if (k >= 0) w[k] = 0
    }
    added.push(rng.pick(cleanPhrasings(inventory, concept))!)
  }
  const addressed = (category: string) => addressedBy(inventory, inForce, category)
  const fix = (category: string): boolean => {
    const fit = inventory.concepts.map((c, j) =>
      c.polarity === "helpful" && w[j]! > 0 && c.addresses.includes(category)
        ? (1 / c.addresses.length) ** (1 / Math.max(temperature, 0.3))
        : 0
    )
    if (fit.every((x) => x === 0)) return false
    take(rng.weighted(fit))
    return true
  }
  // First each failed example: a strategy for the first of its categories no strategy in force addresses
  // (the more specific to that category, the likelier).
  for (const categories of options.diagnosis?.perFailure ?? []) {
    if (added.length >= count) break
    for (const category of categories) if (!addressed(category) && fix(category)) break
  }
  // Then the most frequent failure categories still unaddressed.
  for (const [category] of failures) {
    if (added.length >= count) break
    if (!addressed(category)) fix(category)
  }
  // Then the weighted draw (risks seen, attempts' scores; blind when there is nothing to go on).
  while (added.length < count && !w.every((x) => x === 0)) take(rng.weighted(w))
  if (options.mode === "advice") return added.length > 0 ? added.join(" ") : "Keep following the instruction."
  const head = kept.length > 0 ? kept : ["Solve the task."]
  const out = [...head, ...added]
  // Long instructions cost: drop the oldest kept strategy sentences (never the task statement) past the limit.
  const words = (xs: ReadonlyArray<string>) => xs.join(" ").split(/\s+/).length
  while (words(out) > MAX_WORDS && out.length > added.length + 1) out.splice(1, 1)
  return out.join(" ")
}
