/**
 * Running jobs: the queue pumped into free workers, each job a fiber owned by a worker process under the
 * application's `optimization_workers` supervisor, and a job's end (failed, cancelled, or queued again when its
 * worker was killed).
 */
import { Module } from "@effect-dspy/core"
import { CanonicalJson } from "@effect-dspy/foundation"
import { Optimizer, type Progress } from "@effect-dspy/optimizers"
import { Actor, DynamicSupervisor } from "@effect-dspy/runtime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { decide, studentOf } from "./decisions.js"
import { type Env, finish, now, patch } from "./env.js"
import { emptyProgress, type Live, record } from "./jobs.js"
import { Events, Tenant } from "@effect-dspy/foundation"
import * as ServicesEvents from "../../ServicesEvents.js"

/** The job worker: a process under `optimization_workers` that owns the job's fiber while it runs. */
const workerActor = Actor.make({
  name: "optimization_job",
  init: (args: { readonly fiber: Fiber.RuntimeFiber<void, never> }) => Effect.succeed(args),
  terminate: (_reason, state) => Effect.asVoid(Fiber.interrupt(state.fiber))
})

const onProgress = (live: Live) => (event: Progress.Event) => record(live, { _tag: "Progress", event })

/**
 * The key of a job's result: the student (its signature and parameters), the optimizer and its settings, and the
 * data (trainset, valset, metric, seed, budget), not the module's id: an identical request for any module of the
 * same student reuses it. None for a job recovered from a row without a saved student.
 */
const resultKeyOf = (live: Live): string | undefined =>
  live.row.studentState === null
    ? undefined
    : CanonicalJson.sha256({
        student: JSON.parse(live.row.studentState) as unknown,
        optimizer: live.row.optimizer,
        settings: live.optimizer.settings,
        data: JSON.parse(live.row.data) as unknown,
        metric: live.row.metric,
        seed: live.row.seed,
        budget: JSON.parse(live.row.budget) as unknown
      })

/** A stored result for this job's key, loaded into its student (none when absent or when it does not fit). */
const storedResult = (env: Env, key: string | undefined, student: Module.Program) =>
  Effect.gen(function* () {
    const releases = env.deps.releases
    if (releases === undefined || key === undefined) return undefined
    const found = yield* Effect.either(releases.getResult(key))
    if (found._tag === "Left") {
      yield* Effect.logWarning(`optimization results could not be read: ${found.left.message}`)
      return undefined
    }
    if (found.right._tag === "None") return undefined
    const loaded = Module.loadState(student, found.right.value.state)
    return loaded._tag === "Right" ? loaded.right : undefined
  })

/**
 * The job's work: compile (resuming from checkpoints), or reuse the result stored for an identical request; score
 * against the version serving now; decide.
 */
const work = (env: Env, live: Live) =>
  Effect.gen(function* () {
    const student = yield* studentOf(env, live)
    const row = live.row
    const key = resultKeyOf(live)
    const reused = yield* storedResult(env, key, student)
    let program: Module.Program
    if (reused !== undefined) {
      program = reused
      yield* Events.publishOrLog(
        ServicesEvents.OptimizationResultReused,
        { optimization_id: row.id, module_id: row.moduleId, result_key: key! },
        { events: env.deps.events }
      )
    } else {
      // `optimization.maxWallMs` is every job's wall-clock limit unless its own budget sets one.
      const wall = (yield* env.deps.config.current).optimization.maxWallMs
      const budget =
        wall === undefined || live.budget?.maxWallMs !== undefined ? live.budget : { ...live.budget, maxWallMs: wall }
      const compiled = yield* Optimizer.compile(live.optimizer, student, {
        trainset: live.trainset,
        ...(live.valset === undefined ? {} : { valset: live.valset }),
        metric: env.metrics[row.metric]!,
        seed: row.seed,
        runId: row.id,
        ...(budget === undefined ? {} : { budget }),
        onProgress: onProgress(live)
      })
      program = compiled.program
      if (env.deps.releases !== undefined && key !== undefined) {
        const at = yield* now
        yield* env.deps.releases
          .putResult({
            key,
            moduleId: row.moduleId,
            state: Module.dumpState(program),
            jobId: row.id,
            optimizer: row.optimizer,
            scores: null,
            createdAt: at
          })
          .pipe(Effect.catchAll((e) => Effect.logWarning(`optimization result not kept: ${e.message}`)))
      }
    }
    yield* patch(env, live, { status: "succeeded" })
    yield* decide(env, live, program)
  }).pipe(Effect.provide(env.runContext))

const requeue = (env: Env, live: Live): Effect.Effect<void> =>
  Effect.zipRight(patch(env, live, { status: "queued" }), env.state.locked(Effect.sync(() => env.state.enqueue(live))))

/** The longest the optimization breaker holds queued jobs without a breaker's state change (then one goes through). */
const maxPauseMs = 30_000

