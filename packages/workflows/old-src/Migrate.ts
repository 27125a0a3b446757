/**
 * The migration helper: turns prompt steps (a workflow's, or a folder of prompt templates) into module steps. For
 * each prompt it proposes a module spec (signature inputs from the template's variables, outputs from the fields
 * it parses, instructions from the prompt text), keeps the prompt as the step's traditional arm, and puts the step
 * in `evaluation` mode (the prompt serves, the module runs in the shadow, both are recorded). The result is a new
 * workflow file's text and a line diff against the old one; writing it is the caller's choice (the CLI never
 * overwrites without `--force`).
 *
 * @example
 * ```ts
 * import { Migrate } from "@effect-dspy/workflows"
 *
 * const proposal = Migrate.fromText(`
 * version: 1
 * name: route
 * inputs: { query: str }
 * steps:
 *   - id: route
 *     prompt: { template: "Route this request: {inputs.query}", outputs: { agent: str } }
 * `)
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as YAML from "yaml"
import * as Template from "./internal/template.js"
import * as Workflow from "./Workflow.js"
import type { WorkflowInvalid } from "./WorkflowError.js"
import * as WorkflowSchema from "./WorkflowSchema.js"

/**
 * One proposed module spec, for the prompt step it replaces.
 *
 * @since 0.1.0
 * @category models
 */
export interface Proposal {
  readonly step: string
  readonly signature: string
  readonly instructions: string
  /** The step's new input bindings (a field per template variable). */
  readonly inputs: { readonly [field: string]: string }
  /** The prompt rewritten on the signature's input fields (the step's traditional arm). */
  readonly template: string
}

/**
 * A migration: the proposals, the new workflow's text, and a line diff (`-`/`+`) against the old text.
 *
 * @since 0.1.0
 * @category models
 */
export interface Migration {
  readonly proposals: ReadonlyArray<Proposal>
  readonly text: string
  readonly diff: string
}

/** A field name for a template reference: its last part (`inputs.query` -> `query`, `route.agent` -> `agent`). */
const fieldOf = (parts: ReadonlyArray<string>): string => {
  const last = parts[parts.length - 1] ?? "value"
  return /^\d+$/.test(last) ? `${parts[parts.length - 2] ?? "item"}_${last}` : last.replaceAll("-", "_")
}

/**
 * Proposes a module spec for a prompt template and its output fields.
 *
 * @since 0.1.0
 * @category proposing
 */
export const propose = (
  step: string,
  prompt: WorkflowSchema.PromptSpec,
  bindings: { readonly [name: string]: unknown } = {}
): Proposal => {
  const inputs: Record<string, string> = {}
  const taken = new Map<string, string>()
  let template = ""
  let instructions = ""
  let at = 0
  for (const p of Template.placeholders(prompt.template)) {
    // A variable that names one of the step's own inputs reads that binding; any other reads the workflow.
    const own = p.parts.length === 1 && Object.hasOwn(bindings, p.ref)
    const source = own ? String(bindings[p.ref]) : `{${p.ref}}`
    let field = taken.get(source)
    if (field === undefined) {
      field = fieldOf(p.parts)
      while (Object.hasOwn(inputs, field)) field = `${field}_`
      inputs[field] = source
      taken.set(source, field)
    }
    template += `${prompt.template.slice(at, p.start)}{${field}}`
    instructions += `${prompt.template.slice(at, p.start)}the ${field}`
    at = p.end
  }
  template += prompt.template.slice(at)
  instructions += prompt.template.slice(at)
  const outputs = Object.entries(prompt.outputs)
    .map(([name, type]) => (type === "str" ? name : `${name}: ${type}`))
    .join(", ")
  return {
    step,
    signature: `${Object.keys(inputs).join(", ")} -> ${outputs}`,
    instructions: instructions.replaceAll(/\s+/g, " ").trim(),
    inputs,
    template
  }
}

type Raw = { [key: string]: unknown }

/** Rewrites the prompt steps of a raw step list (nested ones too); collects the proposals. */
const rewrite = (steps: ReadonlyArray<Raw>, proposals: Array<Proposal>): Array<Raw> =>
  steps.map((step) => {
    if (Object.hasOwn(step, "prompt") && !Object.hasOwn(step, "module")) {
      const spec = step["prompt"] as WorkflowSchema.PromptSpec
      const proposal = propose(String(step["id"]), spec, (step["inputs"] as Raw | undefined) ?? {})
      proposals.push(proposal)
      const { prompt: _prompt, inputs: _inputs, mode: _mode, ...rest } = step
      return {
        ...rest,
        module: { signature: proposal.signature, kind: "predict", instructions: proposal.instructions },
        prompt: { ...spec, template: proposal.template },
        inputs: proposal.inputs,
        mode: "evaluation",
        evaluation: { serve: "traditional" }
      }
    }
    const out: Raw = { ...step }
    if (Object.hasOwn(step, "branch")) {
      const b = step["branch"] as { cases: Array<Raw & { steps: Array<Raw> }>; otherwise?: Array<Raw> }
      out["branch"] = {
        ...b,
        cases: b.cases.map((c) => ({ ...c, steps: rewrite(c.steps, proposals) })),
        ...(b.otherwise === undefined ? {} : { otherwise: rewrite(b.otherwise, proposals) })
      }
    }
    if (Object.hasOwn(step, "parallel")) out["parallel"] = rewrite(step["parallel"] as Array<Raw>, proposals)
    if (Object.hasOwn(step, "map")) {
      const m = step["map"] as Raw
      out["map"] = { ...m, step: rewrite([m["step"] as Raw], proposals)[0] }
    }
    return out
  })

