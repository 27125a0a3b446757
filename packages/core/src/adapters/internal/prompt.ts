/**
 * The prompt text both adapters share (docs/prompt-format.md): field lines, type notes, the task
 * description, user messages and demo turns.
 *
 * @internal
 */
import type * as Completion from "../../lm/Completion.js"
import * as Example from "../../primitives/Example.js"
import * as FieldType from "../../signature/FieldType.js"
import type * as Signature from "../../signature/Signature.js"
import type { Demo } from "../Adapter.js"
import * as FieldMarker from "../FieldMarker.js"
import { formatValue, mediaOf, pyJson, splitMedia } from "./values.js"

const fieldLines = (fields: ReadonlyArray<Signature.Field>): string =>
  fields
    .map((f, i) => `${i + 1}. \`${f.name}\` (${f.typeName})${f.description === undefined ? "" : `: ${f.description}`}`)
    .join("\n")

/** `Your input fields are: ... Your output fields are: ...` */
export const fieldDescription = (signature: Signature.Any): string =>
  `Your input fields are:\n${fieldLines(signature.inputFields)}\nYour output fields are:\n${fieldLines(signature.outputFields)}`

// DSPy shows JSON schemas with `type` first and every other key sorted, recursively.
const typeFirst = (u: unknown): unknown => {
  if (Array.isArray(u)) return u.map(typeFirst)
  if (typeof u !== "object" || u === null) return u
  const entries = Object.entries(u).sort(([a], [b]) =>
    a === "type" ? -1 : b === "type" ? 1 : a < b ? -1 : a > b ? 1 : 0
  )
  return Object.fromEntries(entries.map(([k, v]) => [k, typeFirst(v)]))
}

/** The note after an output placeholder, without the `# note: the value you produce ` lead. */
export const typeNote = (field: Signature.Field): string => {
  const t = field.type
  switch (t._tag) {
    case "str":
      return ""
    case "bool":
      return "must be True or False"
    case "int":
    case "float":
      return `must be a single ${t._tag} value`
    case "literal":
      return `must exactly match (no extra characters) one of: ${t.values.map((v) => (typeof v === "boolean" ? (v ? "True" : "False") : String(v))).join("; ")}`
    default:
      return `must adhere to the JSON schema: ${pyJson(typeFirst(FieldType.jsonSchema(t)))}`
  }
}

/** `{name}` plus the type note for outputs. */
export const placeholder = (field: Signature.Field): string => {
  const note = field.kind === "output" ? typeNote(field) : ""
  return note === "" ? `{${field.name}}` : `{${field.name}}        # note: the value you produce ${note}`
}

/** `[[ ## name ## ]]\nvalue` sections joined by blank lines, each value escaped (see FieldMarker). */
export const sections = (entries: ReadonlyArray<readonly [string, string]>): string =>
  entries
    .map(([name, value]) => `${FieldMarker.header(name)}\n${FieldMarker.escapeValue(value)}`)
    .join("\n\n")
    .trim()

const dedent = (text: string): string => {
  const lines = text.split("\n")
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length)
  const cut = indents.length === 0 ? 0 : Math.min(...indents)
  return lines.map((l) => (l.trim() === "" ? l.replace(/^[ \t]*/, "") : l.slice(cut))).join("\n")
}

/** `In adhering to this structure, your objective is: ` and the instructions, each line indented by 8. */
export const taskDescription = (signature: Signature.Any): string => {
  const lines = dedent(signature.instructions).split(/\r?\n/)
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  return `In adhering to this structure, your objective is: ${["", ...lines].join(`\n${" ".repeat(8)}`)}`
}

/** ` (must be formatted as a valid Python int)` for non-`str` outputs. */
export const typeInfo = (field: Signature.Field): string =>
  field.type._tag === "str" ? "" : ` (must be formatted as a valid Python ${field.typeName})`

const hasValue = (record: Example.Fields, name: string): boolean =>
  Object.hasOwn(record, name) && record[name] !== undefined

/** Writes one field of a message: the ChatAdapter's `[[ ## name ## ]]` section by default. */
export type SectionWriter = (name: string, value: string) => string

const markerSection: SectionWriter = (name, value) => `${FieldMarker.header(name)}\n${FieldMarker.escapeValue(value)}`

/**
 * A message's text as content: the text itself, or, when it holds image or audio values of `record`, content
 * parts (text parts around an `image_url` or `input_audio` part where each value stands).
 */
export const toContent = (text: string, record: Example.Fields): Completion.Content => splitMedia(text, mediaOf(record))

/**
 * A user message's content: the inputs present, with an optional prefix and the output requirements; content
 * parts when an input is an image or audio (see {@link toContent}).
 */
export const userContent = (
  signature: Signature.Any,
  inputs: Example.Fields,
  options: { readonly prefix?: string; readonly requirements?: string; readonly section?: SectionWriter }
): Completion.Content => toContent(userText(signature, inputs, options), inputs)

const userText = (
  signature: Signature.Any,
  inputs: Example.Fields,
  options: { readonly prefix?: string; readonly requirements?: string; readonly section?: SectionWriter }
): string => {
  const parts: Array<string> = [options.prefix ?? ""]
  const section = options.section ?? markerSection
  for (const f of signature.inputFields) {
    if (hasValue(inputs, f.name)) parts.push(section(f.name, formatValue(f, inputs[f.name])))
  }
  if (options.requirements !== undefined) parts.push(options.requirements)
  return parts.join("\n\n").trim()
}

const incompletePrefix = "This is an example of the task, though some input or output fields are not supplied."

/**
 * Demo turns: incomplete demos (some input and some output present) first, with a note and a placeholder
 * for each missing output, then complete demos; demos with no input or no output are left out (DSPy).
 */
export const demoMessages = (
  signature: Signature.Any,
  demos: ReadonlyArray<Demo>,
  assistant: (outputs: Example.Fields, missing: string) => string,
  section?: SectionWriter
): Array<Completion.Message> => {
  const complete: Array<Example.Fields> = []
  const incomplete: Array<Example.Fields> = []
  for (const demo of demos) {
    const record = Example.toRecord(demo)
    const isComplete = signature.fields.every((f) => record[f.name] !== undefined && record[f.name] !== null)
    if (isComplete) complete.push(record)
    else if (
      signature.inputFields.some((f) => Object.hasOwn(record, f.name)) &&
      signature.outputFields.some((f) => Object.hasOwn(record, f.name))
    )
      incomplete.push(record)
  }
  const out: Array<Completion.Message> = []
  for (const d of incomplete) {
    out.push({
      role: "user",
      content: userContent(
        signature,
        d,
        section === undefined ? { prefix: incompletePrefix } : { prefix: incompletePrefix, section }
      )
    })
    out.push({ role: "assistant", content: assistant(d, "Not supplied for this particular example. ") })
  }
  for (const d of complete) {
    out.push({ role: "user", content: userContent(signature, d, section === undefined ? {} : { section }) })
    out.push({ role: "assistant", content: assistant(d, "Not supplied for this conversation history message. ") })
  }
  return out
}

/** The output values for an assistant message: each output's formatted value or the missing text. */
export const outputEntries = (
  signature: Signature.Any,
  outputs: Example.Fields,
  missing: string
): Array<readonly [Signature.Field, string]> =>
  signature.outputFields.map((f) => [f, hasValue(outputs, f.name) ? formatValue(f, outputs[f.name]) : missing] as const)
