/**
 * The OptimizationCoordinator: optimization jobs for the application's modules, run in the background and
 * hot-swapped into the ModuleManager when they pay off.
 *
 * - {@link Service.start} takes plain data (a module id, an optimizer and a metric by name, the trainset and
 *   valset, a priority, a budget) and answers at once with the job's id. A request for the same module and
 *   student program (the state of its serving version), optimizer and settings, data, metric, seed and budget
 *   as a job that is queued, running or done is merged into it (`merged: true`): it is never run twice.
 * - Jobs wait in a priority queue (highest `priority` first, then first come) feeding `optimization.workers`
 *   workers (Config, re-read live: a change takes effect at once for starts; running jobs are never cut).
 *   Each running job is a worker process under the application's `optimization_workers` dynamic supervisor,
 *   and its LM work is bounded by `optimization.concurrency` (Optimizer.compile reads it). Module
 *   executions never wait for optimization: they run in their callers' fibers.
 * - Jobs are rows of a SQLite table (`filename`, in memory by default). Each runs `Optimizer.compile` with
 *   `runId` = the job id and the `CheckpointStore` in context (in memory when none is given), so a coordinator
 *   restarted on the same database and checkpoint store re-queues the jobs that were queued or running, and
 *   they resume without repeating their finished units (a recovered job waits until its module is registered
 *   again, as an application does at start).
 * - When a compile finishes, the version serving then and the optimized program are scored with `Evaluate` on
 *   the valset (the trainset when none was given); the optimized one is swapped in (on top of the serving
 *   version) only if it gains at least `optimization.swapMargin` points (Evaluate's 0-100 scale): status
 *   `swapped` and event `optimization_swapped`, else `rejected` and `optimization_rejected`. The job records
 *   the serving version it compared against (`servingVersion`) and the version its swap made (`swappedVersion`).
 * - The swap is a compare-and-swap: `ModuleManager.swap` with `ifVersion` = the serving version that was scored,
 *   checked by the ModuleManager actor atomically with the swap. A change that lands between the scoring and the
 *   swap (a manual swap or rollback, another job's swap) is never overwritten silently: the swap fails with
 *   `ModuleVersionConflict`, the job publishes `optimization_swap_conflict` (expected and actual versions), scores
 *   the version serving now and decides again against it (the optimized program is scored once). After
 *   {@link swapAttempts} conflicts in a row the job ends `rejected` with an error saying why; `servingVersion` /
 *   `servingScore` are always the pair the last decision compared.
 * - Restarts of the whole application: the ModuleManager keeps its versions in memory, so a restarted one numbers
 *   a re-registered module from version 1 again, and a job's `moduleVersion` (the version it started from, say 2
 *   after an earlier swap) may not exist or may be another program. So a job identifies its student by its
 *   state (`Module.dumpState`, saved with the job at start), not by its version number: a recovered job loads
 *   that state into the module serving now and compiles the same student as before the restart (resuming from
 *   its checkpoints, whose namespace fingerprints the student); then, like any job, it is scored against the
 *   version serving at the end and swapped on top of it. When the saved state does not fit the re-registered
 *   module (it has another shape), the job re-bases: it optimizes the serving version from the start (its old
 *   checkpoints do not match), its `moduleVersion` becomes that version, and `optimization_rebased` says why.
 *   Requests are merged by student state too, so a restarted service that starts its optimization again is
 *   merged into the recovered job.
 * - {@link Service.progress} streams a job's progress (the optimizer's events, then the job's final status);
 *   {@link Service.cancel} stops a queued or running job (`cancelled`).
 *
 * - Supervision: which jobs start when is decided by one process, the dispatcher (`optimization_coordinator` in
 *   the application's tree, registered as {@link actorName}): a start, a cancel, a job's end, a module registered
 *   and a change of `optimization.workers` each ask it to fill free workers. Its state (the queue, the jobs) lives
 *   with the coordinator, not in the process, so when it is killed its supervisor restarts it and it catches up at
 *   once (its `init` fills free workers); jobs running meanwhile are not touched. Asked while it is down, the
 *   request fills workers itself (the queue is locked), so a start never waits for a restart.
 *
 * Events: `optimization_queued`, `optimization_cancelled`, `optimization_swapped`, `optimization_rejected`
 * (`reason`: `margin`, or `swap_conflicts`), `optimization_swap_conflict` (a swap found the module changed),
 * `optimization_rebased` (a recovered job's saved student no longer fits its module), and
 * `optimization_worker_unavailable` (a job ran without a worker process: the supervisor was down or full);
 * `Optimizer.compile` adds `optimization_started` / `_iteration` / `_completed` / `_failed` under the job id.
 * Each job's LM work is bounded by `optimization.concurrency`, so at most `workers x concurrency` in all.
 *
 * @since 0.1.0
 */
