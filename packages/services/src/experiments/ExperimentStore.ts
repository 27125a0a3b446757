/**
 * Where experiment records live: a service, so SQLite (the default, {@link layerSqlite}) can later be joined by
 * PostgreSQL ({@link layerPostgres}). {@link layerMemory} keeps them in memory (tests, throwaway runs). Writes replace a record whole, so
 * a failed write leaves the previous record as it was.
 *
 * @example
 * ```ts
 * import { ExperimentStore, Experiments } from "@effect-dspy/services"
 * import * as Layer from "effect/Layer"
 *
 * const experiments = Experiments.layer.pipe(Layer.provide(ExperimentStore.layerSqlite("./data/experiments.db")))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { ExperimentStoreError } from "../ServicesError.js"
import type * as ExperimentRecord from "./ExperimentRecord.js"
import * as PostgresStore from "./internal/postgresStore.js"
import * as SqliteStore from "./internal/sqliteStore.js"

/**
 * The store's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Writes a record (inserting or replacing the one with its id). */
  readonly put: (record: ExperimentRecord.ExperimentRecord) => Effect.Effect<void, ExperimentStoreError>
  /**
   * Compare-and-swap: writes the record only if the stored one with its id was last updated at `expected`
   * (`null`: only if none is stored), in one statement. Gives whether it was written; a record another process
   * replaced meanwhile is left as it is (read it again and decide anew).
   */
  readonly putIf: (
    record: ExperimentRecord.ExperimentRecord,
    expected: number | null
  ) => Effect.Effect<boolean, ExperimentStoreError>
  /** The record with this id, if any. */
  readonly get: (id: string) => Effect.Effect<ExperimentRecord.ExperimentRecord | undefined, ExperimentStoreError>
  /** Every record (of one module when given), by id. */
  readonly list: (
    moduleId?: string
  ) => Effect.Effect<ReadonlyArray<ExperimentRecord.ExperimentRecord>, ExperimentStoreError>
}

/**
 * The experiment store.
 *
 * @since 0.1.0
 * @category services
 */
export class ExperimentStore extends Context.Tag("@effect-dspy/services/ExperimentStore")<ExperimentStore, Service>() {}

/**
 * A store in memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Service => {
  const records = new Map<string, ExperimentRecord.ExperimentRecord>()
  return {
    put: (record) => Effect.sync(() => void records.set(record.id, record)),
    putIf: (record, expected) =>
      Effect.sync(() => {
        const current = records.get(record.id)
        if ((current === undefined ? null : current.updatedAt) !== expected) return false
        records.set(record.id, record)
        return true
      }),
    get: (id) => Effect.sync(() => records.get(id)),
    list: (moduleId) =>
      Effect.sync(() =>
        [...records.values()]
          .filter((r) => moduleId === undefined || r.moduleId === moduleId)
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      )
  }
}

/**
 * A store in memory, as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ExperimentStore> = Layer.sync(ExperimentStore, makeMemory)

/**
 * A store in the SQLite database at `filename` (created when missing; a file of an older layout is upgraded; a
 * file of a newer one is refused). The file is watched: a write to a file deleted, replaced or made read-only
 * meanwhile fails with `ExperimentStoreError` instead of being reported done.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (filename: string): Layer.Layer<ExperimentStore, ExperimentStoreError> =>
  Layer.scoped(ExperimentStore, SqliteStore.open(filename))

/**
 * A store in PostgreSQL over the `SqlClient` in context (see `Storage.layerPostgres`): the SQLite store's
 * layout, its version kept in `dspy_schema_versions` under `experiments`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres: Layer.Layer<ExperimentStore, ExperimentStoreError, SqlClient.SqlClient> = Layer.effect(
  ExperimentStore,
  PostgresStore.open
)

/**
 * The store for tests: in memory.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<ExperimentStore> = layerMemory
