/**
 * The executor: drives a workflow's statechart, one step at a time, and persists the run at each step boundary.
 * A step runs under its timeout and retries (exponential backoff on Effect's Clock), in its mode (traditional,
 * optimized, hybrid through a traffic policy, evaluation through a shadow policy with a cost cap), and when it
 * still fails its fallback serves (another step, the baseline, a default). A resumed run restores the chart's
 * position and the outputs of every finished step (and of finished children of a parallel or map step).
 */
import { LM, Module, Prediction } from "@effect-dspy/core"
import { CanonicalJson, Subject, Tenant } from "@effect-dspy/foundation"
import type { Loop, LoopPolicy, ModuleManager } from "@effect-dspy/services"
import { TrafficPolicy } from "@effect-dspy/services"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import type { Mutable } from "effect/Types"
import type * as RunRecord from "../RunRecord.js"
import { SCHEMA_VERSION } from "../RunRecord.js"
import type * as RunStore from "../RunStore.js"
import { applyBoundary } from "../RunStore.js"
import type { Issue } from "../WorkflowError.js"
import {
  type RunStoreError,
  StepFailed,
  StepTimedOut,
  WorkflowInputInvalid,
  WorkflowInvalid
} from "../WorkflowError.js"
import type * as WorkflowTools from "../WorkflowTools.js"
import type * as WS from "../WorkflowSchema.js"
import type * as Check from "./check.js"
import * as Reply from "./reply.js"
import * as Chart from "./statechart.js"
import * as Template from "./template.js"
import * as T from "./types.js"

type Outputs = { readonly [field: string]: unknown }

/** What a run reports as it goes (the CLI prints these on stderr). */
export type Progress =
  | { readonly _tag: "RunStarted"; readonly runId: string; readonly workflow: string; readonly resumed: boolean }
  | { readonly _tag: "StepStarted"; readonly runId: string; readonly step: string }
  | { readonly _tag: "StepFinished"; readonly runId: string; readonly record: RunRecord.StepRecord }
  | { readonly _tag: "RunFinished"; readonly runId: string; readonly status: RunRecord.Status }

export interface Env {
  readonly modules: ModuleManager.Service
  readonly lm: LM.Service
  readonly store: RunStore.Service
  readonly tools: WorkflowTools.Service
  /** Traffic routers of hybrid and evaluation steps, by module id and policy (kept across runs: bandits learn). */
  readonly routers: Map<string, TrafficPolicy.Router>
  /** Charts by workflow fingerprint. */
  readonly charts: Map<string, Chart.Chart>
  /** The application's real-time loop, when it has one: module steps' `optimization` blocks register with it. */
  readonly loop: Loop.Service | undefined
  /**
   * Fingerprints of the workflows already prepared (their modules created, their tools found): a later run skips
   * the checks (a module removed since fails its step with a typed error).
   */
  readonly prepared: Set<string>
}

export interface RunOptions {
  readonly runId?: string
  /** Overrides the mode of every module step. */
  readonly mode?: WS.Mode
  readonly onProgress?: (progress: Progress) => Effect.Effect<void>
  /**
   * A reward for an arm's output (0..1), when the caller has the ground truth (tests, offline evaluation): it feeds
   * the traffic policies (a bandit learns from it) and the mode comparison's quality.
   */
  readonly reward?: (step: string, outputs: Outputs) => number | undefined
}

export interface Result {
  readonly runId: string
  readonly workflow: string
  readonly status: "succeeded"
  readonly outputs: Outputs
  readonly steps: ReadonlyArray<RunRecord.StepRecord>
  /** Steps whose outputs came from the store (a resumed run), not from running them again. */
  readonly restored: ReadonlyArray<string>
}

export type RunError = StepFailed | StepTimedOut | WorkflowInputInvalid | WorkflowInvalid | RunStoreError

/** The module id of a module step: its registered id, or `<workflow>.<step>` for an inline spec. */
export const moduleIdOf = (workflow: string, node: Check.Node): string => {
  const m = (node.step as WS.ModuleStep).module
  return "ref" in m ? m.ref : `${workflow}.${node.id}`
}

/** The workflow's module steps (sub-workflows' too), with their workflow's name. */
const moduleNodes = (w: Check.Checked): ReadonlyArray<{ workflow: string; node: Check.Node }> => {
  const out: Array<{ workflow: string; node: Check.Node }> = []
  for (const node of w.nodes.values()) {
    if (node.kind === "module") out.push({ workflow: w.definition.name, node })
    if (node.sub !== undefined) out.push(...moduleNodes(node.sub))
  }
  return out
}

const toolNodes = (w: Check.Checked): ReadonlyArray<Check.Node> => {
  const out: Array<Check.Node> = []
  for (const node of w.nodes.values()) {
    if (node.kind === "tool") out.push(node)
    if (node.sub !== undefined) out.push(...toolNodes(node.sub))
  }
  return out
}

/**
 * Checks what a run needs from the application: registered modules exist and tools are registered; creates the
 * inline modules that do not exist yet (an existing one keeps its versions: its promoted version serves
 * `optimized`).
 */
export const prepare = (env: Env, w: Check.Checked): Effect.Effect<void, WorkflowInvalid> =>
  Effect.withFiberRuntime((fiber) => {
    // Prepared once per workflow and tenant: each tenant's inline modules are its own (see docs/tenants.md).
    const tenant = fiber.getFiberRef(Tenant.Tenant)
    const fingerprint = Option.isNone(tenant)
      ? (w.fingerprint ?? fingerprintOf(w))
      : `${tenant.value}:${w.fingerprint ?? fingerprintOf(w)}`
    // A prepared workflow (the common case: every run after the first) costs no more than this lookup.
    return env.prepared.has(fingerprint) ? Effect.void : prepareOnce(env, w, fingerprint)
  })

