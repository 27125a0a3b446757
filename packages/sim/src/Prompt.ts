/**
 * Reading a prompt as the adapters write it (docs/prompt-format.md): the input and output fields with their
 * types, the output order, the instructions, the demos (user/assistant pairs before the final request), the
 * request's input values, and any tool results that follow it. Prompts without that structure are read as
 * plain chat.
 *
 * @since 0.1.0
 */
import { type Completion, FieldMarker } from "@effect-dspy/core"
import * as FieldType from "./FieldType.js"
import * as SchemaNote from "./internal/SchemaNote.js"
import * as TwoStepPrompt from "./internal/twoStepPrompt.js"
import * as XmlPrompt from "./internal/xmlPrompt.js"

/**
 * One declared field.
 *
 * @since 0.1.0
 * @category models
 */
export interface Field {
  readonly name: string
  readonly typeText: string
  readonly type: FieldType.FieldType
  readonly description: string | undefined
}

/**
 * A demo: the input values of a user message and the output values of the assistant message after it
 * (strings for ChatAdapter sections, decoded values for JSON).
 *
 * @since 0.1.0
 * @category models
 */
export interface Demo {
  readonly inputs: Readonly<Record<string, string>>
  readonly outputs: Readonly<Record<string, unknown>>
}

/**
 * A parsed prompt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parsed {
  /**
   * `chat` (ChatAdapter sections), `json` (JSONAdapter), `xml` (XMLAdapter elements), `twostep` (the
   * TwoStepAdapter's main call: `name: value` blocks), or `plain` (no adapter structure).
   */
  readonly format: "chat" | "json" | "xml" | "twostep" | "plain"
  readonly inputs: ReadonlyArray<Field>
  readonly outputs: ReadonlyArray<Field>
  /** Output field names in the order the request asks for them. */
  readonly outputOrder: ReadonlyArray<string>
  /** The objective text (the signature's instructions), without its indentation. */
  readonly instructions: string
  readonly demos: ReadonlyArray<Demo>
  /** The final request's input values (for plain prompts: `{ text }`). */
  readonly request: Readonly<Record<string, string>>
  /** Contents of tool messages after the final user message (native function calling). */
  readonly toolResults: ReadonlyArray<string>
  /** Every message's text, joined: for task cues anywhere in the prompt. */
  readonly fullText: string
}

const OBJECTIVE = "In adhering to this structure, your objective is: "

/**
 * Splits text on `[[ ## name ## ]]` header lines into a record of trimmed, unescaped values, as the
 * adapters read them (`FieldMarker.sections`: a value's escaped marker lines stay in the value; text before
 * the first header is ignored; `completed` ends it).
 *
 * @since 0.1.0
 * @category parsing
 */
export const sections = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const { name, value } of FieldMarker.sections(text)) {
    if (name === "completed") break
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}

const readTypeParen = (line: string, from: number): { text: string; end: number } | undefined => {
  // `from` points just after "(": scan to the matching ")" across brackets and quotes.
  let depth = 0
  let quote: string | undefined
  for (let j = from; j < line.length; j++) {
    const c = line[j]!
    if (quote !== undefined) {
      if (c === quote) quote = undefined
      continue
    }
    if (c === "'" || c === '"') quote = c
    else if (c === "[" || c === "(" || c === "{") depth++
    else if (c === "]" || c === "}") depth--
    else if (c === ")") {
      if (depth === 0) return { text: line.slice(from, j), end: j + 1 }
      depth--
    }
  }
  return undefined
}

