/**
 * The coordinator assembled: its job table opened and read back (recovery), its state, its runner connected to
 * the dispatcher, and the service's operations (start with merging, cancel, status, progress).
 */
import { Example, Module } from "@effect-dspy/core"
import type { Budget, Optimizer } from "@effect-dspy/optimizers"
import { Actor, DynamicSupervisor } from "@effect-dspy/runtime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Fiber from "effect/Fiber"
import * as PubSub from "effect/PubSub"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import type { Job, Options, Service, StartRequest, Started, Update } from "../../OptimizationCoordinator.js"
import {
  ModuleNotFound,
  OptimizationJobNotFound,
  OptimizationRequestInvalid,
  OptimizationStoreError
} from "../../ServicesError.js"
import { connect, dispatcherActor, makeDispatcher } from "./dispatcher.js"
import { type Dependencies, type Env, finish, jobNow, makeRunContext, now, optimizerOf, patch } from "./env.js"
import { dedupeKeyOf, emptyProgress, isTerminal, type Live, mergeable, type Numbered } from "./jobs.js"
import { defaultMetrics, defaultOptimizers } from "./registry.js"
import { makeRunner } from "./runner.js"
import { State } from "./state.js"
import { type JobRow, open } from "./store.js"
import { Events, FoundationEvents } from "@effect-dspy/foundation"
import * as ServicesEvents from "../../ServicesEvents.js"

const newLive = (
  row: JobRow,
  data: {
    readonly optimizer: Optimizer.Optimizer
    readonly trainset: ReadonlyArray<Example.Any>
    readonly valset?: ReadonlyArray<Example.Any> | undefined
    readonly budget: Budget.Limits | undefined
    readonly recovered: boolean
  }
) =>
  Effect.gen(function* () {
    const live: Live = {
      row,
      optimizer: data.optimizer,
      trainset: data.trainset,
      valset: data.valset,
      budget: data.budget,
      updates: yield* PubSub.unbounded<Numbered>(),
      log: [],
      done: yield* Deferred.make<Job>(),
      fiber: undefined,
      worker: undefined,
      cancelRequested: false,
      recovered: data.recovered,
      finishedBefore: data.recovered && isTerminal(row.status),
      progress: emptyProgress
    }
    return live
  })

/**
 * Builds the coordinator in the current scope over explicit dependencies (`Application.layer` does this; the
 * scope's end stops the workers without changing the jobs' rows, so they resume in the next coordinator on the
 * same database).
 */