const prepareOnce = (env: Env, w: Check.Checked, fingerprint: string): Effect.Effect<void, WorkflowInvalid> =>
  Effect.gen(function* () {
    const issues: Array<Issue> = []
    for (const { workflow, node } of moduleNodes(w)) {
      const step = node.step as WS.ModuleStep
      const id = moduleIdOf(workflow, node)
      const known = yield* Effect.either(env.modules.describe(id))
      if ("ref" in step.module) {
        if (Either.isLeft(known)) {
          issues.push({
            file: w.file,
            path: `${node.path}.module.ref`,
            message: `module "${id}" is not registered with the ModuleManager: register it, or give an inline spec (signature, kind)`
          })
        }
        continue
      }
      if (Either.isRight(known)) continue
      const created = yield* Effect.either(
        env.modules.create({
          id,
          kind: step.module.kind ?? "predict",
          signature: step.module.signature,
          ...(step.module.instructions === undefined ? {} : { instructions: step.module.instructions }),
          ...(step.module.adapter === undefined ? {} : { adapter: step.module.adapter })
        })
      )
      if (Either.isLeft(created) && created.left._tag !== "ModuleAlreadyExists") {
        issues.push({ file: w.file, path: `${node.path}.module`, message: created.left.message })
      }
    }
    for (const node of toolNodes(w)) {
      const name = (node.step as WS.ToolStep).tool.name
      if (env.tools.get(name) === undefined) {
        issues.push({
          file: w.file,
          path: `${node.path}.tool.name`,
          message: `no tool "${name}" is registered (registered: ${env.tools.names.join(", ") || "none"}): add it to WorkflowTools.layer`
        })
      }
    }
    if (issues.length === 0 && env.loop !== undefined) issues.push(...(yield* registerTriggers(env.loop, w)))
    if (issues.length > 0) {
      return yield* new WorkflowInvalid({
        file: w.file,
        issues,
        message: `${w.file}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`
      })
    }
    env.prepared.add(fingerprint)
  })

/**
 * Registers each module step's `optimization` block with the real-time loop (`Loop.configure`): its optimizer and
 * triggers become the loop's settings for the step's module (`minExperiences` its jobs' least training set). A
 * module shared by several steps takes the last one's. A value the loop refuses is an issue at its key.
 */
const registerTriggers = (loop: Loop.Service, w: Check.Checked): Effect.Effect<ReadonlyArray<Issue>> =>
  Effect.gen(function* () {
    const issues: Array<Issue> = []
    for (const { workflow, node } of moduleNodes(w)) {
      const block = (node.step as WS.ModuleStep).optimization
      if (block === undefined) continue
      const { minExperiences, ...rules } = block.triggers ?? {}
      const overrides: LoopPolicy.Overrides = {
        ...rules,
        optimizer: block.optimizer,
        ...(minExperiences === undefined
          ? {}
          : { minTrainSize: minExperiences, trainSize: Math.max(loop.settings.trainSize, minExperiences) })
      }
      const configured = yield* Effect.either(loop.configure(moduleIdOf(workflow, node), overrides))
      if (Either.isLeft(configured)) {
        const field = configured.left.field
        const key =
          field === "optimizer"
            ? "optimizer"
            : `triggers.${field === "minTrainSize" || field === "trainSize" ? "minExperiences" : field}`
        issues.push({
          file: w.file,
          path: `${node.path}.optimization.${key}`,
          message: `the real-time loop refuses it: ${configured.left.message}`
        })
      }
    }
    return issues
  })

/** Checks a run's inputs against the declared ones. */
export const checkInputs = (w: Check.Checked, inputs: Outputs): Effect.Effect<Outputs, WorkflowInputInvalid> =>
  Effect.suspend(() => {
    const problems: Array<string> = []
    const out: Record<string, unknown> = {}
    for (const [name, type] of Object.entries(w.inputs)) {
      const v = inputs[name]
      if (v === undefined) {
        if (type._tag !== "optional") problems.push(`missing input "${name}" (${T.show(type)})`)
        continue
      }
      if (!T.check(v, type)) problems.push(`input "${name}" must be ${T.show(type)}, got ${JSON.stringify(v)}`)
      out[name] = v
    }
    for (const name of Object.keys(inputs)) {
      if (!Object.hasOwn(w.inputs, name)) {
        problems.push(`unknown input "${name}" (inputs: ${Object.keys(w.inputs).join(", ") || "none"})`)
      }
    }
    return problems.length === 0
      ? Effect.succeed(out)
      : Effect.fail(
          new WorkflowInputInvalid({
            workflow: w.definition.name,
            input: JSON.stringify(inputs),
            message: `workflow ${w.definition.name}: ${problems.join("; ")}`
          })
        )
  })

// ---------------------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------------------

interface Run {
  readonly env: Env
  readonly workflow: Check.Checked
  readonly options: RunOptions
  /** The run as it stands (its `steps` array is the run's own: step records are pushed, not copied). */
  record: RunRecord.RunRecord
  /** Step records since the last boundary written (the next boundary carries them). */
  unsaved: Array<RunRecord.StepRecord>
  /** Extra cost of shadowed arms so far (the evaluation cost cap is per run). */
  shadowCostUsd: number
  /** Keys of the routers this run routed with (their state is written when the run ends). */
  readonly routed: Set<string>
  /** The run's clock, read once per run (a step reads the time synchronously from it: TestClock's time in tests). */
  readonly clock: Clock.Clock
}

/** The time now on the run's clock. */
const timeOf = (run: Run): number => run.clock.unsafeCurrentTimeMillis()

/** Why one attempt failed. */
type AttemptError =
  | { readonly _tag: "Timeout"; readonly ms: number }
  | { readonly _tag: "Error"; readonly reason: string; readonly retry: boolean }

const attemptError = (reason: string, retry = true): AttemptError => ({ _tag: "Error", reason, retry })

const describe = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string"
    ? `${"_tag" in e ? `${String(e._tag)}: ` : ""}${e.message}`
    : String(e)

/**
 * Writes a boundary: one small appended row with what changed (never the whole record), carrying the step records
 * since the previous boundary. The in-memory record is updated the same way (`applyBoundary`).
 */
const commit = (
  run: Run,
  change: Omit<RunStore.Boundary, "at" | "status" | "steps"> & { readonly status?: RunRecord.Status }
): Effect.Effect<void, RunError> =>
  Effect.suspend(() => {
    const at = timeOf(run)
    const steps = run.unsaved
    run.unsaved = []
    const record = run.record
    const head: RunStore.Boundary = { ...change, at, status: change.status ?? record.status }
    // The record's steps array is the run's own (the step records are already on it): the head leaves it as it is.
    run.record = applyBoundary(record, head)
    return run.env.store.append(record.runId, steps.length === 0 ? head : { ...head, steps })
  })

/**
 * Writes a step boundary (the chart moved to `state`, the step's outputs `added`; the run still running, no partials
 * to clear): the common boundary, built without a spread. The run's record is updated in place (it is the run's
 * own object): its outputs become the chart's `outputs` as they are, without a copy.
 */
