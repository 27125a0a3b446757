/**
 * Optimization of a workflow's module steps through the application's OptimizationCoordinator: a step's
 * `optimization` block names the optimizer, its training data (a JSON Lines file next to the workflow, one object
 * of input and label fields a line) and the metric; the job runs under the coordinator's supervision and hot-swaps
 * the step's module when the result beats what serves. The step's `optimized` arm serves that promoted version.
 *
 * With `experiences: true` the training set (also) comes from the real-time loop's ExperienceStore: a module step
 * runs through the ModuleManager, so each execution is recorded under the step's module id; the labelled ones
 * (feedback with a corrected answer, or a full reward) are its examples (`ExperienceStore.toExamples`).
 * `triggers.minExperiences` is the number of labelled experiences a step needs before it is optimized:
 * `optimizeStep` refuses fewer, and {@link optimizeDue} runs the steps that reached it. (The loop's own policy is
 * application-wide, `LoopPolicy.Settings`; it has no per-module rules to register a step with.)
 *
 * @example
 * ```ts
 * import { Optimize, Workflow } from "@effect-dspy/workflows"
 * import * as Effect from "effect/Effect"
 *
 * // Every module step with an `optimization` block, one job after the other.
 * const program = Effect.flatMap(Workflow.load("triage.yaml"), (w) => Optimize.optimizeAll(w))
 * ```
 *
 * @since 0.1.0
 */
import { Example, type LM, Module, Prediction } from "@effect-dspy/core"
import { ExperienceStore, ModuleManager, OptimizationCoordinator, type ServicesError } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Template from "./internal/template.js"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Workflow from "./Workflow.js"
import { WorkflowInvalid } from "./WorkflowError.js"
import { WorkflowEngine } from "./WorkflowEngine.js"
import type * as WorkflowSchema from "./WorkflowSchema.js"

/**
 * What an optimization can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type OptimizeError =
  | WorkflowInvalid
  | ModuleManager.MutationError
  | ServicesError.OptimizationRequestInvalid
  | ServicesError.ModuleNotFound
  | ServicesError.OptimizationStoreError
  | ServicesError.OptimizationJobNotFound

/**
 * The labelled experiences of a module step (its module's recorded executions with a label), as examples.
 *
 * @since 0.1.0
 * @category optimizing
 */
export const experienceExamples = (
  workflow: Workflow.Workflow,
  step: string
): Effect.Effect<ReadonlyArray<Example.Any>, WorkflowInvalid, WorkflowEngine | ExperienceStore.ExperienceStore> =>
  Effect.gen(function* () {
    const engine = yield* WorkflowEngine
    const moduleId = engine.moduleId(workflow, step)
    if (moduleId === undefined) {
      return yield* invalid(workflow, step, `"${step}" is not a module step of workflow ${workflow.name}`)
    }
    const store = yield* ExperienceStore.ExperienceStore
    return ExperienceStore.toExamples(yield* store.query({ moduleId }))
  })

/**
 * Options of a step's optimization (they override its `optimization` block).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly optimizer?: string
  readonly metric?: string
  /**
   * Training examples (input and label fields); default: the block's `trainset` file and, with `experiences: true`,
   * the step's labelled experiences.
   */
  readonly trainset?: ReadonlyArray<{ readonly [field: string]: unknown }>
  readonly seed?: number
}

const invalid = (workflow: Workflow.Workflow, at: string, message: string) =>
  new WorkflowInvalid({
    file: workflow.file,
    issues: [{ file: workflow.file, path: at, message }],
    message: `${workflow.file}: ${at}: ${message}`
  })

/**
 * Reads a JSON Lines training file (relative to the workflow file): one object a line.
 *
 * @since 0.1.0
 * @category training data
 */
export const readTrainset = (
  workflow: Workflow.Workflow,
  file: string,
  at = "optimization.trainset"
): Effect.Effect<ReadonlyArray<{ readonly [field: string]: unknown }>, WorkflowInvalid> =>
  Effect.suspend(() => {
    const full = path.resolve(path.dirname(workflow.file), file)
    let text: string
    try {
      text = fs.readFileSync(full, "utf8")
    } catch (e) {
      return Effect.fail(invalid(workflow, at, `cannot read the training data ${full}: ${String(e)}`))
    }
    const rows: Array<{ readonly [field: string]: unknown }> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      let row: unknown
      try {
        row = JSON.parse(line)
      } catch (e) {
        return Effect.fail(invalid(workflow, at, `${full}:${i + 1} is not JSON: ${String(e)}`))
      }
      if (typeof row !== "object" || row === null || Array.isArray(row)) {
        return Effect.fail(invalid(workflow, at, `${full}:${i + 1} is not a JSON object`))
      }
      rows.push(row as { readonly [field: string]: unknown })
    }
    return Effect.succeed(rows)
  })

/**
 * Optimizes one module step: starts a job for its module on the OptimizationCoordinator and waits for it (the
 * job's end state says whether the result was swapped in).
 *
 * @since 0.1.0
 * @category optimizing
 */
