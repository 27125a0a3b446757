/**
 * Decoding and checking a workflow document: each step decoded with its kind's schema (so a problem is reported at
 * its own step), then the references checked before anything runs: unknown or later steps (a forward reference
 * is a cycle in the making), fields a step does not have, type mismatches, template variables with no source,
 * fallback chains that loop, sub-workflows that include themselves.
 */
import { Signature } from "@effect-dspy/core"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Issue } from "../WorkflowError.js"
import * as WS from "../WorkflowSchema.js"
import * as Source from "./source.js"
import * as Template from "./template.js"
import * as T from "./types.js"

/** A checked step. */
export interface Node {
  readonly id: string
  readonly kind: WS.StepKind
  /** Its key path in the file (`steps[1].branch.cases[0].steps[0]`). */
  readonly path: string
  readonly step: WS.Step
  /** Its outputs as a struct type (`any` where they are not known before running). */
  readonly outputs: T.Type
  /** A module step's signature fields (inline spec); `undefined` for a registered module. */
  readonly signature?: { readonly inputs: ReadonlyArray<string>; readonly outputs: ReadonlyArray<string> }
  /** A sub-workflow step's workflow. */
  readonly sub?: Checked
  /** Whether it runs only as another step's fallback (declared under `fallbacks:`). */
  readonly fallbackOnly: boolean
}

/** A checked workflow. */
export interface Checked {
  readonly file: string
  readonly definition: WS.WorkflowFile
  readonly nodes: ReadonlyMap<string, Node>
  readonly inputs: { readonly [name: string]: T.Type }
  readonly outputs: { readonly [name: string]: T.Type }
  /** The definition's fingerprint, when computed (a run resumes only on the workflow it started with). */
  readonly fingerprint?: string
}

/** Reads a sub-workflow's document (relative to the including file); `undefined` when it cannot. */
export type LoadSub = (
  from: string,
  file: string
) =>
  | { readonly ok: true; readonly source: Source.Source }
  | { readonly ok: false; readonly issues: ReadonlyArray<Issue> }

type Path = ReadonlyArray<PropertyKey>

const formatIssues = (error: ParseResult.ParseError) => ParseResult.ArrayFormatter.formatErrorSync(error)

const decodeAt = <A, I>(
  schema: Schema.Schema<A, I>,
  value: unknown,
  source: Source.Source,
  path: Path,
  issues: Array<Issue>
): A | undefined => {
  const decoded = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })(value)
  if (Either.isRight(decoded)) return decoded.right
  for (const i of formatIssues(decoded.left)) {
    const at = [...path, ...i.path]
    const message =
      i._tag === "Unexpected"
        ? `unknown key "${String(i.path[i.path.length - 1])}": remove it or check its spelling`
        : i.message
    issues.push(Source.issueAt(source, at, message))
  }
  return undefined
}

/** A step decoded with its nested steps left as they are. */
interface Shallow {
  readonly [key: string]: unknown
  readonly branch?: {
    readonly cases: ReadonlyArray<{ readonly when: WS.Condition; readonly steps: ReadonlyArray<unknown> }>
    readonly otherwise?: ReadonlyArray<unknown>
  }
  readonly parallel?: ReadonlyArray<unknown>
  readonly map?: { readonly [key: string]: unknown; readonly step: unknown }
}