const commitStep = (
  run: Run,
  state: string,
  added: { readonly [step: string]: Outputs },
  outputs: RunRecord.RunRecord["outputs"]
): Effect.Effect<void, RunError> => {
  const at = timeOf(run)
  const steps = run.unsaved
  const record = run.record as Mutable<RunRecord.RunRecord>
  const boundary: RunStore.Boundary =
    steps.length === 0
      ? { state, outputs: added, at, status: record.status }
      : { state, outputs: added, at, status: record.status, steps }
  run.unsaved = []
  if (record.error === undefined) {
    record.updatedAt = at
    record.state = state
    record.outputs = outputs
  } else {
    // The step records are on the record already: the fold takes the boundary without them.
    run.record = applyBoundary(record, { state, outputs: added, at, status: record.status })
  }
  return run.env.store.append(record.runId, boundary)
}

const progress = (run: Run, p: Progress): Effect.Effect<void> =>
  run.options.onProgress === undefined ? Effect.void : run.options.onProgress(p)

const stepLabel = (node: Check.Node) => `${node.path} (${node.id})`

/** Resolves a step's input bindings in the scope. */
const bindInputs = (node: Check.Node, scope: Template.Scope): Either.Either<Outputs, string> => {
  const out: Record<string, unknown> = {}
  const inputs = node.step.inputs
  for (const name in inputs) {
    const r = Template.resolve(inputs[name], scope)
    if (!r.ok) {
      return Either.left(
        `input "${name}": {${r.missing}} has no value (the step it reads did not run: a branch case not taken?)`
      )
    }
    out[name] = r.value
  }
  return Either.right(out)
}

interface Attempted {
  readonly outputs: Outputs
  readonly costUsd: number
  readonly lmCalls: number
}

/**
 * Runs an arm with its LM usage metered (the cheap `LM.meterUsage`: no scope, no FiberRef write once the fiber owns
 * its frame). The run's LM is provided once for the whole run (`drive`); an arm reached from elsewhere (a fiber
 * whose context has another LM, or none) gets it here.
 */
const tracked = <E>(run: Run, self: Effect.Effect<Outputs, E, LM.LM>): Effect.Effect<Attempted, E> =>
  trackedAs(run, self, identity, identity)

/** {@link tracked} of an effect whose value and error are mapped to the arm's outputs and error (one map, not two). */
const trackedAs = <X, E, E2>(
  run: Run,
  self: Effect.Effect<X, E, LM.LM>,
  outputsOf: (x: X) => Outputs,
  errorOf: (e: E) => E2
): Effect.Effect<Attempted, E2> =>
  Effect.withFiberRuntime<Attempted, E2>((fiber) => {
    let usage: LM.UsageTotals | undefined
    const metered = Effect.mapBoth(
      LM.meterUsage(self, (_exit, totals) => {
        usage = totals
      }),
      {
        onFailure: errorOf,
        onSuccess: (x): Attempted => ({ outputs: outputsOf(x), costUsd: usage!.costUsd, lmCalls: usage!.calls })
      }
    )
    return fiber.currentContext.unsafeMap.get(LM.LM.key) === run.env.lm
      ? (metered as Effect.Effect<Attempted, E2>)
      : Effect.provideService(metered, LM.LM, run.env.lm)
  })

/** Declared output types, parsed once per spec (a workflow is parsed once and run many times). */
const outputTypesCache = new WeakMap<object, { readonly [name: string]: T.Type }>()

const outputTypes = (outputs: { readonly [name: string]: string }): { readonly [name: string]: T.Type } => {
  let types = outputTypesCache.get(outputs)
  if (types === undefined) {
    const out: Record<string, T.Type> = {}
    for (const [name, text] of Object.entries(outputs)) out[name] = Either.getOrElse(T.parseType(text), () => T.any)
    types = out
    outputTypesCache.set(outputs, types)
  }
  return types
}

const promptOutputTypes = (spec: WS.PromptSpec): { readonly [name: string]: T.Type } => outputTypes(spec.outputs)

/** A prompt template as a plain LM call. */
const callPrompt = (
  run: Run,
  spec: WS.PromptSpec,
  scope: Template.Scope,
  inputs: Outputs
): Effect.Effect<Attempted, AttemptError> => {
  const rendered = Template.resolve(spec.template, { ...inputs, ...scope })
  if (!rendered.ok) return Effect.fail(attemptError(`template variable {${rendered.missing}} has no value`, false))
  return tracked(
    run,
    Effect.flatMap(LM.LM, (lm) =>
      lm.complete({
        ...(spec.model === undefined ? {} : { model: spec.model }),
        messages: [{ role: "user", content: Template.text(rendered.value) }]
      })
    ).pipe(
      Effect.mapError((e) => attemptError(describe(e))),
      Effect.flatMap((response) => {
        const content = response.choices[0]?.content ?? ""
        return Either.match(Reply.read(content, promptOutputTypes(spec)), {
          onLeft: (reason) => Effect.fail(attemptError(`the reply does not parse: ${reason}`)),
          onRight: Effect.succeed
        })
      })
    )
  )
}

const recordOf = (output: unknown): Outputs =>
  Prediction.isPrediction(output)
    ? (output.toRecord() as Outputs)
    : typeof output === "object" && output !== null
      ? (output as Outputs)
      : { output }

/** One arm of a module step. */
const runArm = (
  run: Run,
  node: Check.Node,
  arm: "traditional" | "optimized",
  scope: Template.Scope,
  inputs: Outputs
): Effect.Effect<Attempted, AttemptError> => {
  const step = node.step as WS.ModuleStep
  const id = moduleIdOf(run.workflow.definition.name, node)
  if (arm === "traditional" && step.prompt !== undefined) return callPrompt(run, step.prompt, scope, inputs)
  const modules = run.env.modules
  if (arm === "optimized") {
    return trackedAs(run, modules.execute(id, inputs), outputsOfExecution, (e) => attemptError(describe(e)))
  }
  // The baseline: the module's first version, as written.
  const call: Effect.Effect<Outputs, AttemptError, LM.LM> = Effect.flatMap(
    Effect.mapError(modules.program(id, 1), (e) => attemptError(describe(e), false)),
    (program) =>
      Effect.map(
        Effect.mapError(Module.call(program as never, inputs as never) as Effect.Effect<unknown, unknown, LM.LM>, (e) =>
          attemptError(describe(e))
        ),
        recordOf
      )
  )
  return tracked(run, call)
}

const outputsOfExecution = (x: ModuleManager.Execution): Outputs => recordOf(x.output)

