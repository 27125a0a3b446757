/**
 * What every part of the coordinator works with: its dependencies, its job table, its registries, its state and
 * the scope its jobs run in; and the few writes every part makes (a row patched, a job finished, an event).
 */
import { LM } from "@effect-dspy/core"
import { Config, type ConfigSchema, Events } from "@effect-dspy/foundation"
import { Checkpoint, type Optimizer } from "@effect-dspy/optimizers"
import type { DynamicSupervisor, RuntimeError } from "@effect-dspy/runtime"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type * as ModuleManager from "../../ModuleManager.js"
import type * as ReleaseStore from "../../releases/ReleaseStore.js"
import type { Job, OptimizerEntry } from "../../OptimizationCoordinator.js"
import type { Dispatcher } from "./dispatcher.js"
import { isTerminal, type Live, record, toJob } from "./jobs.js"
import type { State } from "./state.js"
import type { JobRow, JobStore } from "./store.js"

/**
 * What the coordinator works with: the application's optimization workers' supervisor, modules, LM, Config,
 * Events, and the checkpoint store (in memory when absent).
 */
export interface Dependencies {
  readonly optimizationWorkers: Effect.Effect<DynamicSupervisor.DynamicSupervisorRef, RuntimeError.NoProc>
  readonly modules: ModuleManager.Service
  readonly lm: LM.Service
  readonly config: Config.Service
  readonly events: Events.Service
  readonly checkpoints?: Checkpoint.Service
  /** The job table to use (a PostgreSQL one); absent: the SQLite table at the options' `filename`. */
  readonly jobs?: JobStore
  /** The application's dispatcher process slot; without one, the coordinator starts its own dispatcher process. */
  readonly dispatcher?: Dispatcher
  /** Where optimization results are kept by what produced them (reused by an identical request); none: not kept. */
  readonly releases?: ReleaseStore.Service
  /**
   * The optimization breaker: why no LM call can succeed now (every provider's circuit is open), or `undefined`.
   * While it gives a reason, queued jobs wait (running ones go on); a breaker's state change wakes the dispatcher.
   */
  readonly providersFailing?: Effect.Effect<string | undefined>
}

export interface Env {
  readonly deps: Dependencies
  readonly store: JobStore
  readonly optimizers: { readonly [name: string]: OptimizerEntry }
  readonly metrics: { readonly [name: string]: Optimizer.Metric }
  readonly state: State
  /** Where the jobs' fibers run: closed before the job table, so rows stay as they were for the next coordinator. */
  readonly jobScope: Scope.Scope
  /** What a job's compile and scoring run with. */
  readonly runContext: Context.Context<LM.LM | Config.Config | Events.Events | Checkpoint.CheckpointStore>
}

export const makeRunContext = (deps: Dependencies): Env["runContext"] =>
  Context.make(LM.LM, deps.lm).pipe(
    Context.add(Config.Config, deps.config),
    Context.add(Events.Events, deps.events),
    Context.add(Checkpoint.CheckpointStore, deps.checkpoints ?? Checkpoint.makeMemory())
  )

/** The optimizer of an entry under a configuration. */
export const optimizerOf = (entry: OptimizerEntry, config: ConfigSchema.DSPyConfig): Optimizer.Optimizer =>
  typeof entry === "function" ? entry(config) : entry

export const now = Effect.clockWith((clock) => clock.currentTimeMillis)

/** The job's public view now (whether its swap is current is read from the module serving now). */
export const jobNow = (env: Env, live: Live): Effect.Effect<Job> =>
  Effect.suspend(() =>
    live.row.status !== "swapped"
      ? Effect.succeed(toJob(live, undefined))
      : Effect.map(Effect.either(env.deps.modules.describe(live.row.moduleId)), (info) =>
          toJob(live, Either.isRight(info) ? info.right.version : undefined)
        )
  )

/** Writes a patch to the row (memory and database) and tells the job's subscribers. */
export const patch = (env: Env, live: Live, changes: Partial<Omit<JobRow, "id">>): Effect.Effect<void> =>
  Effect.gen(function* () {
    live.row = { ...live.row, ...changes }
    yield* env.store
      .update(live.row.id, changes)
      .pipe(Effect.catchAll((reason) => Effect.logError(`optimization job ${live.row.id}: ${reason}`)))
    const job = yield* jobNow(env, live)
    yield* record(live, { _tag: "Status", job })
    if (isTerminal(job.status)) yield* Deferred.succeed(live.done, job)
  })

/** Patches the row with its end (`finishedAt` now). */
export const finish = (env: Env, live: Live, changes: Partial<Omit<JobRow, "id">>): Effect.Effect<void> =>
  Effect.flatMap(now, (finishedAt) => patch(env, live, { ...changes, finishedAt }))
