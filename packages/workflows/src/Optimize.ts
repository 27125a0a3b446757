/**
 * Optimization of a workflow's module steps through the application's OptimizationCoordinator: a step's
 * `optimization` block names the optimizer, its training data (a JSON Lines file next to the workflow, one object
 * of input and label fields a line) and the metric; the job runs under the coordinator's supervision and hot-swaps
 * the step's module when the result beats what serves. The step's `optimized` arm serves that promoted version.
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
import { Example } from "@effect-dspy/core"
import { OptimizationCoordinator, type ServicesError } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
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
  | ServicesError.OptimizationRequestInvalid
  | ServicesError.ModuleNotFound
  | ServicesError.OptimizationStoreError
  | ServicesError.OptimizationJobNotFound

/**
 * Options of a step's optimization (they override its `optimization` block).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly optimizer?: string
  readonly metric?: string
  /** Training examples (input and label fields); default: the block's `trainset` file. */
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
  WorkflowEngine | OptimizationCoordinator.OptimizationCoordinator
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
    const rows =
      options.trainset ??
      (block?.trainset === undefined
        ? yield* invalid(workflow, `${node.path}.optimization.trainset`, "no training data: give a trainset file")
        : yield* readTrainset(workflow, block.trainset, `${node.path}.optimization.trainset`))
    const inputs = node.signature?.inputs ?? []
    const trainset = rows.map((row) => Example.make(row).withInputs(...inputs))
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
  WorkflowEngine | OptimizationCoordinator.OptimizationCoordinator
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