/**
 * The router of a hybrid or evaluation step (kept across runs, so a bandit learns; restored from the run store's
 * copy after a restart, a fresh one when there is none or it no longer reads).
 */
const routerOf = (
  run: Run,
  node: Check.Node,
  mode: "hybrid" | "evaluation"
): Effect.Effect<TrafficPolicy.Router, RunStoreError> => {
  const step = node.step as WS.ModuleStep
  const policy: TrafficPolicy.Policy =
    mode === "evaluation"
      ? {
          _tag: "Shadow",
          serving: step.evaluation?.serve ?? "traditional",
          candidate: (step.evaluation?.serve ?? "traditional") === "traditional" ? "optimized" : "traditional",
          sample: 1
        }
      : step.traffic === undefined || "split" in step.traffic
        ? {
            _tag: "Weighted",
            weights: [
              { version: "traditional", weight: 1 - (step.traffic?.split ?? 0.5) },
              { version: "optimized", weight: step.traffic?.split ?? 0.5 }
            ],
            stickyBy: "callerKey"
          }
        : "canary" in step.traffic
          ? {
              _tag: "Canary",
              stable: "traditional",
              candidate: "optimized",
              fraction: step.traffic.canary,
              guardRails: {
                minSamples: step.traffic.minSamples ?? 20,
                ...(step.traffic.maxErrorRate === undefined ? {} : { maxErrorRate: step.traffic.maxErrorRate })
              },
              stickyBy: "callerKey"
            }
          : {
              _tag: "Bandit",
              versions: ["traditional", "optimized"],
              algorithm:
                step.traffic.bandit === "thompson"
                  ? { _tag: "Thompson" }
                  : { _tag: "EpsilonGreedy", epsilon: 0.2, decay: 0.99, floor: 0.02 }
            }
  const key = `${moduleIdOf(run.workflow.definition.name, node)}\u0000${CanonicalJson.stringify(policy)}`
  run.routed.add(key)
  const known = run.env.routers.get(key)
  if (known !== undefined) return Effect.succeed(known)
  return Effect.gen(function* () {
    const stored = yield* run.env.store.getRouter(key)
    const restored =
      stored === undefined ? undefined : Either.getOrUndefined(yield* Effect.either(TrafficPolicy.restore(stored)))
    const router = restored ?? TrafficPolicy.make(policy, { seed: 0 })
    run.env.routers.set(key, router)
    return router
  })
}

/** Writes the state of the routers the run used (a crash loses at most this run's observations). */
const saveRouters = (run: Run): Effect.Effect<void, RunStoreError> =>
  Effect.suspend(() => {
    const states: Array<{ key: string; state: unknown }> = []
    for (const key of run.routed) {
      const router = run.env.routers.get(key)
      if (router !== undefined) states.push({ key, state: router.state() })
    }
    return states.length === 0 ? Effect.void : run.env.store.saveRouters(states)
  })

interface Served {
  readonly attempted: Attempted
  readonly arm?: string
  readonly reason?: string
  readonly shadow?: RunRecord.StepRecord["shadow"]
}

/**
 * The shadow arm of an evaluation step, or `undefined` when there is none. Past the run's cost cap it is skipped
 * (the cap is checked when the shadow starts: shadows already running finish). It is bounded by the step's
 * timeout, and whatever happens to it (an error, a defect, the timeout) is recorded, never raised: the served
 * result does not depend on it.
 */
const shadowOf = (
  run: Run,
  node: Check.Node,
  which: string | undefined,
  scope: Template.Scope,
  inputs: Outputs,
  observe: (which: string, started: number, result: Either.Either<Attempted, AttemptError>) => Effect.Effect<number>
): Effect.Effect<NonNullable<RunRecord.StepRecord["shadow"]>> | undefined => {
  if (which === undefined) return undefined
  const step = node.step as WS.ModuleStep
  const cap = step.evaluation?.maxCostUsd
  if (cap !== undefined && run.shadowCostUsd >= cap) {
    return Effect.succeed({ arm: which, timeMs: 0, costUsd: 0, success: false, skipped: "cost_cap" })
  }
  const arm = runArm(run, node, which as "traditional" | "optimized", scope, inputs)
  const bounded: Effect.Effect<Attempted, AttemptError> =
    step.timeoutMs === undefined
      ? arm
      : Effect.timeoutFail(arm, {
          duration: Duration.millis(step.timeoutMs),
          onTimeout: (): AttemptError => ({ _tag: "Timeout", ms: step.timeoutMs! })
        })
  return Effect.gen(function* () {
    const started = timeOf(run)
    const other = yield* Effect.either(
      Effect.catchAllDefect(bounded, (d) => Effect.fail(attemptError(`the shadow arm died: ${describe(d)}`)))
    )
    const timeMs = yield* observe(which, started, other)
    if (Either.isRight(other)) run.shadowCostUsd += other.right.costUsd
    return Either.isRight(other)
      ? { arm: which, outputs: other.right.outputs, timeMs, costUsd: other.right.costUsd, success: true }
      : { arm: which, timeMs, costUsd: 0, success: false, error: describeAttempt(other.left) }
  })
}

/** One attempt of a work step (not branch, parallel, map: those run their children). */
const attempt = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  inputs: Outputs,
  mode: WS.Mode,
  context: { readonly key: string; readonly attempt: number }
): Effect.Effect<Served, AttemptError> => {
  switch (node.kind) {
    case "prompt":
      return Effect.map(callPrompt(run, (node.step as WS.PromptStep).prompt, scope, inputs), (attempted) => ({
        attempted,
        arm: "traditional",
        reason: "mode"
      }))
    case "tool": {
      const spec = (node.step as WS.ToolStep).tool
      const tool = run.env.tools.get(spec.name)
      if (tool === undefined) return Effect.fail(attemptError(`no tool "${spec.name}" is registered`, false))
      const types = outputTypes(spec.outputs)
      return Effect.suspend(() =>
        tool(inputs, {
          runId: run.record.runId,
          step: node.id,
          idempotencyKey: context.key,
          attempt: context.attempt
        })
      ).pipe(
        Effect.catchAllDefect((d) => Effect.fail(d)),
        Effect.mapError((e) => attemptError(`tool "${spec.name}" failed: ${describe(e)}`)),
        Effect.flatMap((outputs) => {
          for (const [name, type] of Object.entries(types)) {
            if (!T.check(outputs[name], type)) {
              return Effect.fail(
                attemptError(
                  `tool "${spec.name}" returned ${name} = ${JSON.stringify(outputs[name])}, not ${T.show(type)}`,
                  false
                )
              )
            }
          }
          return Effect.succeed({ attempted: { outputs, costUsd: 0, lmCalls: 0 } })
        })
      )
    }
    case "module": {
      const reward = (outputs: Outputs) => run.options.reward?.(node.id, outputs)
      if (mode === "traditional" || mode === "optimized") {
        return Effect.map(runArm(run, node, mode, scope, inputs), (attempted) => ({
          attempted,
          arm: mode,
          reason: "mode"
        }))
      }
      return Effect.flatMap(
        Effect.mapError(routerOf(run, node, mode), (e) => attemptError(e.message, false)),
        (router) => routeModule(run, node, router, scope, inputs, reward)
      )
    }
    default:
      return Effect.fail(attemptError(`a ${node.kind} step has no single attempt`, false))
  }
}

