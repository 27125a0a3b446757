/**
 * The simulated LM's answer function, shared by the in-process provider and the HTTP server: a pure
 * function of the request and the engine settings. For each choice it reads the prompt, recognises the task
 * (or a proposal request, or a ReAct step), decides correct or wrong by the skill model with common random
 * numbers (one fixed uniform draw per example, seed, sample index and rollout id: the answer is right when
 * the draw is below P(correct), so prompts of equal probability give identical outcomes), picks the failure
 * of a wrong answer by its category's remaining risk, and writes the answer in the adapter's format
 * (ChatAdapter sections, JSON, or tool calls). Other choices (templated text, default values) draw from a
 * stream seeded by the canonical prompt.
 *
 * @since 0.1.0
 */
import { type Completion, FieldMarker } from "@effect-dspy/core"
import * as Arithmetic from "./Arithmetic.js"
import * as Drift from "./Drift.js"
import * as Extraction from "./Extraction.js"
import * as FieldType from "./FieldType.js"
import * as Instructions from "./Instructions.js"
import { Random } from "@effect-dspy/foundation"
import * as Models from "./Models.js"
import * as Multihop from "./Multihop.js"
import * as TwoStepPrompt from "./internal/twoStepPrompt.js"
import * as XmlPrompt from "./internal/xmlPrompt.js"
import * as Prompt from "./Prompt.js"
import * as Routing from "./Routing.js"
import * as Skill from "./Skill.js"
import * as Task from "./Task.js"
import * as Vision from "./Vision.js"

/**
 * Engine settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** The simulator seed (part of every draw). Default 0. */
  readonly seed?: number
  /** The multi-hop world the model "knows". Default 0. */
  readonly world?: number
  /** Overrides of the skill coefficients per task. */
  readonly skill?: { readonly [K in Task.TaskName]?: Partial<Task.SkillParams> }
  /** The model table (skill offsets and prices). */
  readonly models?: { readonly [name: string]: Models.Model }
  /** The drift in force, read on every call (see {@link Drift}); none by default. */
  readonly drift?: Drift.Control
}

/**
 * What the engine decided for one choice (exposed for tests and diagnostics).
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision {
  readonly mode: "task" | "proposal" | "react" | "tool_call" | "generic" | "plain"
  readonly task: Task.TaskName | undefined
  readonly probability: number | undefined
  readonly correct: boolean | undefined
  readonly features: Skill.Features | undefined
}

/**
 * One answered choice.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly content: string
  readonly toolCalls: ReadonlyArray<Completion.ToolCall> | undefined
  readonly decision: Decision
}

/**
 * The tasks in the order they are tried on a request.
 *
 * @since 0.1.0
 * @category tasks
 */
export const tasks = (world = 0): ReadonlyArray<Task.AnyTask> => {
  const cached = taskLists.get(world)
  if (cached !== undefined) return cached
  const list = [
    // First: it answers only requests that carry a PNG (an `Image` input), which no other task reads.
    Vision.task as Task.AnyTask,
    Arithmetic.task as Task.AnyTask,
    (world === 0 ? Multihop.task : Multihop.taskFor(world)) as Task.AnyTask,
    Extraction.task as Task.AnyTask,
    Routing.task as Task.AnyTask
  ]
  taskLists.set(world, list)
  return list
}

const taskLists = new Map<number, ReadonlyArray<Task.AnyTask>>()

const paramsOf = (task: Task.AnyTask, settings: Settings): Task.SkillParams => ({
  ...task.skill,
  ...(settings.skill?.[task.name] ?? {})
})

/**
 * Checks a request; returns a message saying what to fix, or undefined when it is valid.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (request: Completion.CompletionRequest): string | undefined => {
  if (!Array.isArray(request.messages) || request.messages.length === 0) return "messages must be a non-empty array"
  for (const m of request.messages) {
    if (!["system", "user", "assistant", "tool"].includes(m.role)) return `unknown message role: ${String(m.role)}`
    if (typeof m.content !== "string") {
      if (!Array.isArray(m.content)) return "each message content must be a string or an array of content parts"
      for (const p of m.content as ReadonlyArray<unknown>) {
        const problem = partProblem(p)
        if (problem !== undefined) return problem
      }
    }
  }
  const n = request.n ?? 1
  if (!Number.isInteger(n) || n < 1 || n > 128) return `n must be an integer between 1 and 128, got ${n}`
  const t = request.temperature ?? 0
  if (!Number.isFinite(t) || t < 0 || t > 2) return `temperature must be between 0 and 2, got ${t}`
  if (request.maxTokens !== undefined && (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)) {
    return `max_tokens must be a positive integer, got ${request.maxTokens}`
  }
  return undefined
}

/**
 * What is wrong with a message content part, or undefined when it is a valid `text`, `image_url` or
 * `input_audio` part.
 *
 * @since 0.1.0
 * @category validation
 */
