/**
 * The OptimizationCoordinator: optimization jobs for the application's modules, run in the background by
 * supervised workers and hot-swapped into the ModuleManager only when they beat the version serving. A start
 * answers at once with the job's id; a request for the same compile as a live job is merged into it; jobs
 * survive a restart when their database is a file. `Application.layer` provides it; the design (the queue, the
 * dispatcher, the swap decision, restarts) is in `docs/architecture.md` ("Optimization path").
 *
 * @example
 * ```ts
 * import { Example } from "@effect-dspy/core"
 * import { Application, ModuleManager, OptimizationCoordinator } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const trainset = [
 *   Example.make({ question: "2 + 3?", answer: "5" }).withInputs("question"),
 *   Example.make({ question: "4 + 4?", answer: "8" }).withInputs("question")
 * ]
 *
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
 *   yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
 *   const { id } = yield* coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", trainset })
 *   const job = yield* coordinator.await(id)
 *   // "swapped" (and swapCurrent while its version serves) or "rejected" by the swap margin.
 *   return [job.status, job.swapCurrent] as const
 * }).pipe(Effect.provide(Application.layerDefault()))
 *
 * Effect.runPromise(program).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import { type Example, LM } from "@effect-dspy/core"
import { Config, type ConfigSchema, Events, type Tenant } from "@effect-dspy/foundation"
import { Checkpoint, type Budget, type Optimizer, type Progress } from "@effect-dspy/optimizers"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import { Application } from "./internal/application.js"
import * as coordinator from "./internal/coordinator/coordinator.js"
import * as jobs from "./internal/coordinator/jobs.js"
import * as registry from "./internal/coordinator/registry.js"
import * as ModuleManager from "./ModuleManager.js"
import type {
  ModuleNotFound,
  OptimizationJobNotFound,
  OptimizationRequestInvalid,
  OptimizationStoreError
} from "./ServicesError.js"

// ---------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------

/**
 * A job's status: `queued` and `running` are live; `succeeded` is a finished compile whose swap decision is
 * pending; `swapped` / `rejected` say what the decision was; `failed` and `cancelled` are the other ends.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "swapped" | "rejected"

/**
 * The statuses a job ends in.
 *
 * @since 0.1.0
 * @category constants
 */
export const terminalStatuses: ReadonlyArray<Status> = jobs.terminalStatuses

/**
 * A request to optimize a module.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartRequest {
  readonly moduleId: string
  /** An optimizer's name in the coordinator's registry (default registry: {@link defaultOptimizers}). */
  readonly optimizer: string
  readonly trainset: ReadonlyArray<Example.Any>
  /** Where the swap decision is scored (default: the trainset). */
  readonly valset?: ReadonlyArray<Example.Any>
  /** A metric's name in the coordinator's registry (default `exact_match`). */
  readonly metric?: string
  /** Higher runs first (default 0). */
  readonly priority?: number
  /** LM calls, cost and wall-clock limits (`maxWallMs`; default: config `optimization.maxWallMs`, if set). */
  readonly budget?: Budget.Limits
  /** The compile's seed (default 0). */
  readonly seed?: number
}

/**
 * What `start` answers: the job's id, and whether the request was merged into an existing job.
 *
 * @since 0.1.0
 * @category models
 */
export interface Started {
  readonly id: string
  readonly merged: boolean
}

/**
 * A job's progress counters (from the optimizer's progress events of this coordinator's run).
 *
 * @since 0.1.0
 * @category models
 */
export interface JobProgress {
  readonly steps: number
  readonly resumedSteps: number
  readonly trials: number
  readonly bestScore: number | undefined
  readonly lmCalls: number
}

/**
 * A job as `status` reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly id: string
  readonly moduleId: string
  /**
   * The module version the job optimizes, as numbered by the ModuleManager of the application that started it
   * (or re-based it after a restart).
   */
  readonly moduleVersion: number
  readonly optimizer: string
  readonly metric: string
  readonly priority: number
  readonly status: Status
  /** The serving version's score on the valset when the decision was made. */
  readonly servingScore: number | undefined
  /** The optimized program's score on the valset. */
  readonly optimizedScore: number | undefined
  /**
   * The module version serving when the decision was made: what the scores compared against and a swap replaced
   * (after a swap conflict, the version the job re-scored and decided against).
   */
  readonly servingVersion: number | undefined
  /** The module version the swap made (numbered by the ModuleManager of the application that swapped it). */
  readonly swappedVersion: number | undefined
  /**
   * For a `swapped` job, whether its swap is what serves now: false once another change replaced it (a later swap
   * or rollback) and for a swap made before the application restarted (module versions do not survive a
   * restart); a request for the same compile then runs as a new job instead of being merged. Undefined for other
   * statuses.
   */
  readonly swapCurrent: boolean | undefined
  readonly error: string | undefined
  readonly createdAt: number
  readonly startedAt: number | undefined
  readonly finishedAt: number | undefined
  readonly progress: JobProgress
}

/**
 * An element of a job's progress stream: an optimizer progress event, or the job's new status.
 *
 * @since 0.1.0
 * @category models
 */
