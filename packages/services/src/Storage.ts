/**
 * Where the application keeps its state. SQLite is the embedded default (files, or memory; no server). PostgreSQL
 * is for state shared by several processes: one database holds the releases and versions, the experiments, the
 * optimization jobs and their checkpoints, the loop's experiences and feedback, the metric history, the learned
 * routers' state, the workflow runs (`@effect-dspy/workflows`' `RunStore.layerPostgres`) and (optionally) the
 * events, each store with its own schema version in `dspy_schema_versions` ({@link migratePostgres}), migrated
 * forward when opened.
 *
 * The application picks the backend from Config (`storage.backend`, `storage.postgres.url`); these layers give
 * the same stores to a program built by hand. Each store is also a layer of its own over a `SqlClient`
 * (`ReleaseStore.layerPostgres`, `ExperimentStore.layerPostgres`, `CheckpointPostgres.layer`,
 * `ExperienceStore.layerPostgres`, `MetricHistory.layerPostgres`, `RouterStore.layerPostgres`, `Events.layerSql`),
 * so another concern follows the same pattern: a SQLite layer, a PostgreSQL layer, one contract.
 *
 * @example
 * ```ts
 * import { Application, Storage } from "@effect-dspy/services"
 * import * as Layer from "effect/Layer"
 * import * as Redacted from "effect/Redacted"
 *
 * // Every process pointed at this database shares the modules' versions, experiments and jobs.
 * const stores = Storage.layerPostgres({ url: Redacted.make("postgres://dspy@127.0.0.1:5432/dspy") })
 * const app = Application.layerDefault().pipe(Layer.provide(stores))
 * // Or with no code: EFFECT_DSPY__STORAGE__BACKEND=postgres EFFECT_DSPY__STORAGE__POSTGRES__URL=postgres://...
 * ```
 *
 * @since 0.1.0
 */
import type { Checkpoint, OptimizerError } from "@effect-dspy/optimizers"
import type * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as CheckpointPostgres from "./CheckpointPostgres.js"
import * as ExperimentStore from "./experiments/ExperimentStore.js"
import * as Pg from "./internal/postgres.js"
import * as ReleaseStore from "./releases/ReleaseStore.js"
import * as RouterStore from "./routing/RouterStore.js"
import type {
  ExperimentStoreError,
  ReleaseStoreError,
  ReleaseStoreVersionUnsupported,
  RouterStoreError
} from "./ServicesError.js"

/**
 * The storage backends.
 *
 * @since 0.1.0
 * @category models
 */
export type Backend = "sqlite" | "postgres"

/**
 * How to reach PostgreSQL.
 *
 * @since 0.1.0
 * @category models
 */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`: redacted, it may hold a password (never logged). */
  readonly url: Redacted.Redacted<string>
  /** The pool's size (default 10). */
  readonly maxConnections?: number
}

/**
 * A PostgreSQL client (`@effect/sql-pg`) as the `SqlClient` the PostgreSQL stores run on; a statement against a
 * server that does not answer fails (an `SqlError`) after 5 s of connecting instead of waiting.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgresClient = (
  options: PostgresOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  Pg.layerClient(
    options.maxConnections === undefined
      ? { url: options.url }
      : { url: options.url, maxConnections: options.maxConnections }
  )

/**
 * The outcome of {@link migratePostgres}: the schema version found before, and whether it is newer than the code's
 * (then nothing was changed: refuse to open).
 *
 * @since 0.1.0
 * @category models
 */
export interface Migrated {
  readonly found: number
  readonly newer: boolean
}

/**
 * Brings a store's tables on the PostgreSQL `SqlClient` in context to the code's version (`steps.length`; index 0:
 * an empty database to version 1): the missing steps and the version row in `dspy_schema_versions`, in one
 * transaction under an advisory lock (processes opening the database at once migrate it once). What every
 * PostgreSQL store (of this package or another) opens with.
 *
 * @since 0.1.0
 * @category constructors
 */
export const migratePostgres: (
  store: string,
  steps: ReadonlyArray<ReadonlyArray<string>>
) => Effect.Effect<Migrated, SqlError.SqlError, SqlClient.SqlClient> = Pg.migrate

/**
 * The stores on one PostgreSQL database: releases, experiments, checkpoints and the routers' state (for a program
 * built by hand; the application opens these, its optimization jobs' table, its experience store and its metric
 * history itself with `storage.backend: postgres`). The events go there with `Events.layerSql` over
 * {@link layerPostgresClient}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres = (
  options: PostgresOptions
): Layer.Layer<
  ReleaseStore.ReleaseStore | ExperimentStore.ExperimentStore | Checkpoint.CheckpointStore | RouterStore.RouterStore,
  | SqlError.SqlError
  | ReleaseStoreError
  | ReleaseStoreVersionUnsupported
  | ExperimentStoreError
  | OptimizerError.CheckpointError
  | RouterStoreError
> =>
  Layer.mergeAll(
    ReleaseStore.layerPostgres,
    ExperimentStore.layerPostgres,
    CheckpointPostgres.layer,
    RouterStore.layerPostgres
  ).pipe(Layer.provide(layerPostgresClient(options)))