export const optimizeStep = (
  workflow: Workflow.Workflow,
  step: string,
  options: Options = {}
): Effect.Effect<
  OptimizationCoordinator.Job,
  OptimizeError,
  WorkflowEngine | OptimizationCoordinator.OptimizationCoordinator | ExperienceStore.ExperienceStore
> =>
  Effect.gen(function* () {
    const node = workflow.nodes.get(step)
    if (node === undefined || node.kind !== "module") {
      return yield* invalid(workflow, step, `"${step}" is not a module step of workflow ${workflow.name}`)
    }
    const spec = node.step as WorkflowSchema.ModuleStep
    const block = spec.optimization
    const optimizer = options.optimizer ?? block?.optimizer
    if (optimizer === undefined) {
      return yield* invalid(workflow, `${node.path}.optimization`, "no optimizer: add an optimization block")
    }
    const inputs = node.signature?.inputs ?? []
    const fromRows = (rows: ReadonlyArray<{ readonly [field: string]: unknown }>) =>
      rows.map((row) => Example.make(row).withInputs(...inputs))
    let trainset: ReadonlyArray<Example.Any>
    if (options.trainset !== undefined) {
      trainset = fromRows(options.trainset)
    } else {
      if (block?.trainset === undefined && block?.experiences !== true) {
        return yield* invalid(
          workflow,
          `${node.path}.optimization`,
          "no training data: give a trainset file, or experiences: true"
        )
      }
      const file =
        block.trainset === undefined
          ? []
          : fromRows(yield* readTrainset(workflow, block.trainset, `${node.path}.optimization.trainset`))
      const recorded = block.experiences === true ? yield* experienceExamples(workflow, step) : []
      const min = block.triggers?.minExperiences
      if (block.experiences === true && min !== undefined && recorded.length < min) {
        return yield* invalid(
          workflow,
          `${node.path}.optimization.triggers.minExperiences`,
          `step ${step} has ${recorded.length} labelled experience${recorded.length === 1 ? "" : "s"}; its trigger needs ${min} (attach feedback with corrected answers, or lower minExperiences)`
        )
      }
      trainset = [...file, ...recorded]
      if (trainset.length === 0) {
        return yield* invalid(
          workflow,
          `${node.path}.optimization.experiences`,
          `step ${step} has no labelled experiences yet (feedback with a corrected answer or a full reward labels one)`
        )
      }
    }
    const engine = yield* WorkflowEngine
    yield* engine.prepare(workflow)
    const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
    const metric = options.metric ?? block?.metric
    const started = yield* coordinator.start({
      moduleId: engine.moduleId(workflow, step)!,
      optimizer,
      trainset,
      ...(metric === undefined ? {} : { metric }),
      ...(options.seed === undefined ? {} : { seed: options.seed })
    })
    return yield* coordinator.await(started.id)
  })

/**
 * Optimizes every module step that has an `optimization` block, in order; the jobs by step id.
 *
 * @since 0.1.0
 * @category optimizing
 */
export const optimizeAll = (
  workflow: Workflow.Workflow,
  options: Omit<Options, "trainset" | "optimizer"> = {}
): Effect.Effect<
  { readonly [step: string]: OptimizationCoordinator.Job },
  OptimizeError,
  WorkflowEngine | OptimizationCoordinator.OptimizationCoordinator | ExperienceStore.ExperienceStore
> =>
  Effect.gen(function* () {
    const out: Record<string, OptimizationCoordinator.Job> = {}
    for (const node of workflow.nodes.values()) {
      if (node.kind === "module" && (node.step as WorkflowSchema.ModuleStep).optimization !== undefined) {
        out[node.id] = yield* optimizeStep(workflow, node.id, options)
      }
    }
    return out
  })

/**
 * Optimizes the module steps whose trigger is met: `experiences: true` and at least `triggers.minExperiences`
 * labelled experiences recorded for the step (steps without the trigger are left to {@link optimizeAll}); the jobs
 * by step id (empty when none is due).
 *
 * @since 0.1.0
 * @category optimizing
 */
export const optimizeDue = (
  workflow: Workflow.Workflow,
  options: Omit<Options, "trainset" | "optimizer"> = {}
): Effect.Effect<
  { readonly [step: string]: OptimizationCoordinator.Job },
  OptimizeError,
  WorkflowEngine | OptimizationCoordinator.OptimizationCoordinator | ExperienceStore.ExperienceStore
> =>
  Effect.gen(function* () {
    const out: Record<string, OptimizationCoordinator.Job> = {}
    for (const node of workflow.nodes.values()) {
      const block = node.kind === "module" ? (node.step as WorkflowSchema.ModuleStep).optimization : undefined
      const min = block?.triggers?.minExperiences
      if (block?.experiences !== true || min === undefined) continue
      const recorded = yield* experienceExamples(workflow, node.id)
      if (recorded.length >= min) out[node.id] = yield* optimizeStep(workflow, node.id, options)
    }
    return out
  })

/**
 * What a whole-workflow optimization did: the coordinator's job on the workflow-as-a-program, and the new version
 * of each step's module (when the job's result was swapped in).
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkflowOptimization {
  readonly job: OptimizationCoordinator.Job
  readonly programId: string
  /** The version each step's module got from the optimized program, by step id (empty when not swapped). */
  readonly steps: { readonly [step: string]: number }
}