import { Evaluate, Example, LM, Module } from "@effect-dspy/core"
import { Config, Errors, Events } from "@effect-dspy/foundation"
import {
  AdaptiveOptimizer,
  BootstrapFewShot,
  type Budget,
  Checkpoint,
  COPRO,
  GEPA,
  MIPROv2,
  Optimizer,
  type Progress,
  SIMBA
} from "@effect-dspy/optimizers"
import { Actor, DynamicSupervisor, type Process, type RuntimeError } from "@effect-dspy/runtime"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createHash, randomUUID } from "node:crypto"
import * as Application from "./Application.js"
import { type JobRow, type JobStatus, type JobStore, open } from "./internal/coordinatorStore.js"
import * as ModuleManager from "./ModuleManager.js"

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
export type Status = JobStatus

/**
 * The statuses a job ends in.
 *
 * @since 0.1.0
 * @category constants
 */
export const terminalStatuses: ReadonlyArray<Status> = ["failed", "cancelled", "swapped", "rejected"]

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
   * (or re-based it: see the module documentation on restarts).
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
  /** The module version the swap made. */
  readonly swappedVersion: number | undefined
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
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The job database (default `":memory:"`: jobs do not survive the process). */
  readonly filename?: string
  /** Optimizers by name (default {@link defaultOptimizers}). */
  readonly optimizers?: { readonly [name: string]: Optimizer.Optimizer }
  /** Metrics by name (default {@link defaultMetrics}). */
  readonly metrics?: { readonly [name: string]: Optimizer.Metric }
}

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/**
 * A start request cannot be used (unknown optimizer or metric, empty trainset); `field` names the part.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationRequestInvalid extends Errors.TaggedError<OptimizationRequestInvalid>()(
  "OptimizationRequestInvalid",
  { field: Schema.String },
  { code: "optimization_request_invalid", retryable: false }
) {}

/**
 * No job has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationJobNotFound extends Errors.TaggedError<OptimizationJobNotFound>()(
  "OptimizationJobNotFound",
  { jobId: Schema.String },
  { code: "optimization_job_not_found", retryable: false }
) {}

/**
 * The job database failed (open, read or write).
 *
 * @since 0.1.0
 * @category errors
 */
export class OptimizationStoreError extends Errors.TaggedError<OptimizationStoreError>()(
  "OptimizationStoreError",
  { operation: Schema.String },
  { code: "optimization_store_error", retryable: true }
) {}

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
  ) => Effect.Effect<Started, OptimizationRequestInvalid | ModuleManager.ModuleNotFound | OptimizationStoreError>
  /** A job now. */
  readonly status: (id: string) => Effect.Effect<Job, OptimizationJobNotFound>
  /** Every job, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<Job>>
  /** The job's updates from now on, ending after its final status (at once with it for a finished job). */
  readonly progress: (id: string) => Stream.Stream<Update, OptimizationJobNotFound>
  /** Waits for the job to end and returns it. */
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
export const swapAttempts = 3

/**
 * The default optimizers by name, with their default settings.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultOptimizers = (): { readonly [name: string]: Optimizer.Optimizer } => ({
  bootstrap_few_shot: BootstrapFewShot.make(),
  mipro_v2: MIPROv2.make(),
  copro: COPRO.make(),
  simba: SIMBA.make(),
  gepa: GEPA.make({ auto: "light" }),
  adaptive: AdaptiveOptimizer.make()
})

/**
 * The default metrics by name.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMetrics = (): { readonly [name: string]: Optimizer.Metric } => ({
  exact_match: Evaluate.answerExactMatch
})

// ---------------------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------------------

interface Live {
  row: JobRow
  readonly trainset: ReadonlyArray<Example.Any>
  readonly valset: ReadonlyArray<Example.Any> | undefined
  readonly budget: Budget.Limits | undefined
  readonly updates: PubSub.PubSub<Update>
  readonly done: Deferred.Deferred<Job>
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  worker: Process.Process | undefined
  cancelRequested: boolean
  /** Read back from the database at start: it waits for its module to be registered (an application's start). */
  readonly recovered: boolean
  progress: JobProgress
}

const emptyProgress: JobProgress = { steps: 0, resumedSteps: 0, trials: 0, bestScore: undefined, lmCalls: 0 }

const isTerminal = (status: Status): boolean => terminalStatuses.includes(status)

