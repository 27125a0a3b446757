/**
 * A job as the coordinator holds it (its row, its data, its live handles) and the pure functions over it: the
 * public view (`Job`), the dedupe key, whether a request merges into it.
 */
import type { Example, Module } from "@effect-dspy/core"
import { CanonicalJson } from "@effect-dspy/foundation"
import type { Budget, Optimizer, Progress } from "@effect-dspy/optimizers"
import type { Process } from "@effect-dspy/runtime"
import type * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as PubSub from "effect/PubSub"
import type { Job, JobProgress, Status, Update } from "../../OptimizationCoordinator.js"
import type { JobRow } from "./store.js"

/** The statuses a job ends in. */
export const terminalStatuses: ReadonlyArray<Status> = ["failed", "cancelled", "swapped", "rejected"]

/** How many times a job's swap decision is made when the module keeps changing under it. */
export const swapAttempts = 3

/** A job held by the coordinator. Its row is the truth; the other fields live as long as the coordinator. */
export interface Live {
  row: JobRow
  /** The optimizer the job compiles with (made from the configuration in force when it was queued or recovered). */
  readonly optimizer: Optimizer.Optimizer
  readonly trainset: ReadonlyArray<Example.Any>
  readonly valset: ReadonlyArray<Example.Any> | undefined
  readonly budget: Budget.Limits | undefined
  /** The job's updates as they happen, numbered by their place in {@link Live.log}. */
  readonly updates: PubSub.PubSub<Numbered>
  /**
   * Every update of the job in this coordinator, from its start: what `progress` replays to a subscriber
   * before following the live ones.
   */
  readonly log: Array<Update>
  readonly done: Deferred.Deferred<Job>
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  worker: Process.Process | undefined
  cancelRequested: boolean
  /** Read back from the database at start: it waits for its module to be registered (an application's start). */
  readonly recovered: boolean
  /**
   * Finished in an earlier coordinator (read back terminal): its version numbers are those of an earlier
   * ModuleManager, so its swap is never the one serving now.
   */
  readonly finishedBefore: boolean
  progress: JobProgress
}

/** An update with its place in the job's log (a subscriber takes from the live ones only those past its replay). */
export interface Numbered {
  readonly seq: number
  readonly update: Update
}

/**
 * Records an update of the job: in its log, in its progress counters (the one count `status` reports and the
 * stream shows), then to the live subscribers. The log is written before the publish, so a subscriber that
 * subscribes, then reads the log, misses nothing and drops duplicates by `seq`.
 */
export const record = (live: Live, update: Update): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (update._tag === "Progress") live.progress = progressAfter(live.progress, update.event)
    const seq = live.log.length
    live.log.push(update)
    return Effect.asVoid(PubSub.publish(live.updates, { seq, update }))
  })

export const emptyProgress: JobProgress = {
  steps: 0,
  resumedSteps: 0,
  trials: 0,
  bestScore: undefined,
  lmCalls: 0
}

export const isTerminal = (status: Status): boolean => terminalStatuses.includes(status)

/** The progress counters after an optimizer event. */
export const progressAfter = (p: JobProgress, event: Progress.Event): JobProgress => {
  switch (event._tag) {
    case "Step":
      return event.resumed
        ? { ...p, resumedSteps: p.resumedSteps + 1 }
        : { ...p, steps: p.steps + 1, lmCalls: event.lmCalls }
    case "Trial":
      return { ...p, trials: p.trials + 1, bestScore: event.bestScore }
    // The run's own total, counting calls no finished unit reported (a unit interrupted when a walk ends):
    // the job's count ends equal to the Completed event's.
    case "BudgetExhausted":
      return { ...p, lmCalls: Math.max(p.lmCalls, event.lmCalls) }
    case "Completed":
      return { ...p, lmCalls: event.lmCalls, bestScore: event.bestScore ?? p.bestScore }
    default:
      return p
  }
}

/**
 * The public view of a job. `serving` is the module version serving now (undefined when the module is not
 * registered), which says whether a swapped job's swap is current.
 */
export const toJob = (live: Live, serving: number | undefined): Job => {
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
    swapCurrent:
      r.status !== "swapped"
        ? undefined
        : !live.finishedBefore && serving !== undefined && serving === r.swappedVersion,
    error: r.error ?? undefined,
    createdAt: r.createdAt,
    startedAt: r.startedAt ?? undefined,
    finishedAt: r.finishedAt ?? undefined,
    progress: live.progress
  }
}

/**
 * A job's dedupe key: what makes two requests the same compile (the module, the student program's state, the
 * optimizer and its settings, the data, metric, seed and budget). The student is its state, not its version
 * number: versions are numbered per application, and equal states compile alike.
 */
export const dedupeKeyOf = (input: {
  readonly moduleId: string
  readonly student: Module.ProgramState
  readonly optimizer: string
  readonly settings: unknown
  readonly data: unknown
  readonly metric: string
  readonly seed: number
  readonly budget: unknown
}): string => CanonicalJson.sha256(input)

/**
 * Whether a request with this dedupe key merges into the job: the same compile, not given up, and not a swap
 * that no longer serves (`swapCurrent` false: a later change, or a restart, replaced it; the request then runs
 * as a new job). `job` is the job's public view now.
 */
export const mergeable = (live: Live, key: string, job: Job): boolean =>
  live.row.dedupeKey === key && job.status !== "failed" && job.status !== "cancelled" && job.swapCurrent !== false