/** Decodes a step and the steps nested in it; `undefined` when it (or a nested one) does not decode. */
const decodeStep = (raw: unknown, source: Source.Source, path: Path, issues: Array<Issue>): WS.Step | undefined => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    issues.push(Source.issueAt(source, path, "a step is a mapping with an `id` and one kind key"))
    return undefined
  }
  const keys = WS.stepKinds.filter((k) => Object.hasOwn(raw, k))
  // A module step may carry a `prompt` (its traditional arm): its kind is `module`.
  const kinds = keys.includes("module") ? ["module" as const] : keys
  if (kinds.length !== 1) {
    const id = (raw as { id?: unknown }).id
    issues.push(
      Source.issueAt(
        source,
        path,
        kinds.length === 0
          ? `step ${typeof id === "string" ? `"${id}" ` : ""}has no known kind: give exactly one of ${WS.stepKinds.join(", ")} (found keys: ${Object.keys(raw).join(", ")})`
          : `step has several kinds (${kinds.join(", ")}): give exactly one`
      )
    )
    return undefined
  }
  const kind = kinds[0]!
  const shallow = decodeAt(WS.shallowStepSchemas[kind] as unknown as Schema.Schema<Shallow>, raw, source, path, issues)
  if (shallow === undefined) return undefined
  const nested = (items: ReadonlyArray<unknown>, at: Path) => {
    const out: Array<WS.Step> = []
    let ok = true
    items.forEach((item, i) => {
      const s = decodeStep(item, source, [...at, i], issues)
      if (s === undefined) ok = false
      else out.push(s)
    })
    return ok ? out : undefined
  }
  switch (kind) {
    case "branch": {
      const cases: Array<{ when: WS.Condition; steps: ReadonlyArray<WS.Step> }> = []
      let ok = true
      const branch = shallow.branch!
      branch.cases.forEach((c, i) => {
        const steps = nested(c.steps, [...path, "branch", "cases", i, "steps"])
        if (steps === undefined) ok = false
        else cases.push({ when: c.when, steps })
      })
      const otherwise =
        branch.otherwise === undefined ? undefined : nested(branch.otherwise, [...path, "branch", "otherwise"])
      if (!ok || (branch.otherwise !== undefined && otherwise === undefined)) return undefined
      return {
        ...shallow,
        branch: { cases, ...(otherwise === undefined ? {} : { otherwise }) }
      } as unknown as WS.BranchStep
    }
    case "parallel": {
      const steps = nested(shallow.parallel!, [...path, "parallel"])
      return steps === undefined ? undefined : ({ ...shallow, parallel: steps } as unknown as WS.ParallelStep)
    }
    case "map": {
      const map = shallow.map!
      const step = decodeStep(map.step, source, [...path, "map", "step"], issues)
      return step === undefined ? undefined : ({ ...shallow, map: { ...map, step } } as unknown as WS.MapStep)
    }
    default:
      return shallow as unknown as WS.Step
  }
}

/** Decodes the whole document; issues for every problem found. */
export const decode = (source: Source.Source, issues: Array<Issue>): WS.WorkflowFile | undefined => {
  if (typeof source.value !== "object" || source.value === null || Array.isArray(source.value)) {
    issues.push(Source.issueAt(source, [], "a workflow file is a mapping (version, name, inputs, steps, outputs)"))
    return undefined
  }
  const top = decodeAt(WS.ShallowWorkflowFile, source.value, source, [], issues)
  if (top === undefined) return undefined
  const steps: Array<WS.Step> = []
  let ok = true
  top.steps.forEach((raw, i) => {
    const s = decodeStep(raw, source, ["steps", i], issues)
    if (s === undefined) ok = false
    else steps.push(s)
  })
  const { fallbacks: rawFallbacks, ...rest } = top
  const fallbacks: Array<WS.Step> = []
  ;(rawFallbacks ?? []).forEach((raw, i) => {
    const s = decodeStep(raw, source, ["fallbacks", i], issues)
    if (s === undefined) ok = false
    else fallbacks.push(s)
  })
  if (!ok) return undefined
  return { ...rest, steps, ...(rawFallbacks === undefined ? {} : { fallbacks }) }
}

// ---------------------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------------------

interface Ctx {
  readonly source: Source.Source
  readonly issues: Array<Issue>
  readonly nodes: Map<string, Node>
  /** Every step id of the file, with its path (to tell a later step from an unknown one). */
  readonly allIds: Map<string, Path>
  readonly defaultMode: WS.Mode
  readonly loadSub: LoadSub
  readonly stack: ReadonlyArray<string>
}

type Scope = Map<string, T.Type>

const issue = (ctx: Ctx, path: Path, message: string) => ctx.issues.push(Source.issueAt(ctx.source, path, message))

