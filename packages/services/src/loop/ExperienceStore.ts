/**
 * The experience store of the real-time loop: every execution of the application's modules (inputs, output,
 * version, latency, cost) and the rewards its delayed feedback earned. The request path hands a record over
 * synchronously (kept in memory at once, readable by feedback); a writer fiber persists them in batches (one
 * SQLite transaction per batch, by default), and feedback is acknowledged only after the batch holding it
 * commits. The store is bounded by count and age: the most recent half of `maxCount` is kept whole, older
 * experiences go to a reservoir sample (Algorithm R, seeded) of the other half; past `maxAgeMs` they leave.
 *
 * Reading: {@link Service.query} with quality filters (module, version, reward range, feedback confidence,
 * recency, labelled only), seeded replay sampling (uniform, or prioritised by reward error: the distance of the
 * reward from the module's mean), and {@link toExamples}, which exports experiences as core `Example`s for
 * optimization jobs (a corrected answer becomes the label; otherwise a rewarded output of reward 1 does).
 *
 * SQLite layout (`PRAGMA user_version`): version 2, one table `dspy_loop_experiences` with the end user and tenant of
 * each execution (a version 1 file gains the two columns when opened; a newer version is refused).
 * PostgreSQL ({@link layerPostgres}): the same table and row codec, its version (2) in `dspy_schema_versions` under
 * `loop_experiences`, migrated forward the same way; processes sharing the database read each other's experiences
 * when they open.
 *
 * @example
 * ```ts
 * import { ExperienceStore } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* ExperienceStore.ExperienceStore
 *   const recent = yield* store.query({ moduleId: "qa", labelled: true })
 *   return ExperienceStore.toExamples(recent)
 * }).pipe(Effect.provide(ExperienceStore.layerMemory()))
 * ```
 *
 * @since 0.1.0
 */
import { Example } from "@effect-dspy/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/experiences.js"
import type { ExperienceStoreError, FeedbackUnknownExecution } from "../ServicesError.js"
import type * as Reward from "./Reward.js"

/**
 * One execution and what its feedback said. The reward fields are set by feedback (in place: the store owns the
 * object once it is recorded).
 *
 * @since 0.1.0
 * @category models
 */
export interface Experience {
  readonly executionId: string
  readonly correlationId: string | undefined
  readonly moduleId: string
  readonly version: number
  readonly inputs: unknown
  readonly output: unknown
  readonly ok: boolean
  readonly latencyMs: number
  /** The LM calls the execution made and their cost (0 for a failed execution: its usage is not known). */
  readonly lmCalls: number
  readonly costUsd: number
  /** When the execution started (ms since the epoch, Effect's Clock). */
  readonly at: number
  /** The reward of its feedback, in [0, 1] (none until feedback arrives). */
  reward: number | undefined
  outcome: Reward.Outcome | undefined
  /** When its (last) feedback arrived. */
  feedbackAt: number | undefined
  /** The end user it ran for (`Subject.current` when it ran), if any. */
  readonly subject?: string | undefined
  /** The tenant it ran for (`Tenant.scope` when it ran), if any. */
  readonly tenant?: string | undefined
}

/**
 * The store's bounds: at most `maxCount` experiences (default 50,000), none older than `maxAgeMs` (default 7
 * days); `recentShare` of the count (default 0.5) is the most recent kept whole, the rest a reservoir sample of
 * older ones (seeded by `seed`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Bounds {
  readonly maxCount?: number
  readonly maxAgeMs?: number
  readonly recentShare?: number
  readonly seed?: number
  /** Records that wake the writer (default 512); feedback and `flush` wake it at once. */
  readonly batchSize?: number
}

/**
 * Quality filters: every given condition holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Filter {
  readonly moduleId?: string
  readonly version?: number
  /** Only experiences with feedback (a reward). */
  readonly rewarded?: boolean
  /** Only experiences whose feedback gave a corrected answer. */
  readonly labelled?: boolean
  readonly minReward?: number
  readonly maxReward?: number
  /** Feedback confidence at least this (feedback without a confidence counts as 1). */
  readonly minConfidence?: number
  /** Executions at or after this time (ms). */
  readonly since?: number
  /** At most this many, the most recent first. */
  readonly limit?: number
  /** Only the executions of this end user. */
  readonly subject?: string
  /** Only the executions of this tenant. */
  readonly tenant?: string
  /** Executions before this time (ms). */
  readonly before?: number
}

/**
 * Replay sampling: `uniform`, or `prioritised` by reward error (|reward - the mean reward of the sampled set|,
 * plus a small floor so every experience can be drawn). Seeded: the same seed and store give the same sample.
 *
 * @since 0.1.0
 * @category models
 */
export interface SampleOptions {
  readonly n: number
  readonly seed: number
  readonly mode?: "uniform" | "prioritised"
  readonly filter?: Filter
}

/**
 * Counters of the store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Experiences held now. */
  readonly count: number
  /** Experiences recorded since the store opened. */
  readonly recorded: number
  /** Rows written (new experiences and feedback updates), and batches committed. */
  readonly written: number
  readonly batches: number
  /** Experiences that left by the count or age bound. */
  readonly evicted: number
  /** Records and updates waiting for the writer. */
  readonly pending: number
  /** Where it persists (`memory`, or the SQLite file). */
  readonly target: string
}