/**
 * A line diff of two texts (longest common subsequence): unchanged lines with two spaces, removed with `- `,
 * added with `+ `.
 *
 * @since 0.1.0
 * @category formatting
 */
export const diff = (before: string, after: string): string => {
  const a = before.split("\n")
  const b = after.split("\n")
  const n = a.length
  const m = b.length
  const lcs: Array<Array<number>> = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
    }
  }
  const out: Array<string> = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`)
      i++
      j++
    } else if (j < m && (i >= n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      out.push(`+ ${b[j]}`)
      j++
    } else {
      out.push(`- ${a[i]}`)
      i++
    }
  }
  return out.join("\n")
}

/**
 * Migrates a workflow's text: checks it first (a workflow that does not check is not migrated), then rewrites its
 * prompt steps into module steps in evaluation mode; the new text is checked too.
 *
 * @since 0.1.0
 * @category migrating
 */
export const fromText = (text: string, file = "workflow.yaml"): Effect.Effect<Migration, WorkflowInvalid> =>
  Effect.gen(function* () {
    yield* Workflow.parse(text, file)
    const raw = YAML.parse(text) as Raw
    const proposals: Array<Proposal> = []
    const migrated: Raw = { ...raw, steps: rewrite(raw["steps"] as Array<Raw>, proposals) }
    if (raw["fallbacks"] !== undefined) migrated["fallbacks"] = rewrite(raw["fallbacks"] as Array<Raw>, proposals)
    const out = YAML.stringify(migrated, { lineWidth: 0 })
    yield* Workflow.parse(out, file)
    return { proposals, text: out, diff: diff(YAML.stringify(raw, { lineWidth: 0 }), out) }
  })

/**
 * Migrates a workflow file (sub-workflows are read relative to it).
 *
 * @since 0.1.0
 * @category migrating
 */
export const fromFile = (file: string): Effect.Effect<Migration, WorkflowInvalid> =>
  Effect.flatMap(Workflow.load(file), () =>
    Effect.flatMap(
      Effect.sync(() => fs.readFileSync(file, "utf8")),
      (text) => fromText(text, file)
    )
  )

const TEMPLATE_EXTENSIONS = new Set([".txt", ".prompt", ".md"])

/**
 * Reads a folder of prompt templates (`*.txt`, `*.prompt`, `*.md`, in name order) as a workflow: one prompt
 * step per file, in order; each file's variables (`{name}`) become workflow inputs (or read an earlier step's
 * output of that name); a first line `outputs: agent: str, confidence: float` names the fields it parses
 * (default `output: str`). Then migrates it.
 *
 * @since 0.1.0
 * @category migrating
 */
export const fromTemplates = (
  dir: string,
  name = path.basename(path.resolve(dir))
): Effect.Effect<Migration, WorkflowInvalid> =>
  Effect.suspend(() => {
    const files = fs
      .readdirSync(dir)
      .filter((f) => TEMPLATE_EXTENSIONS.has(path.extname(f)))
      .sort()
    const inputs: Record<string, string> = {}
    const produced = new Map<string, string>()
    const steps = files.map((f, index) => {
      const text = fs.readFileSync(path.join(dir, f), "utf8")
      const lines = text.split("\n")
      const head = lines[0]?.trim() ?? ""
      const outputs: Record<string, string> = {}
      let body = text
      if (head.toLowerCase().startsWith("outputs:")) {
        for (const part of head.slice("outputs:".length).split(",")) {
          const [field, type] = part.split(":").map((s) => s.trim())
          if (field) outputs[field] = type || "str"
        }
        body = lines.slice(1).join("\n").trim()
      }
      if (Object.keys(outputs).length === 0) outputs["output"] = "str"
      // A file name as a step id: `01_route.txt` -> `route`.
      const id =
        path
          .basename(f, path.extname(f))
          .replaceAll(/[^A-Za-z0-9_-]/g, "_")
          .replace(/^[^A-Za-z]+/, "") || `step_${index + 1}`
      let template = ""
      let at = 0
      for (const p of Template.placeholders(body)) {
        const variable = p.parts.join("_")
        const from = produced.get(variable)
        if (from === undefined) inputs[variable] ??= "str"
        template += `${body.slice(at, p.start)}{${from === undefined ? `inputs.${variable}` : `${from}.${variable}`}}`
        at = p.end
      }
      template += body.slice(at)
      for (const field of Object.keys(outputs)) produced.set(field, id)
      return { id, prompt: { template, outputs } }
    })
    const last = steps[steps.length - 1]
    const workflow = {
      version: WorkflowSchema.FORMAT_VERSION,
      name: name.replaceAll(/[^A-Za-z0-9_-]/g, "_"),
      inputs,
      steps,
      outputs:
        last === undefined
          ? {}
          : Object.fromEntries(Object.keys(last.prompt.outputs).map((f) => [f, `{${last.id}.${f}}`]))
    }
    return fromText(YAML.stringify(workflow, { lineWidth: 0 }), path.join(dir, `${workflow.name}.yaml`))
  })