/** Checks one template against the scope; the type of a single placeholder (else `str`). */
const checkTemplate = (ctx: Ctx, scope: Scope, template: string, path: Path, what: string): T.Type | undefined => {
  let type: T.Type | undefined = T.str
  const one = Template.single(template)
  for (const p of Template.placeholders(template)) {
    const [head, ...rest] = p.parts
    const root = head === undefined ? undefined : scope.get(head)
    if (root === undefined) {
      const later = head === undefined ? undefined : ctx.allIds.get(head)
      issue(
        ctx,
        path,
        later !== undefined
          ? `${what} {${p.ref}} reads step "${head}", which does not run before this one (at ${Source.pathText(later)}): a step can read only the inputs and steps that finish before it; reorder the steps`
          : `${what} {${p.ref}} has no source: no workflow input or earlier step is named "${head}" (inputs are read as {inputs.NAME})`
      )
      type = undefined
      continue
    }
    const found = T.at(root, rest)
    if (found === undefined) {
      const known = T.fieldsOf(root)
      issue(
        ctx,
        path,
        `${what} {${p.ref}} has no source: "${head}" has no field "${rest.join(".")}"${known.length > 0 ? ` (it has: ${known.join(", ")})` : ""}`
      )
      type = undefined
      continue
    }
    if (one !== undefined) type = found
  }
  return type
}

/** Checks a binding (a template or a literal); its type when known. */
const checkBinding = (ctx: Ctx, scope: Scope, value: unknown, path: Path, what: string): T.Type | undefined =>
  typeof value === "string" ? checkTemplate(ctx, scope, value, path, what) : T.any

const parseFields = (ctx: Ctx, fields: { readonly [name: string]: string }, path: Path) => {
  const out: Record<string, T.Type> = {}
  for (const [name, text] of Object.entries(fields)) {
    const t = T.parseType(text)
    if (Either.isLeft(t)) {
      issue(ctx, [...path, name], t.left)
      out[name] = T.any
    } else out[name] = t.right
  }
  return out
}

const modeOf = (ctx: Ctx, step: WS.Step): WS.Mode => step.mode ?? ctx.defaultMode