/**
 * The experience store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Records an execution (synchronous, in memory at once; written in the next batch). */
  readonly record: (experience: Experience) => void
  /** An experience by execution id. */
  readonly get: (executionId: string) => Experience | undefined
  /** The experiences recorded under a correlation id, oldest first. */
  readonly byCorrelation: (correlationId: string) => ReadonlyArray<Experience>
  /**
   * Sets the feedback of experiences (in place) and waits until the batch holding the change commits; fails with
   * `ExperienceStoreError` when it does not (the change stays in memory and is written with the next batch). In a
   * tenant's scope (the application's store), another tenant's experience fails with `FeedbackUnknownExecution`.
   */
  readonly attach: (
    experiences: ReadonlyArray<Experience>,
    outcome: Reward.Outcome,
    reward: number,
    at: number
  ) => Effect.Effect<void, ExperienceStoreError | FeedbackUnknownExecution>
  /** The experiences passing the filter, the most recent first. */
  readonly query: (filter?: Filter) => Effect.Effect<ReadonlyArray<Experience>>
  /** A seeded replay sample (without replacement) of the experiences passing the filter. */
  readonly sample: (options: SampleOptions) => Effect.Effect<ReadonlyArray<Experience>>
  /**
   * Removes experiences (an erasure: see `DataRights`) from memory and, once the batch holding the removal commits,
   * from the file; returns how many were held.
   */
  readonly remove: (executionIds: ReadonlyArray<string>) => Effect.Effect<number, ExperienceStoreError>
  /** Writes everything pending now. */
  readonly flush: Effect.Effect<void, ExperienceStoreError>
  readonly stats: Effect.Effect<Stats>
}

/**
 * The experience store's tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class ExperienceStore extends Context.Tag("@effect-dspy/services/ExperienceStore")<ExperienceStore, Service>() {}

/**
 * The layout version of the SQLite store.
 *
 * @since 0.1.0
 * @category constants
 */
export const layoutVersion: number = internal.LAYOUT_VERSION

/**
 * A store persisting to a SQLite file (`":memory:"` for a private in-memory database); experiences already in the
 * file are read back (within the bounds) when it opens.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlite: (
  filename: string,
  bounds?: Bounds
) => Effect.Effect<Service, ExperienceStoreError, Scope.Scope> = internal.makeSqlite

/**
 * A store persisting to PostgreSQL over the `SqlClient` in context (see `Storage.layerPostgresClient`): the SQLite
 * store's table (`dspy_loop_experiences`), migrated forward when opened; the newest experiences in the database
 * are read back (within the bounds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePostgres: (
  bounds?: Bounds
) => Effect.Effect<Service, ExperienceStoreError, SqlClient.SqlClient | Scope.Scope> = internal.makePostgres

/**
 * A store in memory only (nothing persisted; feedback is acknowledged at once).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: (bounds?: Bounds) => Effect.Effect<Service, never, Scope.Scope> = internal.makeMemory

/**
 * The store over a SQLite file.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (filename: string, bounds?: Bounds): Layer.Layer<ExperienceStore, ExperienceStoreError> =>
  Layer.scoped(ExperienceStore, makeSqlite(filename, bounds))

/**
 * The store over PostgreSQL (needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres = (
  bounds?: Bounds
): Layer.Layer<ExperienceStore, ExperienceStoreError, SqlClient.SqlClient> =>
  Layer.scoped(ExperienceStore, makePostgres(bounds))

/**
 * The store in memory.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (bounds?: Bounds): Layer.Layer<ExperienceStore> =>
  Layer.scoped(ExperienceStore, makeMemory(bounds))

const fieldsOf = (value: unknown): Readonly<Record<string, unknown>> | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const withRecord = value as { readonly toRecord?: () => Readonly<Record<string, unknown>> }
  return typeof withRecord.toRecord === "function"
    ? withRecord.toRecord()
    : (value as Readonly<Record<string, unknown>>)
}

/**
 * Experiences as core `Example`s (inputs marked), for optimization jobs: the label is the feedback's corrected
 * answer; without one, the output of an experience whose reward is at least `minReward` (default 1: fully right).
 * Experiences with neither (or inputs that are not an object) are left out.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toExamples = (
  experiences: ReadonlyArray<Experience>,
  options: { readonly minReward?: number } = {}
): ReadonlyArray<Example.Any> => {
  const minReward = options.minReward ?? 1
  const out: Array<Example.Any> = []
  for (const e of experiences) {
    const inputs = fieldsOf(e.inputs)
    if (inputs === undefined) continue
    const labels =
      e.outcome?.corrected ?? (e.reward !== undefined && e.reward >= minReward ? fieldsOf(e.output) : undefined)
    if (labels === undefined) continue
    const keys = Object.keys(inputs)
    const labelled: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(labels)) if (!(k in inputs) && k !== "reasoning") labelled[k] = v
    out.push(Example.make({ ...labelled, ...inputs }).withInputs(...keys))
  }
  return out
}
