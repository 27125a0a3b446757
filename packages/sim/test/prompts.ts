/**
 * A small builder of adapter prompts exactly as docs/prompt-format.md specifies (ChatAdapter and
 * JSONAdapter), so the simulated LM's tests do not depend on the adapters being written in parallel.
 */
import type { Completion } from "@effect-dspy/core"

export interface FieldDef {
  readonly name: string
  readonly type?: string
  readonly description?: string
}

export interface Sig {
  readonly inputs: ReadonlyArray<FieldDef>
  readonly outputs: ReadonlyArray<FieldDef>
  readonly instructions?: string
}

export interface DemoDef {
  readonly inputs: Readonly<Record<string, unknown>>
  readonly outputs: Readonly<Record<string, unknown>>
}

const typeOf = (f: FieldDef): string => f.type ?? "str"

const value = (v: unknown): string =>
  typeof v === "string"
    ? v
    : typeof v === "boolean"
      ? v
        ? "True"
        : "False"
      : typeof v === "number"
        ? String(v)
        : JSON.stringify(v)

const fieldLines = (sig: Sig): string => {
  const line = (f: FieldDef, i: number) =>
    `${i + 1}. \`${f.name}\` (${typeOf(f)})${f.description !== undefined ? `: ${f.description}` : ""}`
  return ["Your input fields are:", ...sig.inputs.map(line), "Your output fields are:", ...sig.outputs.map(line)].join(
    "\n"
  )
}

const note = (t: string): string => {
  if (t === "str") return ""
  if (t === "int" || t === "float") return `        # note: the value you produce must be a single ${t} value`
  if (t === "bool") return "        # note: the value you produce must be True or False"
  const lit = /^Literal\[(.*)\]$/.exec(t)
  if (lit !== null) {
    const values = lit[1]!.split(",").map((s) => s.trim().replace(/^'|'$/g, ""))
    return `        # note: the value you produce must exactly match (no extra characters) one of: ${values.join("; ")}`
  }
  return `        # note: the value you produce must adhere to the JSON schema: ${JSON.stringify(schemaOf(t))}`
}

const schemaOf = (t: string): unknown => {
  if (t.startsWith("list[")) return { type: "array", items: { type: "string" } }
  return { type: "object", additionalProperties: true }
}

const hint = (t: string): string => {
  if (t === "str") return ""
  if (t === "int" || t === "float" || t === "bool") return ` (must be formatted as a valid Python ${t})`
  return ` (must be formatted as a valid Python ${t})`
}

const objective = (sig: Sig): string => {
  const text =
    sig.instructions ??
    `Given the fields ${sig.inputs.map((f) => `\`${f.name}\``).join(", ")}, produce the fields ${sig.outputs.map((f) => `\`${f.name}\``).join(", ")}.`
  return `In adhering to this structure, your objective is: \n${text
    .split("\n")
    .map((l) => `        ${l}`)
    .join("\n")}`
}

const userContent = (sig: Sig, inputs: Readonly<Record<string, unknown>>): string =>
  sig.inputs
    .filter((f) => inputs[f.name] !== undefined)
    .map((f) => `[[ ## ${f.name} ## ]]\n${value(inputs[f.name])}`)
    .join("\n\n")

export const chatSystem = (sig: Sig): string => {
  const structure = [
    ...sig.inputs.map((f) => `[[ ## ${f.name} ## ]]\n{${f.name}}`),
    ...sig.outputs.map((f) => `[[ ## ${f.name} ## ]]\n{${f.name}}${note(typeOf(f))}`),
    "[[ ## completed ## ]]"
  ].join("\n\n")
  return `${fieldLines(sig)}\n\nAll interactions will be structured in the following way, with the appropriate values filled in.\n\n${structure}\n${objective(sig)}`
}

export const chatAssistant = (sig: Sig, outputs: Readonly<Record<string, unknown>>): string =>
  `${sig.outputs.map((f) => `[[ ## ${f.name} ## ]]\n${value(outputs[f.name])}\n\n`).join("")}[[ ## completed ## ]]`

const chatRespond = (sig: Sig): string => {
  const parts = sig.outputs.map((f) => `\`[[ ## ${f.name} ## ]]\`${hint(typeOf(f))}`)
  const [first, ...rest] = parts
  return `Respond with the corresponding output fields, starting with the field ${first}${rest.map((p) => `, then ${p}`).join("")}, and then ending with the marker for \`[[ ## completed ## ]]\`.`
}

export const chat = (
  sig: Sig,
  inputs: Readonly<Record<string, unknown>>,
  demos: ReadonlyArray<DemoDef> = []
): Array<Completion.Message> => [
  { role: "system", content: chatSystem(sig) },
  ...demos.flatMap(
    (d): Array<Completion.Message> => [
      { role: "user", content: userContent(sig, d.inputs) },
      { role: "assistant", content: chatAssistant(sig, d.outputs) }
    ]
  ),
  { role: "user", content: `${userContent(sig, inputs)}\n\n${chatRespond(sig)}` }
]

export const jsonSystem = (sig: Sig): string => {
  const ins = sig.inputs.map((f) => `[[ ## ${f.name} ## ]]\n{${f.name}}`).join("\n\n")
  const outs = sig.outputs.map((f) => `  "${f.name}": "{${f.name}}${note(typeOf(f))}"`).join(",\n")
  return `${fieldLines(sig)}\n\nAll interactions will be structured in the following way, with the appropriate values filled in.\n\nInputs will have the following structure:\n\n${ins}\n\nOutputs will be a JSON object with the following fields.\n\n{\n${outs}\n}\n${objective(sig)}`
}

export const json = (
  sig: Sig,
  inputs: Readonly<Record<string, unknown>>,
  demos: ReadonlyArray<DemoDef> = []
): Array<Completion.Message> => {
  const order = sig.outputs.map((f, i) => `${i === 0 ? "" : "then "}\`${f.name}\`${hint(typeOf(f))}`).join(", ")
  return [
    { role: "system", content: jsonSystem(sig) },
    ...demos.flatMap(
      (d): Array<Completion.Message> => [
        { role: "user", content: userContent(sig, d.inputs) },
        {
          role: "assistant",
          content: JSON.stringify(Object.fromEntries(sig.outputs.map((f) => [f.name, d.outputs[f.name]])), null, 2)
        }
      ]
    ),
    {
      role: "user",
      content: `${userContent(sig, inputs)}\n\nRespond with a JSON object in the following order of fields: ${order}.`
    }
  ]
}

/** Splits a ChatAdapter answer into its fields (as the adapter's parser does). */
export const parseChat = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const headers = [...text.matchAll(/\[\[ ## ([^\]]+?) ## \]\]/g)]
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i]![1]!
    if (name === "completed") break
    const start = headers[i]!.index! + headers[i]![0].length
    const end = i + 1 < headers.length ? headers[i + 1]!.index! : text.length
    out[name] = text.slice(start, end).trim()
  }
  return out
}

export const predictSig: Sig = { inputs: [{ name: "question" }], outputs: [{ name: "answer", type: "int" }] }
export const cotSig: Sig = {
  inputs: [{ name: "question" }],
  outputs: [{ name: "reasoning" }, { name: "answer", type: "int" }]
}
export const BEST_INSTRUCTION =
  "Solve the word problem. Think step by step. Write down the intermediate values after each operation. Double-check each calculation before answering."