/**
 * The module id of a workflow's program (the workflow as one module, for whole-workflow optimization).
 *
 * @since 0.1.0
 * @category optimizing
 */
export const programIdOf = (workflow: Workflow.Workflow): string => `${workflow.name}.__program`

/**
 * Optimizes the workflow as one program against an end-to-end metric: its module steps are the program's
 * predictors (their current versions), its forward runs the steps in order on their bindings, its output is the
 * workflow's outputs. The program runs as a module under the OptimizationCoordinator (`<workflow>.__program`);
 * when the job's result is swapped in, each step's module gets the optimized predictors' demos and instructions
 * as a new version (lineage: the job). The training rows hold the workflow's inputs and the expected outputs;
 * `metric` names a metric registered with the coordinator. Supports workflows whose steps are all module steps.
 *
 * @since 0.1.0
 * @category optimizing
 */
export const optimizeWorkflow = (
  workflow: Workflow.Workflow,
  options: {
    readonly optimizer: string
    readonly metric: string
    readonly trainset: ReadonlyArray<{ readonly [field: string]: unknown }>
    readonly seed?: number
  }
): Effect.Effect<
  WorkflowOptimization,
  OptimizeError,
  WorkflowEngine | OptimizationCoordinator.OptimizationCoordinator | ModuleManager.ModuleManager
> =>
  Effect.gen(function* () {
    const steps = workflow.definition.steps
    const other = steps.find((s) => !("module" in s))
    if (other !== undefined) {
      const node = workflow.nodes.get(other.id)!
      return yield* invalid(
        workflow,
        node.path,
        `whole-workflow optimization takes workflows of module steps; step "${other.id}" is a ${node.kind} step (optimize module steps one by one with optimizeStep)`
      )
    }
    const engine = yield* WorkflowEngine
    const modules = yield* ModuleManager.ModuleManager
    yield* engine.prepare(workflow)
    const ids = Object.fromEntries(steps.map((s) => [s.id, engine.moduleId(workflow, s.id)!]))
    const parameters: Record<string, Module.Program> = {}
    for (const s of steps) parameters[s.id] = yield* modules.program(ids[s.id]!)
    const program = Module.make({
      name: workflow.name,
      parameters,
      forward: (bound, inputs: { readonly [name: string]: unknown }) =>
        Effect.gen(function* () {
          const scope: Record<string, unknown> = { inputs }
          for (const s of steps) {
            const stepInputs: Record<string, unknown> = {}
            for (const [name, binding] of Object.entries(s.inputs ?? {})) {
              const r = Template.resolve(binding, scope)
              if (r.ok) stepInputs[name] = r.value
            }
            const call = bound[s.id] as unknown as (
              i: unknown
            ) => Effect.Effect<Prediction.AnyPrediction, unknown, LM.LM>
            const out = yield* call(stepInputs)
            scope[s.id] = out.toRecord()
          }
          const outputs: Record<string, unknown> = {}
          for (const [name, binding] of Object.entries(workflow.definition.outputs)) {
            const r = Template.resolve(binding, scope)
            outputs[name] = r.ok ? r.value : null
          }
          return Prediction.fromOutputs(outputs)
        })
    })
    const programId = programIdOf(workflow)
    const existing = yield* Effect.either(modules.describe(programId))
    if (Either.isRight(existing)) yield* modules.remove(programId)
    yield* modules.register(programId, program)
    const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
    const inputNames = Object.keys(workflow.inputs)
    const started = yield* coordinator.start({
      moduleId: programId,
      optimizer: options.optimizer,
      metric: options.metric,
      trainset: options.trainset.map((row) => Example.make(row).withInputs(...inputNames)),
      ...(options.seed === undefined ? {} : { seed: options.seed })
    })
    const job = yield* coordinator.await(started.id)
    const versions: Record<string, number> = {}
    if (job.status === "swapped") {
      const optimized = yield* modules.program(programId)
      const demos = Module.demos(optimized)
      const instructions = Module.instructions(optimized)
      for (const s of steps) {
        const local = (path: string) => {
          const rest = path === s.id ? "" : path.slice(s.id.length + 1)
          return rest === "" ? "self" : rest
        }
        const mine = (path: string) => path === s.id || path.startsWith(`${s.id}.`)
        const stepDemos: Record<string, ReadonlyArray<unknown>> = {}
        const stepInstructions: Record<string, string> = {}
        for (const [path, d] of Object.entries(demos)) if (mine(path)) stepDemos[local(path)] = d
        for (const [path, i] of Object.entries(instructions)) if (mine(path)) stepInstructions[local(path)] = i
        const info = yield* modules.swap(ids[s.id]!, {
          demos: stepDemos as never,
          instructions: stepInstructions,
          lineage: { reason: "workflow_optimization", jobId: job.id, optimizer: options.optimizer }
        })
        versions[s.id] = info.version
      }
    }
    return { job, programId, steps: versions }
  })