/** Checks a step in the scope; returns its node (added to `ctx.nodes`), `undefined` when it cannot be typed. */
const checkStep = (ctx: Ctx, scope: Scope, step: WS.Step, path: Path, fallbackOnly: boolean): Node => {
  const kind = WS.kindOf(step)
  const bindings = step.inputs ?? {}
  const bound: Record<string, T.Type> = {}
  for (const [name, value] of Object.entries(bindings)) {
    bound[name] = checkBinding(ctx, scope, value, [...path, "inputs", name], `input "${name}"`) ?? T.any
  }
  let outputs: T.Type = T.any
  let signature: Node["signature"]
  let sub: Checked | undefined
  const explicitMode = step.mode
  if (kind !== "module" && explicitMode !== undefined && explicitMode !== "traditional") {
    issue(
      ctx,
      [...path, "mode"],
      `mode "${explicitMode}" needs a module step: a ${kind} step runs as written (traditional); turn a prompt into a module step (effect-dspy migrate) to optimize it`
    )
  }
  const templateScope = (): Scope => {
    const s = new Map(scope)
    for (const [name, t] of Object.entries(bound)) if (!s.has(name)) s.set(name, t)
    return s
  }
  switch (kind) {
    case "module": {
      const m = step as WS.ModuleStep
      if ("signature" in m.module) {
        const parsed = Signature.parse(m.module.signature)
        if (Either.isLeft(parsed)) {
          issue(ctx, [...path, "module", "signature"], parsed.left.message)
        } else {
          const sig = parsed.right
          const outs: Record<string, T.Type> = {}
          if (m.module.kind === "chain_of_thought") outs["reasoning"] = T.str
          for (const f of sig.outputFields) outs[f.name] = f.type
          outputs = T.struct(outs)
          signature = { inputs: sig.inputFields.map((f) => f.name), outputs: sig.outputFields.map((f) => f.name) }
          for (const f of sig.inputFields) {
            const t = bound[f.name]
            if (t === undefined) {
              if (!f.optional) {
                issue(
                  ctx,
                  [...path, "inputs"],
                  `module input "${f.name}" has no binding: add inputs.${f.name} (e.g. "{inputs.${f.name}}")`
                )
              }
            } else if (!T.fits(t, f.type)) {
              issue(
                ctx,
                [...path, "inputs", f.name],
                `type mismatch: input "${f.name}" is ${T.show(f.type)} in the signature, its binding gives ${T.show(t)}`
              )
            }
          }
          for (const name of Object.keys(bindings)) {
            if (!sig.inputFields.some((f) => f.name === name)) {
              issue(
                ctx,
                [...path, "inputs", name],
                `the signature has no input "${name}" (inputs: ${sig.inputFields.map((f) => f.name).join(", ")})`
              )
            }
          }
        }
      }
      if (m.prompt !== undefined) {
        checkTemplate(ctx, templateScope(), m.prompt.template, [...path, "prompt", "template"], "template variable")
        const promptOuts = parseFields(ctx, m.prompt.outputs, [...path, "prompt", "outputs"])
        if (signature !== undefined) {
          for (const name of signature.outputs) {
            if (promptOuts[name] === undefined) {
              issue(
                ctx,
                [...path, "prompt", "outputs"],
                `the prompt (the step's traditional arm) must give every output of the module: "${name}" is missing`
              )
            }
          }
        }
      }
      const mode = modeOf(ctx, step)
      if (m.traffic !== undefined && mode !== "hybrid") {
        issue(ctx, [...path, "traffic"], `traffic applies in hybrid mode; this step runs in ${mode} mode`)
      }
      if ((mode === "hybrid" || mode === "evaluation") && m.prompt === undefined && !("signature" in m.module)) {
        // A registered module's baseline is its version 1: allowed.
      }
      break
    }
    case "prompt": {
      const p = step as WS.PromptStep
      checkTemplate(ctx, templateScope(), p.prompt.template, [...path, "prompt", "template"], "template variable")
      outputs = T.struct(parseFields(ctx, p.prompt.outputs, [...path, "prompt", "outputs"]))
      break
    }
    case "tool": {
      const t = step as WS.ToolStep
      outputs = T.struct(parseFields(ctx, t.tool.outputs, [...path, "tool", "outputs"]))
      break
    }
    case "branch": {
      const b = step as WS.BranchStep
      const added: Array<Node> = []
      b.branch.cases.forEach((c, i) => {
        const whenPath = [...path, "branch", "cases", i, "when"]
        checkTemplate(ctx, scope, c.when.value, [...whenPath, "value"], "condition")
        const tests = [c.when.equals, c.when.notEquals, c.when.in].filter((x) => x !== undefined).length
        if (tests !== 1) issue(ctx, whenPath, "a condition has exactly one of equals, notEquals, in")
        added.push(...checkSequence(ctx, new Map(scope), c.steps, [...path, "branch", "cases", i, "steps"]))
      })
      if (b.branch.otherwise !== undefined) {
        added.push(...checkSequence(ctx, new Map(scope), b.branch.otherwise, [...path, "branch", "otherwise"]))
      }
      // After the branch, every step of its cases can be read (a step of a case not taken has no value: a typed
      // error at run time names it).
      for (const n of added) scope.set(n.id, n.outputs)
      outputs = T.struct({ case: T.str })
      break
    }
    case "parallel": {
      const p = step as WS.ParallelStep
      const children: Record<string, T.Type> = {}
      p.parallel.forEach((child, i) => {
        const node = checkStep(ctx, scope, child, [...path, "parallel", i], fallbackOnly)
        children[node.id] = node.outputs
      })
      for (const [id, t] of Object.entries(children)) scope.set(id, t)
      outputs = T.struct(children)
      break
    }
    case "map": {
      const m = step as WS.MapStep
      const over = checkTemplate(ctx, scope, m.map.over, [...path, "map", "over"], "map.over")
      const overT = over === undefined ? T.any : over
      if (overT._tag !== "list" && overT._tag !== "any") {
        issue(ctx, [...path, "map", "over"], `type mismatch: map.over must be a list, it is ${T.show(overT)}`)
      }
      if (Template.single(m.map.over) === undefined) {
        issue(ctx, [...path, "map", "over"], `map.over must be one placeholder naming a list, e.g. "{inputs.items}"`)
      }
      const inner = new Map(scope)
      inner.set(m.map.as ?? "item", overT._tag === "list" ? overT.item : T.any)
      inner.set("index", { _tag: "int" })
      const node = checkStep(ctx, inner, m.map.step, [...path, "map", "step"], fallbackOnly)
      outputs = T.struct({ items: { _tag: "list", item: node.outputs } })
      break
    }
    case "workflow": {
      const w = step as WS.WorkflowStep
      if (ctx.stack.includes(w.workflow.file)) {
        issue(ctx, [...path, "workflow", "file"], `sub-workflow cycle: ${[...ctx.stack, w.workflow.file].join(" -> ")}`)
        break
      }
      const loaded = ctx.loadSub(ctx.source.file, w.workflow.file)
      if (!loaded.ok) {
        for (const i of loaded.issues) ctx.issues.push(i)
        break
      }
      const checked = check(loaded.source, ctx.loadSub, [...ctx.stack, w.workflow.file])
      if (!checked.ok) {
        for (const i of checked.issues) ctx.issues.push(i)
        break
      }
      sub = checked.workflow
      for (const [name, type] of Object.entries(sub.inputs)) {
        const t = bound[name]
        if (t === undefined) {
          if (type._tag !== "optional") {
            issue(ctx, [...path, "inputs"], `sub-workflow input "${name}" has no binding: add inputs.${name}`)
          }
        } else if (!T.fits(t, type)) {
          issue(
            ctx,
            [...path, "inputs", name],
            `type mismatch: sub-workflow input "${name}" is ${T.show(type)}, its binding gives ${T.show(t)}`
          )
        }
      }
      outputs = T.struct(sub.outputs)
      break
    }
  }
  const node: Node = {
    id: step.id,
    kind,
    path: Source.pathText(path),
    step,
    outputs,
    ...(signature === undefined ? {} : { signature }),
    ...(sub === undefined ? {} : { sub }),
    fallbackOnly
  }
  ctx.nodes.set(step.id, node)
  if (step.fallback !== undefined) checkFallback(ctx, scope, node, path)
  return node
}

