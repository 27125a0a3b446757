/**
 * A checkpoint store (`Checkpoint.CheckpointStore` from `@effect-dspy/optimizers`) in a SQLite database: one
 * row per finished unit of optimizer work, in the table `dspy_checkpoints` keyed by `(namespace, key)`, the
 * value as JSON text. Every `set` is written before it returns, so a run interrupted at any point (the process
 * killed, the application restarted) reads back every unit it finished.
 *
 * The store can live in the OptimizationCoordinator's job database (its `filename`): jobs and their
 * checkpoints are then one file, and a restarted application given that file recovers the jobs and resumes
 * them.
 *
 * ```ts
 * const app = Application.layerDefault({ optimization: { coordinator: { filename: "data/optimization.db" } } }).pipe(
 *   Layer.provide(CheckpointSqlite.layer({ filename: "data/optimization.db" }))
 * )
 * ```
 *
 * Same contract as `Checkpoint.makeMemory` and `Checkpoint.makeFile`: `get` gives what the last `set` of a unit
 * stored (as JSON gives it back), `size` counts a namespace's units, `clear` forgets a namespace.
 *
 * @since 0.1.0
 */
import { Checkpoint, OptimizerError } from "@effect-dspy/optimizers"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Sqlite from "./internal/sqlite.js"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file (created with its folder when missing; `":memory:"` for a private in-memory one). */
  readonly filename: string
}

/**
 * The table the store keeps its units in.
 *
 * @since 0.1.0
 * @category constants
 */
export const table = "dspy_checkpoints"

const failure = (operation: string, key: string | undefined, reason: string, filename: string) =>
  new OptimizerError.CheckpointError({
    operation,
    ...(key === undefined ? {} : { key }),
    message: `Checkpoint ${operation} failed${key === undefined ? "" : ` for ${key}`} in the SQLite store ${filename}: ${reason}`
  })

/**
 * Opens (creating when needed) the store in `filename` for the scope's lifetime.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Checkpoint.Service, OptimizerError.CheckpointError, Scope.Scope> =>
  Effect.gen(function* () {
    const { filename } = options
    const run = yield* Effect.mapError(
      Sqlite.oneLine(
        Effect.gen(function* () {
          const run = yield* Sqlite.openReserved(filename)
          yield* run(
            `CREATE TABLE IF NOT EXISTS ${table} (
              namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (namespace, key))`,
            []
          )
          return run
        })
      ),
      (reason) =>
        new OptimizerError.CheckpointError({
          operation: "open",
          message: `Could not open the SQLite checkpoint store ${filename}: ${reason}. Check the path and permissions.`
        })
    )
    const statement = <A>(
      operation: string,
      key: string | undefined,
      sql: string,
      params: ReadonlyArray<unknown>,
      read: (rows: ReadonlyArray<unknown>) => A
    ): Effect.Effect<A, OptimizerError.CheckpointError> =>
      Effect.mapError(
        Sqlite.oneLine(Effect.flatMap(run(sql, params), (rows) => Effect.try(() => read(rows)))),
        (reason) => failure(operation, key, reason, filename)
      )
    const service: Checkpoint.Service = {
      get: (namespace, key) =>
        statement("get", key, `SELECT value FROM ${table} WHERE namespace = ? AND key = ?`, [namespace, key], (rows) =>
          rows.length === 0
            ? Option.none()
            : Option.some(JSON.parse((rows[0] as { readonly value: string }).value) as unknown)
        ),
      set: (namespace, key, value) =>
        Effect.flatMap(
          Effect.try({
            try: () => JSON.stringify(value ?? null),
            catch: (cause) => failure("set", key, `the value is not JSON-serialisable: ${String(cause)}`, filename)
          }),
          (json) =>
            statement(
              "set",
              key,
              `INSERT INTO ${table} (namespace, key, value) VALUES (?, ?, ?)
                ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value`,
              [namespace, key, json],
              () => undefined
            )
        ),
      size: (namespace) =>
        statement("size", undefined, `SELECT COUNT(*) AS n FROM ${table} WHERE namespace = ?`, [namespace], (rows) =>
          Number((rows[0] as { readonly n: number }).n)
        ),
      clear: (namespace) =>
        statement("clear", undefined, `DELETE FROM ${table} WHERE namespace = ?`, [namespace], () => undefined)
    }
    return service
  })

/**
 * The store as the `CheckpointStore` layer (open for the layer's lifetime).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Checkpoint.CheckpointStore, OptimizerError.CheckpointError> =>
  Layer.scoped(Checkpoint.CheckpointStore, make(options))