/**
 * The job runner over `env`: `pump` fills free workers from the queue; `wake` is how a job's end asks for the
 * next start (through the dispatcher).
 */
export const makeRunner = (env: Env, wake: Effect.Effect<void>) => {
  const state = env.state

  /** The job's fiber: its work, its end (failed, or cancelled when asked), then the next start. */
  const runJob = (live: Live): Effect.Effect<void> =>
    work(env, live).pipe(
      // onExit, not a catch: an interrupted fiber runs finalizers only.
      Effect.onExit((exit) =>
        Exit.isSuccess(exit)
          ? Effect.void
          : Cause.isInterruptedOnly(exit.cause)
            ? live.cancelRequested
              ? Effect.zipRight(
                  finish(env, live, { status: "cancelled" }),
                  Events.publishOrLog(
                    ServicesEvents.OptimizationCancelled,
                    { optimization_id: live.row.id, module_id: live.row.moduleId },
                    { events: env.deps.events }
                  )
                )
              : state.closing
                ? Effect.void // stays queued/running in the database: the next coordinator resumes it
                : requeue(env, live) // its worker was killed (or its supervisor restarted): run it again, from checkpoints
            : finish(env, live, { status: "failed", error: Optimizer.describeError(Cause.squash(exit.cause)) })
      ),
      Effect.catchAllCause(() => Effect.void),
      Effect.ensuring(
        Effect.suspend(() => {
          state.markStopped(live)
          live.fiber = undefined
          // Not `pump` here: a fiber ending by interruption must not start workers (their start would inherit it).
          return wake
        })
      )
    )

  /** Starts one job: its fiber in the coordinator's scope, owned by a worker under `optimization_workers`. */
  const launch = (live: Live): Effect.Effect<void> =>
    Effect.gen(function* () {
      state.markRunning(live)
      live.progress = emptyProgress
      yield* patch(env, live, { status: "running", startedAt: yield* now })
      // Interruptible whatever the caller (the dispatcher process fills workers uninterruptibly).
      const fiber = yield* Effect.forkIn(
        // A tenant's job runs as its tenant (its cache namespace, its events' scope).
        Effect.interruptible(runJob(live)).pipe(Tenant.asOwnerOf(live.row.moduleId)),
        env.jobScope
      )
      live.fiber = fiber
      const supervisor = yield* Effect.either(env.deps.optimizationWorkers)
      if (supervisor._tag === "Left") {
        // Recorded, not hidden: the job still runs (in the coordinator's scope), without a worker process.
        yield* Events.publishOrLog(
          ServicesEvents.OptimizationWorkerUnavailable,
          {
            optimization_id: live.row.id,
            reason: supervisor.left.message
          },
          { events: env.deps.events }
        )
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
        yield* Events.publishOrLog(
          ServicesEvents.OptimizationWorkerUnavailable,
          {
            optimization_id: live.row.id,
            reason: worker.left.message
          },
          { events: env.deps.events }
        )
        return
      }
      live.worker = worker.right
      // Linked: the worker lives as long as its job, and a worker killed (no cleanup) takes its job down too.
      fiber.addObserver(() => worker.right.unsafeRequestStop({ _tag: "Normal" }))
      worker.right.unsafeAddExitListener(() => fiber.unsafeInterruptAsFork(FiberId.none))
    })

  // Whether dispatch is paused by the optimization breaker (the event is published once per pause).
  let paused = false
  let pausedAt = 0
  let recheckPending = false

  /**
   * Fills free workers from the queue; a recovered job waits until its module is registered again, and every job
   * waits while the providers are failing (the optimization breaker).
   */
  const pump: Effect.Effect<void> = state.locked(
    Effect.gen(function* () {
      if (state.queue.length > 0 && state.hasFreeWorker && env.deps.providersFailing !== undefined) {
        const failing = yield* env.deps.providersFailing
        const at = yield* now
        // A breaker's state only moves on a call: after `maxPauseMs` a job goes through as the trial.
        if (failing !== undefined && !(paused && at - pausedAt >= maxPauseMs)) {
          // Checked again in a second (a breaker's state change wakes it sooner).
          if (!recheckPending) {
            recheckPending = true
            yield* Effect.forkIn(
              Effect.zipRight(
                Effect.sleep("1 second"),
                Effect.suspend(() => {
                  recheckPending = false
                  return wake
                })
              ),
              env.jobScope
            )
          }
          if (!paused) {
            paused = true
            pausedAt = at
            yield* Events.publishOrLog(
              ServicesEvents.OptimizationPaused,
              { reason: failing, queued: state.queue.length },
              { events: env.deps.events }
            )
          }
          return
        }
        paused = false
      }
      let index = 0
      while (state.hasFreeWorker && index < state.queue.length) {
        const next = state.queue[index]!
        if (next.recovered && Either.isLeft(yield* Effect.either(env.deps.modules.describe(next.row.moduleId)))) {
          index++
          continue
        }
        state.dequeue(next)
        yield* launch(next)
      }
    })
  )

  return { pump }
}