/** A hybrid or evaluation module step: its router picks the arm that serves (and the shadow, for evaluation). */
const routeModule = (
  run: Run,
  node: Check.Node,
  router: TrafficPolicy.Router,
  scope: Template.Scope,
  inputs: Outputs,
  reward: (outputs: Outputs) => number | undefined
): Effect.Effect<Served, AttemptError> => {
  const decision = router.route(run.record.runId)
  const arm = decision.serve as "traditional" | "optimized"
  const observe = (which: string, started: number, result: Either.Either<Attempted, AttemptError>) =>
    Effect.sync(() => {
      const ended = timeOf(run)
      router.observe(which, {
        latencyMs: ended - started,
        error: Either.isLeft(result),
        costUsd: Either.isRight(result) ? result.right.costUsd : 0,
        reward: Either.isRight(result) ? reward(result.right.outputs) : undefined
      })
      return ended - started
    })
  const servedArm = Effect.gen(function* () {
    const started = timeOf(run)
    const served = yield* Effect.either(runArm(run, node, arm, scope, inputs))
    yield* observe(arm, started, served)
    return served
  })
  const shadowArm = shadowOf(run, node, decision.shadow, scope, inputs, observe)
  return Effect.gen(function* () {
    // The shadow runs alongside the served arm (never after it); it cannot fail (its failure is recorded).
    const [served, shadow] =
      shadowArm === undefined
        ? [yield* servedArm, undefined]
        : yield* Effect.all([servedArm, shadowArm], { concurrency: 2 })
    if (Either.isLeft(served)) return yield* Effect.fail(served.left)
    return {
      attempted: served.right,
      arm,
      reason: decision.reason,
      ...(shadow === undefined ? {} : { shadow })
    }
  })
}

const describeAttempt = (e: AttemptError): string => (e._tag === "Timeout" ? `timed out after ${e.ms} ms` : e.reason)

const modeOf = (run: Run, node: Check.Node): WS.Mode =>
  node.kind === "module" ? (run.options.mode ?? node.step.mode ?? run.workflow.definition.mode) : "traditional"

interface Finished {
  readonly outputs: Outputs
  /** Outputs of nested steps readable afterwards by their own ids (a parallel's children, a branch's steps). */
  readonly extra: { readonly [step: string]: Outputs }
}

/** Runs a step with its retries, timeout and fallback; records it. */
const execute = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  key: string,
  item?: number
): Effect.Effect<Finished, RunError> => {
  switch (node.kind) {
    case "branch":
      return executeBranch(run, node, scope, key)
    case "parallel":
      return executeParallel(run, node, scope, key)
    case "map":
      return executeMap(run, node, scope, key)
    case "workflow":
      return executeSub(run, node, scope, key)
    default:
      return executeWork(run, node, scope, key, item)
  }
}

const executeWork = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  key: string,
  item: number | undefined
): Effect.Effect<Finished, RunError> =>
  Effect.suspend(() => {
    const mode = modeOf(run, node)
    const started = timeOf(run)
    const step = node.step
    let attempts = 0
    const bound = bindInputs(node, scope)
    const retry = step.retry
    const plain = step.timeoutMs === undefined && (retry === undefined || retry.times === 0)
    const base = () => ({
      step: node.id,
      path: node.path,
      kind: node.kind,
      mode,
      attempts,
      ...(item === undefined ? {} : { item })
    })
    const onFailure = (failure: AttemptError) =>
      failed(run, node, scope, key, bound, failure, base(), started, timeOf(run), attempts)
    // Only the wrappers a step configures: no timeout, no retries -> one attempt, run as it is.
    if (plain && Either.isRight(bound)) {
      attempts = 1
      if (node.kind === "module" && (mode === "traditional" || mode === "optimized")) {
        // The common module step (one arm, one attempt): its arm's result is the step's record, without a `Served`.
        return Effect.matchEffect(runArm(run, node, mode, scope, bound.right), {
          onSuccess: (attempted) =>
            addRecord(run, stepRecord(node, mode, 1, item, attempted, mode, "mode", undefined, timeOf(run) - started), {
              outputs: attempted.outputs,
              extra: noExtra
            }),
          onFailure
        })
      }
    }
    const once: Effect.Effect<Served, AttemptError> = Either.isLeft(bound)
      ? Effect.fail(attemptError(bound.left, false))
      : plain
        ? attempt(run, node, scope, bound.right, mode, { key, attempt: 1 })
        : Effect.suspend(() => {
            attempts++
            const one = attempt(run, node, scope, bound.right, mode, { key, attempt: attempts })
            return step.timeoutMs === undefined
              ? one
              : Effect.timeoutFail(one, {
                  duration: Duration.millis(step.timeoutMs),
                  onTimeout: (): AttemptError => ({ _tag: "Timeout", ms: step.timeoutMs! })
                })
          })
    const withRetries =
      retry === undefined || retry.times === 0
        ? once
        : Effect.retry(once, {
            schedule: Schedule.exponential(Duration.millis(retry.backoffMs ?? 100), retry.factor ?? 2),
            times: retry.times,
            while: (e) => e._tag === "Timeout" || e.retry
          })
    return Effect.matchEffect(withRetries, {
      onSuccess: (served) =>
        addRecord(
          run,
          stepRecord(
            node,
            mode,
            attempts,
            item,
            served.attempted,
            served.arm,
            served.reason,
            served.shadow,
            timeOf(run) - started
          ),
          { outputs: served.attempted.outputs, extra: noExtra }
        ),
      onFailure
    })
  })