const checkFallback = (ctx: Ctx, scope: Scope, node: Node, path: Path) => {
  const fb = node.step.fallback!
  const at = [...path, "fallback"]
  if ("baseline" in fb) {
    if (node.kind !== "module") issue(ctx, at, "fallback baseline needs a module step (its baseline version)")
    return
  }
  if ("default" in fb) {
    for (const name of T.fieldsOf(node.outputs)) {
      if (!Object.hasOwn(fb.default, name) && name !== "reasoning") {
        issue(ctx, [...at, "default"], `the default output lacks "${name}", an output of the step`)
      }
    }
    return
  }
  if (fb.step === node.id) {
    issue(ctx, [...at, "step"], `fallback cycle: step "${node.id}" falls back to itself`)
    return
  }
  if (!ctx.allIds.has(fb.step)) {
    issue(ctx, [...at, "step"], `fallback step "${fb.step}" does not exist (declare it under fallbacks:)`)
  }
  void scope
}

const checkSequence = (ctx: Ctx, scope: Scope, steps: ReadonlyArray<WS.Step>, path: Path): ReadonlyArray<Node> => {
  const out: Array<Node> = []
  steps.forEach((step, i) => {
    const node = checkStep(ctx, scope, step, [...path, i], false)
    scope.set(node.id, node.outputs)
    out.push(node)
  })
  return out
}