const parseFieldLines = (
  lines: ReadonlyArray<string>
): Array<{ name: string; typeText: string; description: string | undefined }> => {
  const out: Array<{ name: string; typeText: string; description: string | undefined }> = []
  for (const line of lines) {
    const m = /^\d+\. `([^`]+)` \(/.exec(line)
    if (m === null) continue
    const paren = readTypeParen(line, m[0].length)
    if (paren === undefined) continue
    const rest = line.slice(paren.end)
    out.push({ name: m[1]!, typeText: paren.text, description: rest.startsWith(": ") ? rest.slice(2) : undefined })
  }
  return out
}

const schemaNotes = (system: string): Record<string, FieldType.JsonSchema> => {
  const out: Record<string, FieldType.JsonSchema> = {}
  for (const line of system.split("\n")) {
    const m = SchemaNote.find(line)
    if (m === undefined) continue
    let raw = m[1].trim()
    if (raw.endsWith(",")) raw = raw.slice(0, -1)
    if (raw.endsWith('"')) raw = raw.slice(0, -1)
    try {
      out[m[1]!] = JSON.parse(raw) as FieldType.JsonSchema
    } catch {
      // An unreadable schema note leaves the field typed by its name alone.
    }
  }
  return out
}

const instructionsOf = (system: string): string => {
  const at = system.indexOf(OBJECTIVE)
  if (at < 0) return ""
  return system
    .slice(at + OBJECTIVE.length)
    .split("\n")
    .map((l) => (l.startsWith("        ") ? l.slice(8) : l))
    .join("\n")
    .trim()
}

const RESPOND_CHAT = "\n\nRespond with the corresponding output fields"
const RESPOND_JSON = "\n\nRespond with a JSON object in the following order of fields"

const stripRespond = (content: string): { body: string; order: Array<string> } => {
  for (const marker of [RESPOND_CHAT, RESPOND_JSON]) {
    const at = content.lastIndexOf(marker)
    if (at >= 0) {
      const sentence = content.slice(at)
      const order =
        marker === RESPOND_CHAT
          ? [...sentence.matchAll(/`\[\[ ## (\w+) ## \]\]`/g)].map((m) => m[1]!).filter((n) => n !== "completed")
          : [...sentence.matchAll(/`(\w+)`/g)].map((m) => m[1]!)
      return { body: content.slice(0, at), order }
    }
  }
  if (content.startsWith("Respond with")) return { body: "", order: [] }
  return { body: content, order: [] }
}