export type Update =
  | { readonly _tag: "Progress"; readonly event: Progress.Event }
  | { readonly _tag: "Status"; readonly job: Job }

/**
 * An optimizer in a registry: fixed, or made from the configuration in force when a job is queued (or
 * recovered), as the defaults with settings in Config are.
 *
 * @since 0.1.0
 * @category models
 */
export type OptimizerEntry = Optimizer.Optimizer | ((config: ConfigSchema.DSPyConfig) => Optimizer.Optimizer)

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The job database (default `":memory:"`: jobs do not survive the process). */
  readonly filename?: string
  /** Optimizers by name (default {@link defaultOptimizers}). */
  readonly optimizers?: { readonly [name: string]: OptimizerEntry }
  /** Metrics by name (default {@link defaultMetrics}). */
  readonly metrics?: { readonly [name: string]: Optimizer.Metric }
}

// ---------------------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------------------

/**
 * The OptimizationCoordinator service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Queues a job (or merges the request into its twin) and answers at once. */
  readonly start: (
    request: StartRequest
  ) => Effect.Effect<
    Started,
    OptimizationRequestInvalid | ModuleNotFound | OptimizationStoreError | Tenant.TenantLimitExceeded
  >
  /** A job now. */
  readonly status: (id: string) => Effect.Effect<Job, OptimizationJobNotFound>
  /** Every job, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<Job>>
  /**
   * The job's updates from its start (its statuses, the optimizer's `Started` event and every step and trial so
   * far, replayed), then live ones as they happen, ending after its final status. A job that finished in an
   * earlier coordinator (read back from the database) streams its final status only.
   */
  readonly progress: (id: string) => Stream.Stream<Update, OptimizationJobNotFound>
  /** Waits for the job to end and returns it (as it is then). */
  readonly await: (id: string) => Effect.Effect<Job, OptimizationJobNotFound>
  /** Stops a queued or running job (`cancelled`); a finished job is returned as it is. */
  readonly cancel: (id: string) => Effect.Effect<Job, OptimizationJobNotFound | OptimizationStoreError>
  /** How many workers may run jobs now (Config `optimization.workers`), and how many do. */
  readonly workers: Effect.Effect<{ readonly limit: number; readonly running: number; readonly queued: number }>
}

/**
 * The OptimizationCoordinator service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class OptimizationCoordinator extends Context.Tag("@effect-dspy/services/OptimizationCoordinator")<
  OptimizationCoordinator,
  Service
>() {}

/**
 * How many times a job's swap decision is made when the module keeps changing under it (each
 * `ModuleVersionConflict` re-scores the version serving now and decides again); then the job ends `rejected`.
 *
 * @since 0.1.0
 * @category constants
 */
export const swapAttempts: number = jobs.swapAttempts

/**
 * The default optimizers by name. `bootstrap_few_shot` takes its settings from Config `optimization.bootstrap`
 * and `copro` from `optimization.copro`, as in force when a job is queued; the others use their defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultOptimizers: () => { readonly [name: string]: OptimizerEntry } = registry.defaultOptimizers

/**
 * The default metrics by name.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMetrics: () => { readonly [name: string]: Optimizer.Metric } = registry.defaultMetrics

/**
 * The registry name of the coordinator's dispatcher process in an application.
 *
 * @since 0.1.0
 * @category constants
 */
export const actorName = "dspy/optimization_coordinator"

// ---------------------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------------------

/**
 * Builds a coordinator in the current scope over a running application (its own job database and registries;
 * its workers run under the application's `optimization_workers`). The scope's end stops the workers without
 * changing the jobs' rows, so they resume in the next coordinator on the same database.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  Service,
  OptimizationStoreError,
  Application | ModuleManager.ModuleManager | LM.LM | Config.Config | Events.Events | Scope.Scope
> =>
  Effect.gen(function* () {
    const app = yield* Application
    const checkpoints = yield* Effect.serviceOption(Checkpoint.CheckpointStore)
    return yield* coordinator.makeWith(
      {
        optimizationWorkers: app.optimizationWorkers,
        modules: yield* ModuleManager.ModuleManager,
        lm: yield* LM.LM,
        config: yield* Config.Config,
        events: yield* Events.Events,
        ...(Option.isSome(checkpoints) ? { checkpoints: checkpoints.value } : {})
      },
      options
    )
  })

/**
 * A coordinator as a layer over a running application (`Application.layer` or `TestRuntime.layer`), Config and
 * Events; a `CheckpointStore` in context is where jobs keep their finished units (in memory otherwise).
 * `Application.layer` already provides one (configured by its `optimization.coordinator` option); this layer
 * adds one with its own options (its own database, registries), e.g. over `TestRuntime.layer`, whose workers
 * also run under the application's `optimization_workers`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  OptimizationCoordinator,
  OptimizationStoreError,
  Application | ModuleManager.ModuleManager | LM.LM | Config.Config | Events.Events
> => Layer.scoped(OptimizationCoordinator, make(options))