/** A succeeded step's record (built field by field: no spread of optional parts). */
const stepRecord = (
  node: Check.Node,
  mode: WS.Mode,
  attempts: number,
  item: number | undefined,
  attempted: Attempted,
  arm: string | undefined,
  reason: string | undefined,
  shadow: RunRecord.StepRecord["shadow"],
  timeMs: number
): RunRecord.StepRecord => {
  const rec: Mutable<RunRecord.StepRecord> = {
    step: node.id,
    path: node.path,
    kind: node.kind,
    mode,
    attempts,
    timeMs,
    costUsd: attempted.costUsd,
    lmCalls: attempted.lmCalls,
    success: true,
    outputs: attempted.outputs
  }
  if (item !== undefined) rec.item = item
  if (arm !== undefined) rec.arm = arm
  if (reason !== undefined) rec.reason = reason
  if (shadow !== undefined) rec.shadow = shadow
  return rec
}

const noExtra: Finished["extra"] = Object.freeze({})

/** A step whose attempts all failed: its fallback serves, or the step fails the run. */
const failed = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  key: string,
  bound: Either.Either<Outputs, string>,
  failure: AttemptError,
  base: Pick<RunRecord.StepRecord, "step" | "path" | "kind" | "mode" | "attempts" | "item">,
  started: number,
  ended: number,
  attempts: number
): Effect.Effect<Finished, RunError> =>
  Effect.gen(function* () {
    const reason = describeAttempt(failure)
    const fallback = node.step.fallback
    if (fallback !== undefined) {
      const fb = yield* Effect.either(
        runFallback(
          run,
          node,
          fallback,
          scope,
          key,
          Either.getOrElse(bound, () => ({}))
        )
      )
      if (Either.isRight(fb)) {
        return yield* addRecord(
          run,
          {
            ...base,
            timeMs: timeOf(run) - started,
            costUsd: fb.right.costUsd,
            lmCalls: fb.right.lmCalls,
            success: true,
            error: reason,
            fallback: fb.right.label,
            outputs: fb.right.outputs
          },
          { outputs: fb.right.outputs, extra: {} }
        )
      }
    }
    yield* addRecord(
      run,
      {
        ...base,
        timeMs: ended - started,
        costUsd: 0,
        lmCalls: 0,
        success: false,
        error: reason
      },
      undefined
    )
    return yield* failure._tag === "Timeout"
      ? new StepTimedOut({
          runId: run.record.runId,
          step: stepLabel(node),
          timeoutMs: failure.ms,
          attempts,
          message: `step ${stepLabel(node)} timed out after ${failure.ms} ms (${attempts} attempt${attempts === 1 ? "" : "s"})${fallback === undefined ? "" : ", and its fallback failed"}: raise timeoutMs or add a fallback`
        })
      : new StepFailed({
          runId: run.record.runId,
          step: stepLabel(node),
          kind: node.kind,
          attempts,
          reason,
          message: `step ${stepLabel(node)} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${reason}${fallback === undefined ? "" : " (its fallback failed too)"}`
        })
  })

const runFallback = (
  run: Run,
  node: Check.Node,
  fallback: WS.Fallback,
  scope: Template.Scope,
  key: string,
  inputs: Outputs
): Effect.Effect<{ outputs: Outputs; costUsd: number; lmCalls: number; label: string }, unknown> => {
  if ("default" in fallback) {
    return Effect.succeed({ outputs: fallback.default, costUsd: 0, lmCalls: 0, label: "default" })
  }
  if ("baseline" in fallback) {
    return Effect.map(runArm(run, node, "traditional", scope, inputs), (a) => ({ ...a, label: "baseline" }))
  }
  const target = run.workflow.nodes.get(fallback.step)
  if (target === undefined) return Effect.fail(`fallback step ${fallback.step} does not exist`)
  return Effect.gen(function* () {
    const before = run.record.steps.length
    const finished = yield* execute(run, target, scope, `${key}>${target.id}`)
    const added = run.record.steps.slice(before)
    return {
      outputs: finished.outputs,
      costUsd: added.reduce((s, r) => s + r.costUsd, 0),
      lmCalls: added.reduce((s, r) => s + r.lmCalls, 0),
      label: `step:${target.id}`
    }
  })
}

/** Records a finished step (the next boundary carries it) and returns `value`: one effect only when progress is reported. */
const addRecord = <A>(run: Run, rec: RunRecord.StepRecord, value: A): Effect.Effect<A> => {
  ;(run.record.steps as Array<RunRecord.StepRecord>).push(rec)
  run.unsaved.push(rec)
  return run.options.onProgress === undefined
    ? Effect.succeed(value)
    : Effect.as(run.options.onProgress({ _tag: "StepFinished", runId: run.record.runId, record: rec }), value)
}

/** A child of a parallel or map: restored from the partials when it finished before a crash. */
const child = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  partialKey: string,
  item?: number
): Effect.Effect<Finished, RunError> =>
  Effect.suspend(() => {
    const done = run.record.partials[partialKey]
    if (done !== undefined) {
      const { __extra, ...outputs } = done as { __extra?: { [step: string]: Outputs } }
      return Effect.succeed({ outputs, extra: __extra ?? {} })
    }
    return Effect.tap(execute(run, node, scope, `${run.record.runId}:${partialKey}`, item), (finished) =>
      commit(run, { partials: { [partialKey]: { ...finished.outputs, __extra: finished.extra } } })
    )
  })

const executeParallel = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  _key: string
): Effect.Effect<Finished, RunError> =>
  Effect.map(
    Effect.forEach(
      (node.step as WS.ParallelStep).parallel,
      (step) => child(run, run.workflow.nodes.get(step.id)!, scope, `${node.id}.${step.id}`),
      { concurrency: "unbounded" }
    ),
    (results) => {
      const outputs: Record<string, Outputs> = {}
      let extra: Record<string, Outputs> = {}
      ;(node.step as WS.ParallelStep).parallel.forEach((step, i) => {
        outputs[step.id] = results[i]!.outputs
        extra = { ...extra, ...results[i]!.extra, [step.id]: results[i]!.outputs }
      })
      return { outputs, extra }
    }
  )