export const partProblem = (p: unknown): string | undefined => {
  if (typeof p !== "object" || p === null) return "each content part must be an object"
  const part = p as {
    readonly type?: unknown
    readonly text?: unknown
    readonly image_url?: unknown
    readonly input_audio?: unknown
  }
  switch (part.type) {
    case "text":
      return typeof part.text === "string" ? undefined : "a text part needs a string `text`"
    case "image_url": {
      const url = (part.image_url as { readonly url?: unknown } | undefined)?.url
      return typeof url === "string" ? undefined : "an image_url part needs `image_url.url` (a data URI)"
    }
    case "input_audio": {
      const audio = part.input_audio as { readonly data?: unknown; readonly format?: unknown } | undefined
      return typeof audio?.data === "string" && (audio.format === "wav" || audio.format === "mp3")
        ? undefined
        : "an input_audio part needs `input_audio.data` (base64) and `input_audio.format` (wav or mp3)"
    }
    default:
      return `unknown content part type: ${String(part.type)} (text, image_url or input_audio)`
  }
}

const SEARCH_TOOL = /search|retriev|lookup|wiki/i

const renderChat = (order: ReadonlyArray<string>, values: Readonly<Record<string, unknown>>): string =>
  `${order.map((name) => `[[ ## ${name} ## ]]\n${FieldMarker.escapeValue(FieldType.render(values[name]))}\n\n`).join("")}[[ ## completed ## ]]`

const renderJson = (order: ReadonlyArray<string>, values: Readonly<Record<string, unknown>>): string => {
  const obj: Record<string, unknown> = {}
  for (const name of order) obj[name] = values[name] ?? null
  return JSON.stringify(obj, null, 2)
}

const contextOf = (parsed: Prompt.Parsed, questionKey: string | undefined): string =>
  [
    ...Object.entries(parsed.request)
      .filter(([k]) => k !== questionKey)
      .map(([, v]) => v),
    ...parsed.toolResults
  ].join("\n")

interface Solved {
  readonly task: Task.AnyTask
  readonly solution: Task.Solution
}

const solve = (
  all: ReadonlyArray<Task.AnyTask>,
  inputs: Readonly<Record<string, string>>,
  context: string
): Solved | undefined => {
  for (const task of all) {
    const solution = task.solve(inputs, context)
    if (solution !== undefined) return { task, solution }
  }
  return undefined
}

const argNameOf = (instructions: string, tool: string): string => {
  const m = new RegExp(
    `${tool.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[^\\n]*?takes arguments \\{\\s*['"](\\w+)['"]`
  ).exec(instructions)
  return m?.[1] ?? "query"
}

const toolArgs = (tool: Completion.ToolDefinition, rng: Random.Random): Record<string, unknown> => {
  const schema = FieldType.fromSchema(tool.parameters as FieldType.JsonSchema)
  const v = FieldType.defaultValue(schema, rng, tool.name)
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

interface Context {
  readonly request: Completion.CompletionRequest
  readonly parsed: Prompt.Parsed
  readonly settings: Settings
  readonly all: ReadonlyArray<Task.AnyTask>
  readonly world: number
  readonly offset: number
  readonly temperature: number
  /** The sample index of the choice (0 at temperature 0: every choice is the same sample). */
  readonly sample: number
}

const decide = (
  ctx: Context,
  solved: Solved,
  rng: Random.Random
): {
  values: Record<string, unknown>
  correct: boolean
  p: number
  features: Skill.Features
  failure: Task.Failure | undefined
} => {
  const features = Skill.features(solved.task, ctx.parsed, solved.solution)
  const offset = ctx.offset + Drift.logitOffset(ctx.settings.drift, solved.task.name)
  const p = Skill.probability(paramsOf(solved.task, ctx.settings), features, solved.solution, offset)
  // Common random numbers: one fixed draw per (example, seed, sample, rollout), whatever the prompt says.
  const draw = Random.fromState(
    Random.hashParts("sim-draw", ctx.settings.seed ?? 0, solved.solution.key, ctx.sample, ctx.request.rolloutId ?? 0)
  )
  const correct = draw.next() < p
  const failure = correct ? undefined : Skill.failureOf(solved.task, features, solved.solution, draw.next())
  const values: Record<string, unknown> = { ...(failure === undefined ? solved.solution.gold : failure.values) }
  if (typeof values["confidence"] === "number") {
    values["confidence"] =
      Math.round(Math.min(0.99, Math.max(0.05, values["confidence"] + rng.normal() * 0.03)) * 100) / 100
  }
  return { values, correct, p, features, failure }
}

const fill = (
  ctx: Context,
  rng: Random.Random,
  known: Record<string, unknown>,
  reasoning: string | undefined,
  reasoningField?: string
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const field of ctx.parsed.outputs) {
    let v: unknown = known[field.name]
    const holdsReasoning =
      reasoningField !== undefined ? field.name === reasoningField : Task.isReasoningField(field.name)
    if (v === undefined && holdsReasoning && reasoning !== undefined) v = reasoning
    if (v === undefined && Instructions.isTemplatedField(field)) v = Instructions.describe(field, ctx.parsed, ctx.all)
    if (v === undefined) v = FieldType.defaultValue(field.type, rng, field.name)
    out[field.name] = FieldType.coerce(field.type, v, rng, field.name)
  }
  return out
}

const structured = (ctx: Context, rng: Random.Random): { values: Record<string, unknown>; decision: Decision } => {
  const { parsed } = ctx
  // 1. A request for a new instruction.
  const proposal = Instructions.proposalField(parsed)
  if (proposal !== undefined) {
    const known: Record<string, unknown> = {}
    if (proposal.type._tag === "dict" || proposal.type._tag === "object") {
      let names: Array<string> = []
      try {
        const raw = parsed.request["module_names"]
        names = raw === undefined ? [] : (JSON.parse(raw) as Array<string>)
      } catch {
        names = []
      }
      const advice: Record<string, string> = {}
      for (const name of names.length > 0 ? names : ["predictor"]) {
        advice[name] = Instructions.propose(parsed, ctx.all, rng, ctx.temperature, { module: name, mode: "advice" })
      }
      known[proposal.name] = advice
    } else {
      known[proposal.name] = Instructions.propose(parsed, ctx.all, rng, ctx.temperature)
    }
    return {
      values: fill(ctx, rng, known, "I compared the attempts and their scores and kept what worked best."),
      decision: { mode: "proposal", task: undefined, probability: undefined, correct: undefined, features: undefined }
    }
  }
  // 1b. A TwoStepAdapter extraction: the values the text states.
  const extracted = TwoStepPrompt.extraction(parsed)
  if (extracted !== undefined) {
    return {
      values: fill(ctx, rng, extracted, undefined),
      decision: { mode: "generic", task: undefined, probability: undefined, correct: undefined, features: undefined }
    }
  }
  // 2. A ReAct step.
  const toolName = parsed.outputs.find((o) => o.name === "next_tool_name")
  if (toolName !== undefined) {
    const question = parsed.request["question"] ?? Object.values(parsed.request)[0] ?? ""
    const gathered = contextOf(parsed, "question")
    const names = toolName.type._tag === "literal" ? toolName.type.values.map(String) : ["finish"]
    const search = names.find((n) => SEARCH_TOOL.test(n)) ?? names.find((n) => n !== "finish")
    const steps = (gathered.match(/observation/gi) ?? []).length
    const query = search !== undefined && steps < 6 ? Multihop.nextQuery(question, gathered, ctx.world) : undefined
    const known: Record<string, unknown> =
      query !== undefined && search !== undefined
        ? {
            next_thought: `I need to find the fact: ${query}.`,
            next_tool_name: search,
            next_tool_args: { [argNameOf(parsed.instructions, search)]: query }
          }
        : {
            next_thought: "I have gathered enough information to answer.",
            next_tool_name: names.includes("finish") ? "finish" : names[names.length - 1],
            next_tool_args: {}
          }
    return {
      values: fill(ctx, rng, known, undefined),
      decision: {
        mode: "react",
        task: query !== undefined ? "multihop" : undefined,
        probability: undefined,
        correct: undefined,
        features: undefined
      }
    }
  }
  // 3. A task request.
  const solved = solve(ctx.all, parsed.request, contextOf(parsed, "question"))
  if (solved !== undefined) {
    const d = decide(ctx, solved, rng)
    const known = solved.task.assign(parsed.outputs, d.values)
    const answers = parsed.outputs.filter((f) => f.name in known && !Instructions.isTemplatedField(f))
    if (answers.length > 0)
      return {
        values: fill(ctx, rng, known, solved.solution.reasoning(d.failure), d.features.reasoningField),
        decision: { mode: "task", task: solved.task.name, probability: d.p, correct: d.correct, features: d.features }
      }
  }
  // 4. Anything else: well-formed values of the declared types.
  return {
    values: fill(ctx, rng, {}, "Reasoning about the inputs step by step."),
    decision: { mode: "generic", task: undefined, probability: undefined, correct: undefined, features: undefined }
  }
}

const plain = (ctx: Context, rng: Random.Random): { content: string; decision: Decision } => {
  const text = ctx.parsed.request["text"] ?? ""
  const solved = solve(ctx.all, { question: text, text, query: "" }, ctx.parsed.toolResults.join("\n"))
  if (solved !== undefined && solved.task.name !== "routing") {
    const d = decide(ctx, solved, rng)
    const main = d.values["answer"] ?? JSON.stringify(d.values)
    return {
      content: `${solved.solution.reasoning(d.failure)}\nAnswer: ${FieldType.render(main)}`,
      decision: { mode: "plain", task: solved.task.name, probability: d.p, correct: d.correct, features: d.features }
    }
  }
  const words = text
    .split(/\s+/)
    .filter((w) => w !== "")
    .slice(0, 12)
    .join(" ")
  return {
    content: `(simulated reply ${Random.hashParts(text, rng.between(0, 1 << 30))
      .toString(16)
      .slice(0, 6)}) You said: ${words}`,
    decision: { mode: "plain", task: undefined, probability: undefined, correct: undefined, features: undefined }
  }
}

const schemaOutputs = (format: Completion.ResponseFormat | undefined): Array<Prompt.Field> => {
  if (format?.type !== "json_schema") return []
  const props = (format.schema as FieldType.JsonSchema).properties ?? {}
  return Object.entries(props).map(([name, schema]) => ({
    name,
    typeText: "json",
    type: FieldType.fromSchema(schema),
    description: undefined
  }))
}

const toolCallFor = (
  ctx: Context,
  rng: Random.Random,
  index: number
): ReadonlyArray<Completion.ToolCall> | undefined => {
  const tools = ctx.request.tools ?? []
  if (tools.length === 0) return undefined
  const { parsed } = ctx
  const question = parsed.request["question"] ?? parsed.request["text"] ?? ""
  const search = tools.find((t) => SEARCH_TOOL.test(t.name))
  if (search !== undefined && parsed.toolResults.length < 4) {
    const query = Multihop.nextQuery(question, parsed.toolResults.join("\n"), ctx.world)
    if (query !== undefined) {
      const props = Object.keys((search.parameters as FieldType.JsonSchema).properties ?? { query: {} })
      return [
        {
          id: `call_${Random.hashParts(query, index).toString(16)}`,
          name: search.name,
          arguments: JSON.stringify({ [props[0] ?? "query"]: query })
        }
      ]
    }
  }
  if (parsed.toolResults.length > 0) return undefined
  const known = solve(ctx.all, parsed.format === "plain" ? { question, text: question } : parsed.request, "")
  if (known !== undefined) return undefined
  const tool = tools[0]!
  const args = toolArgs(tool, rng)
  return [
    {
      id: `call_${Random.hashParts(tool.name, JSON.stringify(args), index).toString(16)}`,
      name: tool.name,
      arguments: JSON.stringify(args)
    }
  ]
}

/**
 * Answers choice `index` of a request (the request must be valid, see {@link validate}).
 *
 * @since 0.1.0
 * @category answering
 */
export const answer = (
  request: Completion.CompletionRequest,
  settings: Settings,
  index: number,
  parsedIn?: Prompt.Parsed,
  /** The hash of the canonical prompt, when the caller has it. */
  canonicalIn?: number
): Answer => {
  const world = settings.world ?? 0
  const temperature = request.temperature ?? 0
  let parsed = parsedIn ?? Prompt.parse(request.messages)
  const canonical = canonicalIn ?? Random.hash32(Prompt.canonical(request))
  const rng = Random.fromState(
    Random.hashParts(
      request.model,
      settings.seed ?? 0,
      canonical,
      temperature > 0 ? index : 0,
      temperature,
      request.rolloutId ?? 0
    )
  )
  const extra = schemaOutputs(request.responseFormat)
  if (parsed.outputs.length === 0 && extra.length > 0) {
    parsed = {
      ...parsed,
      outputs: extra,
      outputOrder: extra.map((f) => f.name),
      request:
        parsed.format === "plain"
          ? { question: parsed.request["text"] ?? "", text: parsed.request["text"] ?? "" }
          : parsed.request,
      format: "json"
    }
  }
  const ctx: Context = {
    request,
    parsed,
    settings,
    all: tasks(world),
    world,
    offset: Models.modelOf(request.model, settings.models).skillOffset - 0.5 * Math.max(0, temperature - 1),
    temperature,
    sample: temperature > 0 ? index : 0
  }
  const calls = toolCallFor(ctx, rng, index)
  if (calls !== undefined) {
    return {
      content: "",
      toolCalls: calls,
      decision: { mode: "tool_call", task: undefined, probability: undefined, correct: undefined, features: undefined }
    }
  }
  const wantsJson = request.responseFormat?.type === "json_object" || request.responseFormat?.type === "json_schema"
  if (parsed.format === "plain") {
    const p = plain(ctx, rng)
    if (wantsJson) {
      return { content: JSON.stringify({ answer: p.content }), toolCalls: undefined, decision: p.decision }
    }
    return { content: p.content, toolCalls: undefined, decision: p.decision }
  }
  const { values, decision } = structured(ctx, rng)
  const content =
    parsed.format === "json" || wantsJson
      ? renderJson(parsed.outputOrder, values)
      : parsed.format === "xml"
        ? XmlPrompt.render(parsed.outputOrder, values)
        : parsed.format === "twostep"
          ? TwoStepPrompt.render(parsed.outputOrder, values, FieldType.render)
          : renderChat(parsed.outputOrder, values)
  return { content, toolCalls: undefined, decision }
}

/**
 * Cuts a completion at the first stop sequence and at `maxTokens` (4 characters a token).
 *
 * @since 0.1.0
 * @category answering
 */
export const limit = (
  content: string,
  request: Completion.CompletionRequest
): { readonly content: string; readonly finishReason: Completion.FinishReason } => {
  let out = content
  for (const s of request.stop ?? []) {
    if (s === "") continue
    const at = out.indexOf(s)
    if (at >= 0) out = out.slice(0, at)
  }
  if (request.maxTokens !== undefined && Models.tokens(out) > request.maxTokens) {
    return { content: out.slice(0, request.maxTokens * 4), finishReason: "length" }
  }
  return { content: out, finishReason: "stop" }
}

/**
 * A response with the engine's decision for each choice.
 *
 * @since 0.1.0
 * @category models
 */
export type Response = Completion.CompletionResponse & { readonly decisions: ReadonlyArray<Decision> }

/**
 * A full response: `n` choices, usage and cost. `transform` may change each choice's content (fault
 * injection) before limits apply.
 *
 * @since 0.1.0
 * @category answering
 */
export const respond = (
  request: Completion.CompletionRequest,
  settings: Settings,
  transform?: (content: string, index: number) => string
): Response => {
  const parsed = Prompt.parse(request.messages)
  const canonical = Random.hash32(Prompt.canonical(request))
  const n = request.n ?? 1
  const choices: Array<Completion.Choice> = []
  const decisions: Array<Decision> = []
  let completionTokens = 0
  for (let i = 0; i < n; i++) {
    const a = answer(request, settings, i, parsed, canonical)
    decisions.push(a.decision)
    if (a.toolCalls !== undefined) {
      choices.push({ index: i, content: "", toolCalls: a.toolCalls, finishReason: "tool_calls" })
      completionTokens += Models.choiceTokens("", a.toolCalls)
      continue
    }
    const l = limit(transform === undefined ? a.content : transform(a.content, i), request)
    choices.push({ index: i, content: l.content, finishReason: l.finishReason })
    completionTokens += Models.choiceTokens(l.content)
  }
  const promptTokens = Models.promptTokens(request)
  const usage = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }
  return {
    id: `simcmpl-${Random.hashParts(canonical, settings.seed ?? 0, request.rolloutId ?? 0, request.temperature ?? 0).toString(16)}`,
    model: request.model,
    choices,
    usage,
    costUsd: Models.cost(Models.modelOf(request.model, settings.models), usage),
    cacheHit: false,
    decisions
  }
}
