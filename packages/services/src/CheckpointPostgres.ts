/**
 * A checkpoint store (`Checkpoint.CheckpointStore` from `@effect-dspy/optimizers`) in PostgreSQL: the SQLite
 * store's table (`dspy_checkpoints`, one row per finished unit keyed by `(namespace, key)`, the value as JSON
 * text), over the `SqlClient` in context (a `PgClient`; `Storage.layerPostgres` gives one). Its schema version is
 * kept in `dspy_schema_versions` under `checkpoints`. Every `set` is committed before it returns, so a job resumed
 * by another process (or runner) reads every unit the first one finished.
 *
 * Same contract as `CheckpointSqlite`, `Checkpoint.makeMemory` and `Checkpoint.makeFile`.
 *
 * @since 0.1.0
 */
import { Checkpoint, OptimizerError } from "@effect-dspy/optimizers"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Pg from "./internal/postgres.js"

/** The migration steps (index 0: an empty database to version 1). */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    "CREATE TABLE dspy_checkpoints (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (namespace, key))"
  ]
]

const failure = (operation: string, key: string | undefined, reason: string) =>
  new OptimizerError.CheckpointError({
    operation,
    ...(key === undefined ? {} : { key }),
    message: `Checkpoint ${operation} failed${key === undefined ? "" : ` for ${key}`} in the PostgreSQL store: ${reason}`
  })

/**
 * Opens (creating or migrating when needed) the store over the `SqlClient` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Checkpoint.Service, OptimizerError.CheckpointError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    const migrated = yield* Effect.mapError(
      Pg.oneLine(Pg.migrate("checkpoints", migrations)),
      (reason) =>
        new OptimizerError.CheckpointError({
          operation: "open",
          message: `Could not open the PostgreSQL checkpoint store: ${reason}. Check that the server is up and the user may create tables.`
        })
    )
    if (migrated.newer) {
      return yield* new OptimizerError.CheckpointError({
        operation: "open",
        message: `The PostgreSQL checkpoint store has schema version ${migrated.found}, but this program reads versions up to ${migrations.length}: run the newer release, or use another database.`
      })
    }
    const statement = <A>(
      operation: string,
      key: string | undefined,
      body: Effect.Effect<A, unknown>
    ): Effect.Effect<A, OptimizerError.CheckpointError> =>
      Effect.mapError(Pg.oneLine(body), (reason) => failure(operation, key, reason))
    const service: Checkpoint.Service = {
      get: (namespace, key) =>
        statement(
          "get",
          key,
          Effect.flatMap(
            sql<{
              readonly value: string
            }>`SELECT value FROM dspy_checkpoints WHERE namespace = ${namespace} AND key = ${key}`,
            (rows) =>
              Effect.try(() => (rows.length === 0 ? Option.none() : Option.some(JSON.parse(rows[0]!.value) as unknown)))
          )
        ),
      set: (namespace, key, value) =>
        Effect.flatMap(
          Effect.try({
            try: () => JSON.stringify(value ?? null),
            catch: (cause) => failure("set", key, `the value is not JSON-serialisable: ${String(cause)}`)
          }),
          (json) =>
            statement(
              "set",
              key,
              Effect.asVoid(
                sql`INSERT INTO dspy_checkpoints (namespace, key, value) VALUES (${namespace}, ${key}, ${json})
                  ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value`
              )
            )
        ),
      size: (namespace) =>
        statement(
          "size",
          undefined,
          Effect.map(
            sql<{ readonly n: unknown }>`SELECT COUNT(*) AS n FROM dspy_checkpoints WHERE namespace = ${namespace}`,
            (rows) => Pg.num(rows[0]?.n ?? 0)
          )
        ),
      clear: (namespace) =>
        statement("clear", undefined, Effect.asVoid(sql`DELETE FROM dspy_checkpoints WHERE namespace = ${namespace}`))
    }
    return service
  }
)

/**
 * The store as the `CheckpointStore` layer (needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Checkpoint.CheckpointStore, OptimizerError.CheckpointError, SqlClient.SqlClient> =
  Layer.effect(Checkpoint.CheckpointStore, make)