const executeMap = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  _key: string
): Effect.Effect<Finished, RunError> =>
  Effect.suspend(() => {
    const spec = (node.step as WS.MapStep).map
    const over = Template.resolve(spec.over, scope)
    if (!over.ok || !Array.isArray(over.value)) {
      return Effect.fail(
        new StepFailed({
          runId: run.record.runId,
          step: stepLabel(node),
          kind: "map",
          attempts: 0,
          reason: over.ok ? `map.over is not a list: ${JSON.stringify(over.value)}` : `{${over.missing}} has no value`,
          message: `step ${stepLabel(node)}: map.over ${over.ok ? "is not a list" : `{${over.missing}} has no value`}`
        })
      )
    }
    const inner = run.workflow.nodes.get(spec.step.id)!
    const as = spec.as ?? "item"
    return Effect.map(
      Effect.forEach(
        over.value as ReadonlyArray<unknown>,
        (value, index) => child(run, inner, { ...scope, [as]: value, index }, `${node.id}[${index}]`, index),
        { concurrency: spec.concurrency ?? 4 }
      ),
      (results) => ({ outputs: { items: results.map((r) => r.outputs) }, extra: {} })
    )
  })

/** A branch nested in a parallel or map (top-level branches are the chart's transient states). */
const executeBranch = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  key: string
): Effect.Effect<Finished, RunError> =>
  Effect.gen(function* () {
    const b = (node.step as WS.BranchStep).branch
    const index = b.cases.findIndex((c) => Chart.holds(c.when, scope))
    const steps = index >= 0 ? b.cases[index]!.steps : (b.otherwise ?? [])
    let current = scope
    let extra: Record<string, Outputs> = {}
    for (const step of steps) {
      const n = run.workflow.nodes.get(step.id)!
      const finished = yield* execute(run, n, current, `${key}>${step.id}`)
      extra = { ...extra, ...finished.extra, [step.id]: finished.outputs }
      current = { ...current, ...finished.extra, [step.id]: finished.outputs }
    }
    return { outputs: { case: index >= 0 ? `cases[${index}]` : "otherwise" }, extra }
  })

const executeSub = (
  run: Run,
  node: Check.Node,
  scope: Template.Scope,
  _key: string
): Effect.Effect<Finished, RunError> =>
  Effect.gen(function* () {
    const bound = bindInputs(node, scope)
    if (Either.isLeft(bound)) {
      return yield* new StepFailed({
        runId: run.record.runId,
        step: stepLabel(node),
        kind: "workflow",
        attempts: 0,
        reason: bound.left,
        message: `step ${stepLabel(node)}: ${bound.left}`
      })
    }
    const runId = `${run.record.runId}/${node.id}`
    const existing = yield* run.env.store.get(runId)
    const options = { ...run.options, runId }
    const result =
      existing === undefined
        ? yield* start(run.env, node.sub!, bound.right, options)
        : existing.status === "succeeded"
          ? { outputs: existing.result ?? {} }
          : yield* resume(run.env, node.sub!, existing, options)
    return { outputs: result.outputs, extra: {} }
  })

// ---------------------------------------------------------------------------------------------------------
// Driving the chart
// ---------------------------------------------------------------------------------------------------------

const chartOf = (env: Env, w: Check.Checked, fingerprint: string): Chart.Chart => {
  let chart = env.charts.get(fingerprint)
  if (chart === undefined) {
    chart = Chart.compile(w)
    env.charts.set(fingerprint, chart)
  }
  return chart
}

export const fingerprintOf = (w: Check.Checked): string => CanonicalJson.sha256(w.definition as never)

const drive = (run: Run, restored: ReadonlyArray<string>, started?: Chart.Runner): Effect.Effect<Result, RunError> =>
  // The run's LM is provided once here (not per step: `tracked` sees it is there), when the fiber lacks it.
  Effect.withFiberRuntime((fiber) =>
    fiber.currentContext.unsafeMap.get(LM.LM.key) === run.env.lm
      ? driveChart(run, restored, started)
      : Effect.provideService(driveChart(run, restored, started), LM.LM, run.env.lm)
  )

/** Whether an object has no own enumerable key (without listing them). */
const isEmpty = (o: object): boolean => {
  for (const _ in o) return false
  return true
}

/** The last step's boundary, written with the run's end (one boundary, not two). */
type Pending = Pick<RunStore.Boundary, "state" | "outputs" | "clearPartials">

/**
 * Drives the chart: one step after the other, as a chain of effects (no generator), each step's boundary written
 * before the next starts. The last step's boundary is the run's end (its status and result with it).
 */
const driveChart = (
  run: Run,
  restored: ReadonlyArray<string>,
  started?: Chart.Runner
): Effect.Effect<Result, RunError> =>
  Effect.suspend(() => {
    const chart = chartOf(run.env, run.workflow, run.record.fingerprint)
    // One runner for the whole run (a new run's, or one restored at the stored position): steps only send events.
    const runner =
      started ??
      Chart.restore(chart, {
        value: run.record.state,
        context: { inputs: run.record.inputs, outputs: run.record.outputs }
      })
    const onFailure = (node: Check.Node, error: RunError): Effect.Effect<never, RunError> =>
      Effect.suspend(() => {
        // The chart's FAIL transition ends the run; the record keeps the failed step, where a resume retries.
        const failed = runner.send({ type: "FAIL", step: node.id })
        return Effect.ignore(saveRouters(run)).pipe(
          Effect.zipRight(
            Effect.ignore(
              commit(run, {
                status: failed.value === Chart.FAILED ? "failed" : "running",
                state: node.id,
                error: error.message
              })
            )
          ),
          Effect.zipRight(progress(run, { _tag: "RunFinished", runId: run.record.runId, status: "failed" })),
          Effect.zipRight(Effect.fail(error))
        )
      })
    /**
     * The scope the steps read (the inputs and the finished steps' outputs), kept with the chart: a finished step's
     * outputs are added to it between two steps (no copy per step), and it is made again from the chart's context
     * after a transition that added more (a branch's case, a parallel's children).
     */
    let scope: Record<string, unknown> | undefined
    const step = (position: Chart.Position): Effect.Effect<Result, RunError> => {
      if (position.value === Chart.DONE || position.value === Chart.FAILED) return finish(run, position, restored)
      const node = run.workflow.nodes.get(position.value)
      if (node === undefined) {
        return Effect.fail(
          new StepFailed({
            runId: run.record.runId,
            step: position.value,
            kind: "unknown",
            attempts: 0,
            reason: "the run stands at a state the workflow does not have",
            message: `run ${run.record.runId} stands at "${position.value}", which workflow ${run.workflow.definition.name} does not have`
          })
        )
      }
      // `scopeOf` makes a new object: the run's own.
      if (scope === undefined) scope = Chart.scopeOf(position.context) as Record<string, unknown>
      const executed = Effect.matchEffect(execute(run, node, scope, `${run.record.runId}:${node.id}`), {
        onFailure: (error) => onFailure(node, error),
        onSuccess: (finished) => {
          const before = position.context.outputs
          let added: Record<string, Outputs>
          let next: Chart.Position
          if (isEmpty(finished.extra) && Chart.isDirect(chart, node.id)) {
            // The common step: its target is a work state, what it adds is its own outputs.
            next = runner.send({ type: "DONE", step: node.id, outputs: finished.outputs })
            added = { [node.id]: finished.outputs }
            // Step ids are never `inputs` (the checker refuses it): the run's inputs stay as they are.
            scope![node.id] = finished.outputs
          } else {
            scope = undefined
            // A parallel's children (and nested branches' steps) are readable by their own ids afterwards.
            if (!isEmpty(finished.extra)) runner.send({ type: "OUTPUTS", outputs: finished.extra })
            next = runner.send({ type: "DONE", step: node.id, outputs: finished.outputs })
            // Only what this boundary added to the chart's context (the step, its nested steps, branch cases taken).
            const after = next.context.outputs
            added = {}
            for (const id in after) if (before[id] !== after[id]) added[id] = after[id]!
          }
          const clear = !isEmpty(run.record.partials)
          if (next.value === Chart.DONE) {
            return finish(run, next, restored, {
              state: next.value,
              outputs: added,
              ...(clear ? { clearPartials: true } : {})
            })
          }
          return Effect.flatMap(
            clear
              ? commit(run, { state: next.value, outputs: added, clearPartials: true })
              : commitStep(run, next.value, added, next.context.outputs),
            () => step(next)
          )
        }
      })
      return run.options.onProgress === undefined
        ? executed
        : Effect.zipRight(
            run.options.onProgress({ _tag: "StepStarted", runId: run.record.runId, step: node.id }),
            executed
          )
    }
    return step(runner.position())
  })

