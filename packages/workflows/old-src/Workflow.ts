/**
 * A checked workflow: a workflow file (YAML or JSON) parsed with line numbers, decoded with its schema, and its
 * references checked before anything runs. Every problem is a `WorkflowInvalid` issue with its file, line and key.
 *
 * @example
 * ```ts
 * import { Workflow } from "@effect-dspy/workflows"
 * import * as Effect from "effect/Effect"
 *
 * const text = `
 * version: 1
 * name: route
 * inputs: { query: str }
 * steps:
 *   - id: route
 *     module: { signature: "query -> agent" }
 *     inputs: { query: "{inputs.query}" }
 * outputs: { agent: "{route.agent}" }
 * `
 * Effect.runPromise(Workflow.parse(text, "route.yaml")).then((w) => console.log(w.name, w.nodes.size))
 * ```
 *
 * @since 0.1.0
 */
import { CanonicalJson } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Check from "./internal/check.js"
import * as Source from "./internal/source.js"
import type * as Types from "./internal/types.js"
import { type Issue, WorkflowInvalid } from "./WorkflowError.js"
import type * as WorkflowSchema from "./WorkflowSchema.js"

/**
 * A checked step: its id, kind, key path in the file, decoded form and output fields.
 *
 * @since 0.1.0
 * @category models
 */
export type Node = Check.Node

/**
 * A checked workflow.
 *
 * @since 0.1.0
 * @category models
 */
export interface Workflow {
  readonly name: string
  readonly file: string
  readonly definition: WorkflowSchema.WorkflowFile
  /** Every step (nested ones too, and fallback-only ones), by id. */
  readonly nodes: ReadonlyMap<string, Node>
  /** The declared input types. */
  readonly inputs: { readonly [name: string]: Types.Type }
  /** The outputs' types as far as they are known before running. */
  readonly outputs: { readonly [name: string]: Types.Type }
  /** A fingerprint of the definition: a run resumes only on the workflow it started with. */
  readonly fingerprint: string
}

const fromChecked = (checked: Check.Checked): Workflow => ({
  name: checked.definition.name,
  file: checked.file,
  definition: checked.definition,
  nodes: checked.nodes,
  inputs: checked.inputs,
  outputs: checked.outputs,
  fingerprint: CanonicalJson.sha256(checked.definition as never)
})

const invalid = (file: string, issues: ReadonlyArray<Issue>) =>
  new WorkflowInvalid({
    file,
    issues: [...issues],
    message: `${file}: ${issues.length} problem${issues.length === 1 ? "" : "s"}: ${issues.map(Source.render).join("; ")}`
  })

const loadFromDisk: Check.LoadSub = (from, file) => {
  const full = path.resolve(path.dirname(from), file)
  let text: string
  try {
    text = fs.readFileSync(full, "utf8")
  } catch (cause) {
    return {
      ok: false,
      issues: [{ file: from, path: "workflow.file", message: `cannot read sub-workflow ${full}: ${String(cause)}` }]
    }
  }
  const parsed = Source.parse(full, text)
  return parsed.ok ? { ok: true, source: parsed.source } : parsed
}

const noDisk: Check.LoadSub = (from, file) => ({
  ok: false,
  issues: [{ file: from, path: "workflow.file", message: `sub-workflow ${file} needs a workflow loaded from a file` }]
})

/**
 * Parses and checks a workflow's text (YAML or JSON); `file` names it in issues and is where sub-workflows are
 * read from (relative paths), when `subWorkflows` is `"disk"` (the default when the text came from `load`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (
  text: string,
  file = "workflow.yaml",
  options: { readonly subWorkflows?: "disk" | "none" } = {}
): Effect.Effect<Workflow, WorkflowInvalid> =>
  Effect.suspend(() => {
    const parsed = Source.parse(file, text)
    if (!parsed.ok) return Effect.fail(invalid(file, parsed.issues))
    const checked = Check.check(parsed.source, options.subWorkflows === "disk" ? loadFromDisk : noDisk)
    return checked.ok ? Effect.succeed(fromChecked(checked.workflow)) : Effect.fail(invalid(file, checked.issues))
  })

/**
 * Reads, parses and checks a workflow file (sub-workflows are read relative to it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (file: string): Effect.Effect<Workflow, WorkflowInvalid> =>
  Effect.suspend(() => {
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (cause) {
      return Effect.fail(invalid(file, [{ file, path: "(file)", message: `cannot read the file: ${String(cause)}` }]))
    }
    return parse(text, file, { subWorkflows: "disk" })
  })

/**
 * A workflow's sub-workflow (the checked workflow of a `workflow` step).
 *
 * @since 0.1.0
 * @category accessors
 */
export const subWorkflow = (node: Node): Workflow | undefined =>
  node.sub === undefined ? undefined : fromChecked(node.sub)

/**
 * An issue as one line: `file:line:column key: message`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const renderIssue: (issue: Issue) => string = Source.render