const parseJsonObject = (text: string): Record<string, unknown> | undefined => {
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  if (start < 0 || end <= start) return undefined
  try {
    const v = JSON.parse(text.slice(start, end + 1)) as unknown
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * A message's content as the text the simulated LM reads: text parts in order, an image as its data URI and an
 * audio clip as `data:audio/<format>;base64,...`, each where it stands (so an `Image` field's value is the data
 * URI, which the vision task decodes).
 *
 * @since 0.1.0
 * @category parsing
 */
export const flatten = (content: Completion.Content): string =>
  typeof content === "string"
    ? content
    : content
        .map((p) =>
          p.type === "text"
            ? p.text
            : p.type === "image_url"
              ? p.image_url.url
              : `data:audio/${p.input_audio.format};base64,${p.input_audio.data}`
        )
        .join("\n\n")

/**
 * Parses the messages of a request.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (request: ReadonlyArray<Completion.Message>): Parsed => {
  const messages = request.some((m) => typeof m.content !== "string")
    ? request.map((m) => ({ ...m, content: flatten(m.content) }))
    : (request as ReadonlyArray<Completion.Message & { readonly content: string }>)
  const fullText = messages.map((m) => m.content).join("\n\n")
  const given = messages.find((m) => m.role === "system")?.content ?? ""
  const twoStep = TwoStepPrompt.isTwoStep(given)
  const system = twoStep ? TwoStepPrompt.normalize(given) : given
  let lastUser = -1
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === "user") {
      lastUser = i
      break
    }
  }
  const toolResults = messages
    .slice(lastUser + 1)
    .filter((m) => m.role === "tool")
    .map((m) => m.content)
  const structured = system.includes("Your output fields are:")
  if (!structured) {
    return {
      format: "plain",
      inputs: [],
      outputs: [],
      outputOrder: [],
      instructions: system.trim(),
      demos: [],
      request: { text: lastUser >= 0 ? messages[lastUser]!.content : "" },
      toolResults,
      fullText
    }
  }
  const head = systemHead(system)
  const { inputs, outputs, json, instructions } = head
  const xml = !json && XmlPrompt.isXml(system, outputs)
  const names = [...inputs, ...outputs].map((f) => f.name)
  const read = twoStep ? (text: string) => TwoStepPrompt.sections(text, names) : xml ? XmlPrompt.sections : sections
  const last = lastUser >= 0 ? stripRespond(messages[lastUser]!.content) : { body: "", order: [] }
  const demos: Array<Demo> = []
  const start = messages.findIndex((m) => m.role !== "system")
  for (let i = Math.max(start, 0); i + 1 < Math.max(lastUser, 0); i++) {
    const u = messages[i]!
    const a = messages[i + 1]!
    if (u.role !== "user" || a.role !== "assistant") continue
    const outs: Record<string, unknown> = json ? (parseJsonObject(a.content) ?? sections(a.content)) : read(a.content)
    demos.push({ inputs: read(u.content), outputs: outs })
    i++
  }
  const outputNames = outputs.map((f) => f.name)
  const order = last.order.filter((n) => outputNames.includes(n))
  return {
    format:
      json || (lastUser >= 0 && messages[lastUser]!.content.includes(RESPOND_JSON))
        ? "json"
        : xml
          ? "xml"
          : twoStep
            ? "twostep"
            : "chat",
    inputs,
    outputs,
    outputOrder: order.length === outputNames.length ? order : outputNames,
    instructions,
    demos,
    request: read(last.body),
    toolResults,
    fullText
  }
}

interface Head {
  readonly inputs: ReadonlyArray<Field>
  readonly outputs: ReadonlyArray<Field>
  readonly json: boolean
  readonly instructions: string
}

// The system message of a predictor is the same on every call: its reading is kept (bounded).
const heads = new Map<string, Head>()

const systemHead = (system: string): Head => {
  const cached = heads.get(system)
  if (cached !== undefined) return cached
  const head = readHead(system)
  if (heads.size >= 512) heads.delete(heads.keys().next().value!)
  heads.set(system, head)
  return head
}

const readHead = (system: string): Head => {
  const lines = system.split("\n")
  const inAt = lines.findIndex((l) => l.startsWith("Your input fields are:"))
  const outAt = lines.findIndex((l) => l.startsWith("Your output fields are:"))
  let outEnd = lines.findIndex((l, i) => i > outAt && l.trim() === "")
  if (outEnd < 0) outEnd = lines.length
  const notes = schemaNotes(system)
  const toField = (f: { name: string; typeText: string; description: string | undefined }): Field => ({
    ...f,
    type: FieldType.parse(f.typeText, notes[f.name])
  })
  const inputs = inAt >= 0 ? parseFieldLines(lines.slice(inAt + 1, outAt)).map(toField) : []
  const outputs = parseFieldLines(lines.slice(outAt + 1, outEnd)).map(toField)
  const json = system.includes("Outputs will be a JSON object")
  return { inputs, outputs, json, instructions: instructionsOf(system) }
}

/**
 * `text` without the spaces and tabs that end each line (what `/[ \t]+$/gm` removed, in one pass: that regex
 * backtracks quadratically on a long run of blanks followed by something else).
 */
const trimLineEnds = (text: string): string => {
  const parts = text.split(/(\r|\n|\u2028|\u2029)/)
  for (let i = 0; i < parts.length; i += 2) {
    const line = parts[i]!
    let end = line.length
    while (end > 0 && (line[end - 1] === " " || line[end - 1] === "\t")) end--
    parts[i] = line.slice(0, end)
  }
  return parts.join("")
}

const tidy = (text: string): string => {
  let t = text.includes("\r") ? text.replace(/\r\n/g, "\n") : text
  if (t.includes(" \n") || t.includes("\t\n")) t = trimLineEnds(t)
  return t.trim()
}

/**
 * The canonical text of a request used for hashing: roles and contents with line endings and trailing
 * spaces normalised, plus the offered tools and the response format type.
 *
 * @since 0.1.0
 * @category parsing
 */
export const canonical = (request: Completion.CompletionRequest): string => {
  const parts: Array<string> = []
  for (const m of request.messages) {
    parts.push(
      `${m.role}\u0000${tidy(flatten(m.content))}\u0000${m.toolCalls?.map((c) => `${c.name}(${c.arguments})`).join(",") ?? ""}`
    )
  }
  parts.push(request.tools?.map((t) => t.name).join(",") ?? "")
  parts.push(request.responseFormat?.type ?? "text")
  return parts.join("\u0001")
}