export const makeWith = (
  deps: Dependencies,
  options: Options = {}
): Effect.Effect<Service, OptimizationStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const { modules, config, events } = deps
    const filename = options.filename ?? ":memory:"
    const store = yield* Effect.mapError(
      deps.jobs === undefined ? open(filename) : Effect.succeed(deps.jobs),
      (reason) =>
        new OptimizationStoreError({
          operation: "open",
          message: `Could not open the optimization job database ${filename}: ${reason}. Check the path and permissions.`
        })
    )
    const storeError = (operation: string) => (reason: string) =>
      new OptimizationStoreError({
        operation,
        message: `The optimization job database failed to ${operation}: ${reason}`
      })

    const state = yield* State.make((yield* config.current).optimization.workers)
    // The jobs' fibers live in a scope of their own, closed before the store; and first of all, no new starts.
    const jobScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    yield* Effect.addFinalizer(() => Effect.sync(() => state.close()))
    const env: Env = {
      deps,
      store,
      optimizers: options.optimizers ?? defaultOptimizers(),
      metrics: options.metrics ?? defaultMetrics(),
      state,
      jobScope,
      runContext: makeRunContext(deps)
    }

    // Workers are started by one dispatcher process: `wake` asks it to fill free workers, `dispatch` also waits.
    // In an application it is the tree's `optimization_coordinator`; standalone, one of this coordinator's own.
    const { pump } = makeRunner(
      env,
      Effect.suspend(() => wake)
    )
    const dispatcher = deps.dispatcher ?? makeDispatcher()
    const { wake, dispatch } = yield* connect(dispatcher, pump, jobScope, () => state.closing)
    if (deps.dispatcher === undefined) yield* Effect.orDie(Actor.start(dispatcherActor, dispatcher))

    const find = (id: string) =>
      Effect.suspend(() => {
        const live = state.get(id)
        return live === undefined
          ? Effect.fail(
              new OptimizationJobNotFound({ jobId: id, message: `No optimization job "${id}"; list shows the jobs.` })
            )
          : Effect.succeed(live)
      })

    // Recovery: jobs queued, running or deciding when the last coordinator stopped are queued again.
    const rows = yield* Effect.mapError(store.all, storeError("read"))
    const configured = yield* config.current
    for (const row of rows) {
      const data = JSON.parse(row.data) as {
        readonly trainset: ReadonlyArray<Example.ExampleJson>
        readonly valset: ReadonlyArray<Example.ExampleJson> | null
      }
      const budget = JSON.parse(row.budget) as Budget.Limits | null
      const entry = env.optimizers[row.optimizer]
      const live = yield* newLive(row, {
        optimizer:
          entry === undefined
            ? // Its optimizer is no longer registered: the job cannot run (it fails with the reason when started).
              {
                name: row.optimizer,
                settings: {},
                compile: () =>
                  Effect.dieMessage(
                    `The optimizer "${row.optimizer}" of this job is not in the coordinator's registry (${Object.keys(env.optimizers).join(", ")}).`
                  )
              }
            : optimizerOf(entry, configured),
        trainset: data.trainset.map(Example.fromJSON),
        valset: data.valset === null ? undefined : data.valset.map(Example.fromJSON),
        budget: budget ?? undefined,
        recovered: true
      })
      state.add(live)
      if (isTerminal(row.status)) yield* Deferred.succeed(live.done, yield* jobNow(env, live))
      else {
        if (row.status !== "queued") yield* patch(env, live, { status: "queued" })
        state.enqueue(live)
      }
    }

    const invalid = (field: string, message: string) => new OptimizationRequestInvalid({ field, message })

    const start = (request: StartRequest) =>
      Effect.gen(function* () {
        const entry = env.optimizers[request.optimizer]
        if (entry === undefined) {
          return yield* invalid(
            "optimizer",
            `Unknown optimizer "${request.optimizer}"; use one of: ${Object.keys(env.optimizers).join(", ")}.`
          )
        }
        const metric = request.metric ?? "exact_match"
        if (env.metrics[metric] === undefined) {
          return yield* invalid(
            "metric",
            `Unknown metric "${metric}"; use one of: ${Object.keys(env.metrics).join(", ")}.`
          )
        }
        if (request.trainset.length === 0) return yield* invalid("trainset", "The trainset is empty: give examples.")
        if (request.valset !== undefined && request.valset.length === 0) {
          return yield* invalid("valset", "The valset is empty: give examples or leave it out to use the trainset.")
        }
        const priority = request.priority ?? 0
        if (!Number.isFinite(priority)) return yield* invalid("priority", "The priority must be a finite number.")
        const optimizer = optimizerOf(entry, yield* config.current)
        const info = yield* modules.describe(request.moduleId)
        const student = Module.dumpState(
          yield* Effect.catchTag(modules.program(info.id, info.version), "ModuleVersionNotFound", () =>
            // Only when the version was removed between the two reads (the module was removed and created again).
            Effect.fail(
              new ModuleNotFound({
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
        return yield* state.locked(
          Effect.gen(function* () {
            for (const live of state.jobs) {
              if (live.row.dedupeKey === dedupeKey && mergeable(live, dedupeKey, yield* jobNow(env, live))) {
                return { id: live.row.id, merged: true } satisfies Started
              }
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
              seq: state.nextSeq(),
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
              optimizer,
              trainset: request.trainset,
              valset: request.valset,
              budget: request.budget,
              recovered: false
            })
            state.add(live)
            state.enqueue(live)
            yield* Events.publishOrLog(
              ServicesEvents.OptimizationQueued,
              {
                optimization_id: row.id,
                module_id: row.moduleId,
                module_version: row.moduleVersion,
                optimizer: row.optimizer,
                priority
              },
              { events: env.deps.events }
            )
            return { id: row.id, merged: false } satisfies Started
          })
        )
      }).pipe(Effect.tap(() => dispatch))

    const cancel = (id: string) =>
      Effect.gen(function* () {
        const live = yield* find(id)
        const wasQueued = yield* state.locked(Effect.sync(() => state.dequeue(live)))
        if (wasQueued) {
          yield* finish(env, live, { status: "cancelled" })
          yield* Events.publishOrLog(
            ServicesEvents.OptimizationCancelled,
            { optimization_id: id, module_id: live.row.moduleId },
            { events: env.deps.events }
          )
          return yield* jobNow(env, live)
        }
        const fiber = live.fiber
        if (fiber !== undefined && !isTerminal(live.row.status)) {
          live.cancelRequested = true
          const worker = live.worker
          const supervisor = yield* Effect.either(deps.optimizationWorkers)
          if (worker !== undefined && supervisor._tag === "Right") {
            // Through the supervisor, so the worker is gone from its children when this returns.
            yield* Effect.ignore(DynamicSupervisor.terminateChild(supervisor.right, worker))
          }
          yield* Fiber.interrupt(fiber)
        }
        return yield* jobNow(env, live)
      })

    // Live `optimization.workers`: a raise starts queued jobs at once; a cut lets running jobs finish.
    yield* config.watch("optimization.workers").pipe(
      Stream.runForEach((value) =>
        Effect.suspend(() => {
          if (typeof value === "number" && Number.isInteger(value) && value > 0) state.setWorkers(value)
          return wake
        })
      ),
      Effect.catchAll((e) => Effect.logError(`optimization.workers cannot be watched: ${e.message}`)),
      Effect.forkIn(jobScope)
    )
    // A module registered (again) may let a recovered job start; a breaker's change may end a pause.
    yield* events.subscribe([ServicesEvents.ModuleCreated.type, FoundationEvents.CircuitBreakerStateChanged.type]).pipe(
      Stream.runForEach(() => wake),
      Effect.forkIn(jobScope)
    )
    yield* dispatch

    const service: Service = {
      start,
      status: (id) => Effect.flatMap(find(id), (live) => jobNow(env, live)),
      list: Effect.suspend(() => Effect.forEach(state.jobs, (live) => jobNow(env, live))),
      progress: (id) =>
        Stream.unwrapScoped(
          Effect.gen(function* () {
            const live = yield* find(id)
            // Subscribe, then read the log: an update recorded in between is in both, and dropped from the
            // live ones by its number.
            const subscription = yield* PubSub.subscribe(live.updates)
            const replay = live.log.slice()
            const ended = (u: Update) => u._tag === "Status" && isTerminal(u.job.status)
            const end = replay.findIndex(ended)
            if (end >= 0 || isTerminal(live.row.status)) {
              // A finished job: its history here (none when it finished in an earlier coordinator), then its
              // final status as it is now (whether its swap still serves).
              const now = Stream.fromEffect(Effect.map(jobNow(env, live), (job): Update => ({ _tag: "Status", job })))
              return Stream.concat(Stream.fromIterable(end >= 0 ? replay.slice(0, end) : replay), now)
            }
            const live$ = Stream.fromQueue(subscription).pipe(
              Stream.filter((n) => n.seq >= replay.length),
              Stream.map((n) => n.update)
            )
            return Stream.concat(Stream.fromIterable(replay), live$).pipe(Stream.takeUntil(ended))
          })
        ),
      // The job as it is when asked (its swap may have been replaced since it ended).
      await: (id) => Effect.flatMap(find(id), (live) => Effect.zipRight(Deferred.await(live.done), jobNow(env, live))),
      cancel,
      workers: Effect.sync(() => state.workers)
    }
    return service
  })
