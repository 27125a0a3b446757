/**
 * Optimization jobs shared by the runners of a cluster. `submit` stores the job (its module's promoted version
 * is its base) and sends it to its entity (`JobEntity.OptimizationJob`, a persisted message): the runner holding
 * the job's shard runs it, checkpointing each finished unit on PostgreSQL; when that runner dies or freezes,
 * the shard's next owner resumes it from the checkpoints. A job ends `swapped` (its version promoted by
 * compare-and-swap on its base, once), `rejected` (the module changed meanwhile) or `failed`.
 *
 * @example
 * ```ts
 * import { ClusterJobs } from "@effect-dspy/cluster"
 * import { Example } from "@effect-dspy/core"
 * import * as Effect from "effect/Effect"
 *
 * const trainset = [Example.make({ question: "2 + 3?", answer: "5" }).withInputs("question")]
 * const program = Effect.gen(function* () {
 *   const jobs = yield* ClusterJobs.ClusterJobs
 *   const { id } = yield* jobs.submit({ moduleId: "qa", optimizer: "bootstrap_few_shot", trainset })
 *   return yield* ClusterJobs.awaitJob(id)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Example } from "@effect-dspy/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Duration from "effect/Duration"
import type { ClusterJobInvalid, ClusterJobNotFound, ClusterStoreError } from "./ClusterError.js"

/**
 * A job's status: `queued` and `running` are live; `swapped`, `rejected`, `failed` and `cancelled` are its ends.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "queued" | "running" | "swapped" | "rejected" | "failed" | "cancelled"

/**
 * The statuses a job ends in.
 *
 * @since 0.1.0
 * @category constants
 */
export const terminalStatuses: ReadonlyArray<Status> = ["swapped", "rejected", "failed", "cancelled"]

/**
 * A request to optimize a stored module.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitRequest {
  /** A module in the release store (made by any runner's ModuleManager on the same database). */
  readonly moduleId: string
  /** An optimizer's name in the runners' registry. */
  readonly optimizer: string
  readonly trainset: ReadonlyArray<Example.Any>
  readonly valset?: ReadonlyArray<Example.Any>
  /** A metric's name in the runners' registry (default `exact_match`). */
  readonly metric?: string
  /** The compile's seed (default 0). */
  readonly seed?: number
}

/**
 * A job as stored.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly id: string
  readonly moduleId: string
  readonly optimizer: string
  readonly metric: string
  readonly status: Status
  /** The module version the job optimizes; its swap is a compare-and-swap on it. */
  readonly baseVersion: number
  /** The runner of the job's latest run. */
  readonly owner: string | undefined
  /** How many runs it took (more than one after a failover). */
  readonly runs: number
  /** Units committed to its checkpoints, over every run. */
  readonly units: number
  /** Units its last run read back from the checkpoints instead of recomputing. */
  readonly resumedUnits: number
  readonly swappedVersion: number | undefined
  /** The optimizer's best score. */
  readonly score: number | undefined
  readonly error: string | undefined
  readonly createdAt: number
  readonly startedAt: number | undefined
  /** When a run last committed a unit (or claimed or ended the job). */
  readonly progressedAt: number | undefined
  readonly finishedAt: number | undefined
  /** When a runner received the job (its message delivered; it may then wait for a worker). */
  readonly receivedAt: number | undefined
  /** How often the watchdog sent the job again (0 when its first message was delivered and run in time). */
  readonly resends: number
}

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Stores the job and sends it to its runner; answers its id at once. */
  readonly submit: (
    request: SubmitRequest
  ) => Effect.Effect<{ readonly id: string }, ClusterJobInvalid | ClusterStoreError>
  /** A job now. */
  readonly status: (id: string) => Effect.Effect<Job, ClusterJobNotFound | ClusterStoreError>
  /** Every job, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<Job>, ClusterStoreError>
  /**
   * Stops a queued or running job (`cancelled`), wherever it runs: the cancel fences off the job's run, which
   * writes nothing more and does not swap. A job that already ended is returned as it is. A cancel that arrives
   * while the job's swap is being written is overtaken by it: the job then ends `swapped` (the swap stands).
   */
  readonly cancel: (id: string) => Effect.Effect<Job, ClusterJobNotFound | ClusterStoreError>
}

/**
 * The service tag (a runner's layer provides it: `Runner.layer`).
 *
 * @since 0.1.0
 * @category tags
 */
export class ClusterJobs extends Context.Tag("@effect-dspy/cluster/ClusterJobs")<ClusterJobs, Service>() {}

/**
 * Whether a status is an end.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTerminal = (status: Status): boolean => terminalStatuses.includes(status)

/**
 * Waits for a job to end (polling its row every `interval`, default 250 ms) and returns it.
 *
 * @since 0.1.0
 * @category accessors
 */
export const awaitJob = (
  id: string,
  interval: Duration.DurationInput = "250 millis"
): Effect.Effect<Job, ClusterJobNotFound | ClusterStoreError, ClusterJobs> =>
  Effect.flatMap(ClusterJobs, (jobs) => {
    const poll: Effect.Effect<Job, ClusterJobNotFound | ClusterStoreError> = Effect.flatMap(jobs.status(id), (job) =>
      isTerminal(job.status) ? Effect.succeed(job) : Effect.zipRight(Effect.sleep(interval), poll)
    )
    return poll
  })

/**
 * Submits a job with the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submit = (
  request: SubmitRequest
): Effect.Effect<{ readonly id: string }, ClusterJobInvalid | ClusterStoreError, ClusterJobs> =>
  Effect.flatMap(ClusterJobs, (jobs) => jobs.submit(request))

/**
 * A job with the service in context, or none.
 *
 * @since 0.1.0
 * @category accessors
 */
export const find = (id: string): Effect.Effect<Option.Option<Job>, ClusterStoreError, ClusterJobs> =>
  Effect.flatMap(ClusterJobs, (jobs) =>
    jobs.status(id).pipe(
      Effect.map(Option.some),
      Effect.catchTag("ClusterJobNotFound", () => Effect.succeed(Option.none()))
    )
  )