/**
 * Ends a run at its final position: its outputs resolved and its end written (with the last step's boundary, when it
 * is still to write), its routers' state saved.
 */
const finish = (
  run: Run,
  position: Chart.Position,
  restored: ReadonlyArray<string>,
  pending?: Pending
): Effect.Effect<Result, RunError> =>
  Effect.suspend(() => {
    const scope = Chart.scopeOf(position.context)
    const outputs: Record<string, unknown> = {}
    for (const [name, binding] of Object.entries(run.workflow.definition.outputs)) {
      const r = Template.resolve(binding, scope)
      if (!r.ok) {
        const error = new StepFailed({
          runId: run.record.runId,
          step: `outputs.${name}`,
          kind: "output",
          attempts: 0,
          reason: `{${r.missing}} has no value`,
          message: `output "${name}": {${r.missing}} has no value (the step it reads did not run: a branch case not taken?)`
        })
        return Effect.zipRight(commit(run, { ...pending, status: "failed", error: error.message }), Effect.fail(error))
      }
      outputs[name] = r.value
    }
    return commit(run, { ...pending, status: "succeeded", result: outputs }).pipe(
      Effect.zipRight(saveRouters(run)),
      Effect.zipRight(progress(run, { _tag: "RunFinished", runId: run.record.runId, status: "succeeded" })),
      Effect.as<Result>({
        runId: run.record.runId,
        workflow: run.workflow.definition.name,
        status: "succeeded",
        outputs,
        steps: run.record.steps,
        restored
      })
    )
  })

let counter = 0

/** Starts a run. */
export const start = (
  env: Env,
  w: Check.Checked,
  inputs: Outputs,
  options: RunOptions
): Effect.Effect<Result, RunError> =>
  Effect.flatMap(checkInputs(w, inputs), (checked) =>
    Effect.clockWith((clock) =>
      Effect.withFiberRuntime<Result, RunError>((fiber) => {
        const at = clock.unsafeCurrentTimeMillis()
        const runId = options.runId ?? `run-${at.toString(36)}-${(++counter).toString(36)}`
        const fingerprint = w.fingerprint ?? fingerprintOf(w)
        const chart = chartOf(env, w, fingerprint)
        const runner = Chart.start(chart, checked)
        const position = runner.position()
        // The end user and tenant the run is for (from the fiber, like the correlation id): what data rights find.
        const subject = Option.getOrUndefined(fiber.getFiberRef(Subject.currentSubject))
        const tenant = Option.getOrUndefined(fiber.getFiberRef(Tenant.Tenant))
        const record: Mutable<RunRecord.RunRecord> = {
          schemaVersion: SCHEMA_VERSION,
          runId,
          workflow: w.definition.name,
          file: w.file,
          fingerprint,
          status: "running",
          state: position.value,
          inputs: checked,
          outputs: position.context.outputs,
          partials: {},
          steps: [],
          createdAt: at,
          updatedAt: at
        }
        if (subject !== undefined) record.subject = subject
        if (tenant !== undefined) record.tenant = tenant
        const run: Run = {
          env,
          workflow: w,
          options,
          shadowCostUsd: 0,
          unsaved: [],
          routed: new Set(),
          clock,
          record
        }
        const saved = Effect.flatMap(run.env.store.save(record), () => drive(run, [], runner))
        return options.onProgress === undefined
          ? saved
          : Effect.zipRight(
              Effect.zipRight(
                run.env.store.save(record),
                options.onProgress({ _tag: "RunStarted", runId, workflow: w.definition.name, resumed: false })
              ),
              drive(run, [], runner)
            )
      })
    )
  )

/** Resumes a stored run where it stopped (its finished steps are not run again). */
export const resume = (
  env: Env,
  w: Check.Checked,
  record: RunRecord.RunRecord,
  options: RunOptions
): Effect.Effect<Result, RunError> =>
  Effect.gen(function* () {
    const run: Run = {
      env,
      workflow: w,
      options,
      shadowCostUsd: record.steps.reduce((s, r) => s + (r.shadow?.costUsd ?? 0), 0),
      unsaved: [],
      routed: new Set(),
      clock: yield* Effect.clock,
      record: { ...record, status: "running", steps: [...record.steps] }
    }
    const { error: _error, ...rest } = run.record
    run.record = rest
    yield* progress(run, { _tag: "RunStarted", runId: record.runId, workflow: w.definition.name, resumed: true })
    return yield* drive(run, [...Object.keys(record.outputs), ...Object.keys(record.partials)])
  })