const toJob = (live: Live): Job => {
  const r = live.row
  return {
    id: r.id,
    moduleId: r.moduleId,
    moduleVersion: r.moduleVersion,
    optimizer: r.optimizer,
    metric: r.metric,
    priority: r.priority,
    status: r.status,
    servingScore: r.servingScore ?? undefined,
    optimizedScore: r.optimizedScore ?? undefined,
    servingVersion: r.servingVersion ?? undefined,
    swappedVersion: r.swappedVersion ?? undefined,
    error: r.error ?? undefined,
    createdAt: r.createdAt,
    startedAt: r.startedAt ?? undefined,
    finishedAt: r.finishedAt ?? undefined,
    progress: live.progress
  }
}

const canonical = (u: unknown): string => {
  if (u === null || typeof u !== "object") return JSON.stringify(u ?? null)
  if (Array.isArray(u)) return `[${u.map(canonical).join(",")}]`
  const record = u as { readonly [key: string]: unknown }
  return `{${Object.keys(record)
    .sort()
    .filter((k) => record[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`)
    .join(",")}}`
}

/**
 * A job's dedupe key: what makes two requests the same compile (the module, the student program's state, the
 * optimizer and its settings, the data, metric, seed and budget). The student is its state, not its version
 * number: versions are numbered per application, and equal states compile alike.
 */
const dedupeKeyOf = (input: {
  readonly moduleId: string
  readonly student: Module.ProgramState
  readonly optimizer: string
  readonly settings: unknown
  readonly data: unknown
  readonly metric: string
  readonly seed: number
  readonly budget: unknown
}): string => createHash("sha256").update(canonical(input)).digest("hex")

/** The job worker: a process under `optimization_workers` that owns the job's fiber while it runs. */
const workerActor = Actor.make({
  name: "optimization_job",
  init: (args: { readonly fiber: Fiber.RuntimeFiber<void, never> }) => Effect.succeed(args),
  terminate: (_reason, state) => Effect.asVoid(Fiber.interrupt(state.fiber))
})

/** Whether a job is a twin of the request: same dedupe key and not given up. */
const mergeable = (live: Live, key: string): boolean =>
  live.row.dedupeKey === key && live.row.status !== "failed" && live.row.status !== "cancelled"

/**
 * The registry name of the coordinator's dispatcher process in an application.
 *
 * @since 0.1.0
 * @category constants
 */
export const actorName = "dspy/optimization_coordinator"

/**
 * Where the dispatcher process and the coordinator meet: the coordinator installs its `pump` (fill free workers
 * from the queue), the process records itself in `ref` when it starts. Made before the application's tree, so
 * the process can be a child of the root while the coordinator is built after the tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dispatcher {
  pump: Effect.Effect<void> | undefined
  ref: Actor.ActorRef<DispatcherCall, void, DispatcherCast> | undefined
}

/**
 * The dispatcher's call: fill free workers, answering when done.
 *
 * @since 0.1.0
 * @category models
 */
export type DispatcherCall = { readonly _tag: "Dispatch" }

/**
 * The dispatcher's cast: fill free workers, no answer.
 *
 * @since 0.1.0
 * @category models
 */
export type DispatcherCast = { readonly _tag: "Wake" }

/**
 * An empty dispatcher slot (no coordinator, no process yet).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDispatcher = (): Dispatcher => ({ pump: undefined, ref: undefined })

// A pump started is finished: a kill in the middle must not leave a job launched without its worker.
const pumpOf = (dispatcher: Dispatcher): Effect.Effect<void> =>
  dispatcher.pump === undefined ? Effect.void : Effect.uninterruptible(dispatcher.pump)

/**
 * The dispatcher process: fills free workers when asked, and once when it starts (catching up after a restart).
 *
 * @since 0.1.0
 * @category actors
 */
export const dispatcherActor = Actor.make({
  name: "optimization_coordinator",
  init: (dispatcher: Dispatcher, self: Actor.ActorRef<DispatcherCall, void, DispatcherCast>) =>
    Effect.suspend(() => {
      dispatcher.ref = self
      return Effect.as(pumpOf(dispatcher), dispatcher)
    }),
  handleCall: (_msg: DispatcherCall, dispatcher: Dispatcher) =>
    Effect.as(pumpOf(dispatcher), Actor.reply<void, Dispatcher>(undefined, dispatcher)),
  handleCast: (_msg: DispatcherCast, dispatcher: Dispatcher) => Effect.as(pumpOf(dispatcher), dispatcher)
})

/**
 * Spawns the dispatcher process over a slot (a supervisor's child start).
 *
 * @since 0.1.0
 * @category actors
 */
export const startDispatcher = (
  dispatcher: Dispatcher
): Effect.Effect<Actor.ActorRef<DispatcherCall, void, DispatcherCast>, RuntimeError.InvalidOptions> =>
  Actor.spawn(dispatcherActor, dispatcher)

const liveRef = (dispatcher: Dispatcher) => {
  const ref = dispatcher.ref
  return ref !== undefined && ref.unsafeExitReason() === undefined ? ref : undefined
}

/**
 * What the coordinator works with: the application's optimization workers' supervisor, modules, LM, Config,
 * Events, and the checkpoint store (in memory when absent).
 *
 * @since 0.1.0
 * @category models
 */
export interface Dependencies {
  readonly optimizationWorkers: Effect.Effect<DynamicSupervisor.DynamicSupervisorRef, RuntimeError.NoProc>
  readonly modules: ModuleManager.Service
  readonly lm: LM.Service
  readonly config: Config.Service
  readonly events: Events.Service
  readonly checkpoints?: Checkpoint.Service
  /** The application's dispatcher process slot; without one, the coordinator starts its own dispatcher process. */
  readonly dispatcher?: Dispatcher
}

/**
 * Builds the coordinator in the current scope over the application's services (the scope's end stops the
 * workers without changing the jobs' rows, so they resume in the next coordinator on the same database).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  Service,
  OptimizationStoreError,
  Application.Application | ModuleManager.ModuleManager | LM.LM | Config.Config | Events.Events | Scope.Scope
> =>
  Effect.gen(function* () {
    const app = yield* Application.Application
    const checkpoints = yield* Effect.serviceOption(Checkpoint.CheckpointStore)
    return yield* makeWith(
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
 * Builds the coordinator in the current scope over explicit dependencies (`Application.layer` does this).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (
  deps: Dependencies,
  options: Options = {}
): Effect.Effect<Service, OptimizationStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const app = { optimizationWorkers: deps.optimizationWorkers }
    const { modules, lm, config, events } = deps
    const checkpoints = deps.checkpoints ?? Checkpoint.makeMemory()
    const optimizers = options.optimizers ?? defaultOptimizers()
    const metrics = options.metrics ?? defaultMetrics()
    const store: JobStore = yield* Effect.mapError(
      open(options.filename ?? ":memory:"),
      (reason) =>
        new OptimizationStoreError({
          operation: "open",
          message: `Could not open the optimization job database ${options.filename ?? ":memory:"}: ${reason}. Check the path and permissions.`
        })
    )
    const storeError = (operation: string) => (reason: string) =>
      new OptimizationStoreError({
        operation,
        message: `The optimization job database failed to ${operation}: ${reason}`
      })

    const jobs = new Map<string, Live>()
    const queue: Array<Live> = []
    const running = new Set<Live>()
    const lock = yield* Effect.makeSemaphore(1)
    let workers = (yield* config.current).optimization.workers
    let seq = 0
    let closing = false
    // The jobs' fibers live in a scope of their own, closed before the store; and first of all, no new starts.
    const jobScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    yield* Effect.addFinalizer(() => Effect.sync(() => (closing = true)))

    const runContext = Context.make(LM.LM, lm).pipe(
      Context.add(Config.Config, config),
      Context.add(Events.Events, events),
      Context.add(Checkpoint.CheckpointStore, checkpoints)
    )

    const publish = (type: string, data: { readonly [key: string]: unknown }) =>
      events.publish({ type, data }).pipe(
        Effect.asVoid,
        Effect.catchAll((e) => Effect.logWarning(`could not record the ${type} event: ${e.message}`))
      )

    const now = Effect.clockWith((clock) => clock.currentTimeMillis)

    /** Writes a patch to the row (memory and database) and tells the job's subscribers. */
    const patch = (live: Live, changes: Partial<Omit<JobRow, "id">>): Effect.Effect<void> =>
      Effect.gen(function* () {
        live.row = { ...live.row, ...changes }
        yield* store
          .update(live.row.id, changes)
          .pipe(Effect.catchAll((reason) => Effect.logError(`optimization job ${live.row.id}: ${reason}`)))
        const job = toJob(live)
        yield* PubSub.publish(live.updates, { _tag: "Status", job })
        if (isTerminal(job.status)) yield* Deferred.succeed(live.done, job)
      })

    const finish = (live: Live, changes: Partial<Omit<JobRow, "id">>) =>
      Effect.flatMap(now, (finishedAt) => patch(live, { ...changes, finishedAt }))

    const insertQueued = (live: Live) => {
      queue.push(live)
      queue.sort((a, b) => b.row.priority - a.row.priority || a.row.seq - b.row.seq)
    }

    const onProgress = (live: Live) => (event: Progress.Event) =>
      Effect.suspend(() => {
        const p = live.progress
        switch (event._tag) {
          case "Step":
            live.progress = event.resumed
              ? { ...p, resumedSteps: p.resumedSteps + 1 }
              : { ...p, steps: p.steps + 1, lmCalls: event.lmCalls }
            break
          case "Trial":
            live.progress = { ...p, trials: p.trials + 1, bestScore: event.bestScore }
            break
        }
        return Effect.asVoid(PubSub.publish(live.updates, { _tag: "Progress", event }))
      })

    const score = (program: Parameters<typeof Optimizer.callProgram>[0], live: Live) =>
      Effect.map(
        Evaluate.run({
          devset: live.valset ?? live.trainset,
          program: (example: Example.Any) => Optimizer.callProgram(program, example),
          metric: metrics[live.row.metric]!,
          keepResults: false
        }),
        (result) => result.score
      )

    /**
     * The program a job optimizes. A job started in this coordinator takes its module version. A recovered one
     * cannot trust version numbers (the restarted ModuleManager numbers its versions from 1 again): it loads the
     * state it saved at start into the module serving now, so it compiles the same student as before the restart
     * (and resumes from its checkpoints). When that state does not fit the module (another shape) or was never
     * saved, the job re-bases on the serving version: recorded on the row and in `optimization_rebased`.
     */
    const studentOf = (live: Live) =>
      Effect.gen(function* () {
        const row = live.row
        if (!live.recovered) return yield* modules.program(row.moduleId, row.moduleVersion)
        const info = yield* modules.describe(row.moduleId)
        const serving = yield* modules.program(row.moduleId, info.version)
        const restored =
          row.studentState === null
            ? Either.left("the job has no saved student state (it was queued by an older coordinator)")
            : Either.mapLeft(
                Module.loadState(serving, JSON.parse(row.studentState) as unknown),
                (e) => `its saved student does not fit the module: ${e.message}`
              )
        if (Either.isRight(restored)) return restored.right
        const student = Module.dumpState(serving)
        const dedupeKey = dedupeKeyOf({
          moduleId: row.moduleId,
          student,
          optimizer: row.optimizer,
          settings: optimizers[row.optimizer]!.settings,
          data: JSON.parse(row.data) as unknown,
          metric: row.metric,
          seed: row.seed,
          budget: JSON.parse(row.budget) as unknown
        })
        yield* patch(live, { moduleVersion: info.version, studentState: JSON.stringify(student), dedupeKey })
        yield* publish("optimization_rebased", {
          optimization_id: row.id,
          module_id: row.moduleId,
          from_version: row.moduleVersion,
          to_version: info.version,
          reason: restored.left
        })
        return serving
      })

    /** The job's work: compile (resuming from checkpoints), score against the version serving now, decide. */
    const work = (live: Live) =>
      Effect.gen(function* () {
        const student = yield* studentOf(live)
        const row = live.row
        const compiled = yield* Optimizer.compile(optimizers[row.optimizer]!, student, {
          trainset: live.trainset,
          ...(live.valset === undefined ? {} : { valset: live.valset }),
          metric: metrics[row.metric]!,
          seed: row.seed,
          runId: row.id,
          ...(live.budget === undefined ? {} : { budget: live.budget }),
          onProgress: onProgress(live)
        })
        yield* patch(live, { status: "succeeded" })
        yield* decide(live, compiled.program)
      }).pipe(Effect.provide(runContext))

    /**
     * The swap decision: score the version serving now against the optimized program and, if it gains the
     * margin, swap it in with `ifVersion` = that version (compare-and-swap). A change that landed meanwhile (a
     * manual swap, another job's) is a `ModuleVersionConflict`: recorded (`optimization_swap_conflict`), then
     * the version serving now is scored and the decision made again, at most {@link swapAttempts} times.
     */
    const decide = (live: Live, optimized: Module.Program) =>
      Effect.gen(function* () {
        const row = live.row
        let optimizedScore: number | undefined
        for (let attempt = 1; ; attempt++) {
          const servingVersion = (yield* modules.describe(row.moduleId)).version
          const serving = yield* modules.program(row.moduleId, servingVersion)
          const servingScore = yield* score(serving, live)
          // The optimized program's score does not depend on what serves: scored once.
          if (optimizedScore === undefined) optimizedScore = yield* score(optimized, live)
          const optimizedValue = optimizedScore
          const margin = (yield* config.current).optimization.swapMargin
          const gain = optimizedValue - servingScore
          const scores = { servingScore, optimizedScore: optimizedValue, servingVersion }
          const data = {
            optimization_id: row.id,
            module_id: row.moduleId,
            serving_score: servingScore,
            optimized_score: optimizedValue,
            serving_version: servingVersion,
            gain,
            margin,
            attempt
          }
          if (gain < margin) {
            yield* finish(live, { status: "rejected", ...scores })
            yield* publish("optimization_rejected", { ...data, reason: "margin" })
            return
          }
          const swapped = yield* Effect.either(
            modules.swap(row.moduleId, { program: optimized, ifVersion: servingVersion })
          )
          if (Either.isRight(swapped)) {
            yield* finish(live, { status: "swapped", ...scores, swappedVersion: swapped.right.version })
            yield* publish("optimization_swapped", { ...data, version: swapped.right.version })
            return
          }
          const error = swapped.left
          if (error._tag !== "ModuleVersionConflict") return yield* error
          yield* publish("optimization_swap_conflict", {
            optimization_id: row.id,
            module_id: row.moduleId,
            expected_version: error.expected,
            actual_version: error.actual,
            attempt,
            max_attempts: swapAttempts
          })
          if (attempt >= swapAttempts) {
            const message = `Not swapped: module "${row.moduleId}" changed under the decision ${attempt} times in a row (last: version ${error.expected} was scored, version ${error.actual} was serving at the swap). The module is being changed too often for a safe swap; start the optimization again once it settles.`
            yield* finish(live, { status: "rejected", ...scores, error: message })
            yield* publish("optimization_rejected", {
              ...data,
              reason: "swap_conflicts",
              current_version: error.actual,
              error: message
            })
            return
          }
        }
      })

    const requeue = (live: Live): Effect.Effect<void> =>
      Effect.zipRight(patch(live, { status: "queued" }), lock.withPermits(1)(Effect.sync(() => insertQueued(live))))

    /** The job's fiber: its work, its end (failed, or cancelled when asked), then the next start. */
    const runJob = (live: Live): Effect.Effect<void> =>
      work(live).pipe(
        // onExit, not a catch: an interrupted fiber runs finalizers only.
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Effect.void
            : Cause.isInterruptedOnly(exit.cause)
              ? live.cancelRequested
                ? Effect.zipRight(
                    finish(live, { status: "cancelled" }),
                    publish("optimization_cancelled", { optimization_id: live.row.id, module_id: live.row.moduleId })
                  )
                : closing
                  ? Effect.void // stays queued/running in the database: the next coordinator resumes it
                  : requeue(live) // its worker was killed (or its supervisor restarted): run it again, from checkpoints
              : finish(live, { status: "failed", error: Optimizer.describeError(Cause.squash(exit.cause)) })
        ),
        Effect.catchAllCause(() => Effect.void),
        Effect.ensuring(
          Effect.suspend(() => {
            running.delete(live)
            live.fiber = undefined
            // Not `pump` here: a fiber ending by interruption must not start workers (their start would inherit it).
            return wake
          })
        )
      )

    /** Starts one job: its fiber in the coordinator's scope, owned by a worker under `optimization_workers`. */
    const launch = (live: Live): Effect.Effect<void> =>
      Effect.gen(function* () {
        running.add(live)
        live.progress = emptyProgress
        yield* patch(live, { status: "running", startedAt: yield* now })
        // Interruptible whatever the caller (the dispatcher process fills workers uninterruptibly).
        const fiber = yield* Effect.forkIn(Effect.interruptible(runJob(live)), jobScope)
        live.fiber = fiber
        const supervisor = yield* Effect.either(app.optimizationWorkers)
        if (supervisor._tag === "Left") {
          // Recorded, not hidden: the job still runs (in the coordinator's scope), without a worker process.
          yield* publish("optimization_worker_unavailable", {
            optimization_id: live.row.id,
            reason: supervisor.left.message
          })
          return
        }
        const worker = yield* Effect.either(
          DynamicSupervisor.startChild(
            supervisor.right,
            DynamicSupervisor.child(Actor.spawn(workerActor, { fiber }), {
              restart: "temporary",
              id: `job:${live.row.id}`
            })
          )
        )
        if (worker._tag === "Left") {
          yield* publish("optimization_worker_unavailable", {
            optimization_id: live.row.id,
            reason: worker.left.message
          })
          return
        }
        live.worker = worker.right
        // Linked: the worker lives as long as its job, and a worker killed (no cleanup) takes its job down too.
        fiber.addObserver(() => worker.right.unsafeRequestStop({ _tag: "Normal" }))
        worker.right.unsafeAddExitListener(() => fiber.unsafeInterruptAsFork(FiberId.none))
      })

    /** Fills free workers from the queue; a recovered job waits until its module is registered again. */
    const pump: Effect.Effect<void> = lock.withPermits(1)(
      Effect.gen(function* () {
        let index = 0
        while (!closing && running.size < workers && index < queue.length) {
          const next = queue[index]!
          if (next.recovered && Either.isLeft(yield* Effect.either(modules.describe(next.row.moduleId)))) {
            index++
            continue
          }
          queue.splice(index, 1)
          yield* launch(next)
        }
      })
    )

    // Workers are started by one dispatcher process: `wake` asks it to fill free workers, `dispatch` also waits.
    // In an application it is the tree's `optimization_coordinator`; standalone, one of this coordinator's own.
    const dispatcher = deps.dispatcher ?? makeDispatcher()
    dispatcher.pump = pump
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (dispatcher.pump === pump) dispatcher.pump = undefined
      })
    )
    // While the process is down (restarting), a fiber of the coordinator fills workers instead: never a wait.
    const wake: Effect.Effect<void> = Effect.suspend(() => {
      const ref = liveRef(dispatcher)
      return ref === undefined ? Effect.asVoid(Effect.forkIn(pump, jobScope)) : Actor.cast(ref, { _tag: "Wake" })
    })
    const dispatch: Effect.Effect<void> = Effect.suspend(() => {
      if (closing) return Effect.void
      const ref = liveRef(dispatcher)
      return ref === undefined ? pump : Effect.catchAll(Actor.call(ref, { _tag: "Dispatch" }, "30 seconds"), () => pump)
    })
    if (deps.dispatcher === undefined) yield* Effect.orDie(Actor.start(dispatcherActor, dispatcher))

    const find = (id: string) =>
      Effect.suspend(() => {
        const live = jobs.get(id)
        return live === undefined
          ? Effect.fail(
              new OptimizationJobNotFound({ jobId: id, message: `No optimization job "${id}"; list shows the jobs.` })
            )
          : Effect.succeed(live)
      })

    const newLive = (
      row: JobRow,
      data: {
        trainset: ReadonlyArray<Example.Any>
        valset?: ReadonlyArray<Example.Any> | undefined
        budget: Budget.Limits | undefined
        recovered: boolean
      }
    ) =>
      Effect.gen(function* () {
        const live: Live = {
          row,
          trainset: data.trainset,
          valset: data.valset,
          budget: data.budget,
          updates: yield* PubSub.unbounded<Update>(),
          done: yield* Deferred.make<Job>(),
          fiber: undefined,
          worker: undefined,
          cancelRequested: false,
          recovered: data.recovered,
          progress: emptyProgress
        }
        if (isTerminal(row.status)) yield* Deferred.succeed(live.done, toJob(live))
        return live
      })

    // Recovery: jobs queued, running or deciding when the last coordinator stopped are queued again.
    const rows = yield* Effect.mapError(store.all, storeError("read"))
    for (const row of rows) {
      seq = Math.max(seq, row.seq)
      const data = JSON.parse(row.data) as {
        readonly trainset: ReadonlyArray<Example.ExampleJson>
        readonly valset: ReadonlyArray<Example.ExampleJson> | null
      }
      const budget = JSON.parse(row.budget) as Budget.Limits | null
      const live = yield* newLive(row, {
        trainset: data.trainset.map(Example.fromJSON),
        valset: data.valset === null ? undefined : data.valset.map(Example.fromJSON),
        budget: budget ?? undefined,
        recovered: true
      })
      jobs.set(row.id, live)
      if (!isTerminal(row.status)) {
        if (row.status !== "queued") yield* patch(live, { status: "queued" })
        insertQueued(live)
      }
    }

    const invalid = (field: string, message: string) => new OptimizationRequestInvalid({ field, message })

    const start = (request: StartRequest) =>
      Effect.gen(function* () {
        const optimizer = optimizers[request.optimizer]
        if (optimizer === undefined) {
          return yield* invalid(
            "optimizer",
            `Unknown optimizer "${request.optimizer}"; use one of: ${Object.keys(optimizers).join(", ")}.`
          )
        }
        const metric = request.metric ?? "exact_match"
        if (metrics[metric] === undefined) {
          return yield* invalid("metric", `Unknown metric "${metric}"; use one of: ${Object.keys(metrics).join(", ")}.`)
        }
        if (request.trainset.length === 0) return yield* invalid("trainset", "The trainset is empty: give examples.")
        if (request.valset !== undefined && request.valset.length === 0) {
          return yield* invalid("valset", "The valset is empty: give examples or leave it out to use the trainset.")
        }
        const priority = request.priority ?? 0
        if (!Number.isFinite(priority)) return yield* invalid("priority", "The priority must be a finite number.")
        const info = yield* modules.describe(request.moduleId)
        const student = Module.dumpState(
          yield* Effect.catchTag(modules.program(info.id, info.version), "ModuleVersionNotFound", () =>
            // Only when the version was removed between the two reads (the module was removed and created again).
            Effect.fail(
              new ModuleManager.ModuleNotFound({
                moduleId: info.id,
                message: `Module "${info.id}" changed while the optimization was being queued; start it again.`
              })
            )
          )
        )
        const data = {
          trainset: request.trainset.map((e) => e.toJSON()),
          valset: request.valset === undefined ? null : request.valset.map((e) => e.toJSON())
        }
        const seed = request.seed ?? 0
        const dedupeKey = dedupeKeyOf({
          moduleId: info.id,
          student,
          optimizer: request.optimizer,
          settings: optimizer.settings,
          data,
          metric,
          seed,
          budget: request.budget ?? null
        })
        return yield* lock.withPermits(1)(
          Effect.gen(function* () {
            for (const live of jobs.values()) {
              if (mergeable(live, dedupeKey)) return { id: live.row.id, merged: true } satisfies Started
            }
            const row: JobRow = {
              id: `opt-${randomUUID()}`,
              dedupeKey,
              moduleId: info.id,
              moduleVersion: info.version,
              studentState: JSON.stringify(student),
              optimizer: request.optimizer,
              metric,
              priority,
              seq: ++seq,
              seed,
              data: JSON.stringify(data),
              budget: JSON.stringify(request.budget ?? null),
              status: "queued",
              servingScore: null,
              optimizedScore: null,
              servingVersion: null,
              swappedVersion: null,
              error: null,
              createdAt: yield* now,
              startedAt: null,
              finishedAt: null
            }
            yield* Effect.mapError(store.insert(row), storeError("insert"))
            const live = yield* newLive(row, {
              trainset: request.trainset,
              valset: request.valset,
              budget: request.budget,
              recovered: false
            })
            jobs.set(row.id, live)
            insertQueued(live)
            yield* publish("optimization_queued", {
              optimization_id: row.id,
              module_id: row.moduleId,
              module_version: row.moduleVersion,
              optimizer: row.optimizer,
              priority
            })
            return { id: row.id, merged: false } satisfies Started
          })
        )
      }).pipe(Effect.tap(() => dispatch))

    const cancel = (id: string) =>
      Effect.gen(function* () {
        const live = yield* find(id)
        const wasQueued = yield* lock.withPermits(1)(
          Effect.sync(() => {
            const index = queue.indexOf(live)
            if (index >= 0) queue.splice(index, 1)
            return index >= 0
          })
        )
        if (wasQueued) {
          yield* finish(live, { status: "cancelled" })
          yield* publish("optimization_cancelled", { optimization_id: id, module_id: live.row.moduleId })
          return toJob(live)
        }
        const fiber = live.fiber
        if (fiber !== undefined && !isTerminal(live.row.status)) {
          live.cancelRequested = true
          const worker = live.worker
          const supervisor = yield* Effect.either(app.optimizationWorkers)
          if (worker !== undefined && supervisor._tag === "Right") {
            // Through the supervisor, so the worker is gone from its children when this returns.
            yield* Effect.ignore(DynamicSupervisor.terminateChild(supervisor.right, worker))
          }
          yield* Fiber.interrupt(fiber)
        }
        return toJob(live)
      })

    // Live `optimization.workers`: a raise starts queued jobs at once; a cut lets running jobs finish.
    yield* config.watch("optimization.workers").pipe(
      Stream.runForEach((value) =>
        Effect.suspend(() => {
          if (typeof value === "number" && Number.isInteger(value) && value > 0) workers = value
          return wake
        })
      ),
      Effect.catchAll((e) => Effect.logError(`optimization.workers cannot be watched: ${e.message}`)),
      Effect.forkIn(jobScope)
    )
    // A module registered (again) may let a recovered job start.
    yield* events.subscribe(["module_created"]).pipe(
      Stream.runForEach(() => wake),
      Effect.forkIn(jobScope)
    )
    yield* dispatch

    const service: Service = {
      start,
      status: (id) => Effect.map(find(id), toJob),
      list: Effect.sync(() => Array.from(jobs.values(), toJob)),
      progress: (id) =>
        Stream.unwrapScoped(
          Effect.gen(function* () {
            const live = yield* find(id)
            const subscription = yield* PubSub.subscribe(live.updates)
            const stream: Stream.Stream<Update> = isTerminal(live.row.status)
              ? Stream.succeed<Update>({ _tag: "Status", job: toJob(live) })
              : Stream.fromQueue(subscription).pipe(
                  Stream.takeUntil((u) => u._tag === "Status" && isTerminal(u.job.status))
                )
            return stream
          })
        ),
      await: (id) => Effect.flatMap(find(id), (live) => Deferred.await(live.done)),
      cancel,
      workers: Effect.sync(() => ({ limit: workers, running: running.size, queued: queue.length }))
    }
    return service
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
  Application.Application | ModuleManager.ModuleManager | LM.LM | Config.Config | Events.Events
> => Layer.scoped(OptimizationCoordinator, make(options))