const collectIds = (
  ctx: Ctx,
  steps: ReadonlyArray<WS.Step>,
  path: Path,
  seen: Map<string, Path>,
  extra: ReadonlySet<string>
) => {
  steps.forEach((step, i) => {
    const at = [...path, i]
    const prior = seen.get(step.id)
    if (prior !== undefined) {
      issue(ctx, [...at, "id"], `duplicate step id "${step.id}" (also at ${Source.pathText(prior)})`)
    } else if (step.id === "inputs" || extra.has(step.id)) {
      issue(ctx, [...at, "id"], `"${step.id}" is reserved: choose another step id`)
    } else seen.set(step.id, at)
    switch (WS.kindOf(step)) {
      case "branch": {
        const b = (step as WS.BranchStep).branch
        b.cases.forEach((c, k) => {
          collectIds(ctx, c.steps, [...at, "branch", "cases", k, "steps"], seen, extra)
        })
        if (b.otherwise) collectIds(ctx, b.otherwise, [...at, "branch", "otherwise"], seen, extra)
        break
      }
      case "parallel":
        collectIds(ctx, (step as WS.ParallelStep).parallel, [...at, "parallel"], seen, extra)
        break
      case "map":
        collectIds(ctx, [(step as WS.MapStep).map.step], [...at, "map"], seen, extra)
        break
      default:
        break
    }
  })
}

/** Decodes and checks a document (and, through `loadSub`, its sub-workflows). */
export const check = (
  source: Source.Source,
  loadSub: LoadSub,
  stack: ReadonlyArray<string> = []
):
  | { readonly ok: true; readonly workflow: Checked }
  | { readonly ok: false; readonly issues: ReadonlyArray<Issue> } => {
  const issues: Array<Issue> = []
  const definition = decode(source, issues)
  if (definition === undefined) return { ok: false, issues }
  const ctx: Ctx = {
    source,
    issues,
    nodes: new Map(),
    allIds: new Map(),
    defaultMode: definition.mode,
    loadSub,
    stack
  }
  collectIds(ctx, definition.steps, ["steps"], ctx.allIds, new Set())
  collectIds(ctx, definition.fallbacks ?? [], ["fallbacks"], ctx.allIds, new Set())
  const inputs = parseFields(ctx, definition.inputs, ["inputs"])
  const scope: Scope = new Map([["inputs", T.struct(inputs)]])
  // Fallback-only steps see the workflow's inputs (they run in place of a failed step, on their own bindings).
  definition.fallbacks?.forEach((step, i) => {
    checkStep(ctx, new Map(scope), step, ["fallbacks", i], true)
  })
  checkSequence(ctx, scope, definition.steps, ["steps"])
  // Fallback chains: each ends (no loop through other steps).
  for (const node of ctx.nodes.values()) {
    const seen = [node.id]
    let next = node.step.fallback
    while (next !== undefined && "step" in next) {
      if (seen.includes(next.step)) {
        if (next.step !== node.id || seen.length > 1) {
          issue(ctx, [], `fallback cycle: ${[...seen, next.step].join(" -> ")}`)
        }
        break
      }
      seen.push(next.step)
      const target = ctx.nodes.get(next.step)
      if (target !== undefined && T.fieldsOf(node.outputs).some((f) => !T.fieldsOf(target.outputs).includes(f))) {
        const missing = T.fieldsOf(node.outputs).filter((f) => !T.fieldsOf(target.outputs).includes(f))
        if (seen.length === 2 && target.outputs._tag === "struct") {
          issue(
            ctx,
            [],
            `type mismatch: step "${node.id}" falls back to "${target.id}", which does not give ${missing.join(", ")}`
          )
        }
      }
      next = target?.step.fallback
    }
  }
  const outputs: Record<string, T.Type> = {}
  for (const [name, value] of Object.entries(definition.outputs)) {
    outputs[name] = checkBinding(ctx, scope, value, ["outputs", name], `output "${name}"`) ?? T.any
  }
  if (issues.length > 0) return { ok: false, issues: dedupe(issues) }
  return { ok: true, workflow: { file: source.file, definition, nodes: ctx.nodes, inputs, outputs } }
}

const dedupe = (issues: ReadonlyArray<Issue>): ReadonlyArray<Issue> => {
  const seen = new Set<string>()
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
