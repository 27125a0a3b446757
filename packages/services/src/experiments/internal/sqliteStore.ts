/**
 * The SQLite experiment store: one row per experiment, the record as JSON plus the columns it is listed by.
 *
 * Layout versions (`PRAGMA user_version`): 1 kept `id` and the JSON `record` only; 2 adds `module_id`, `status` and
 * `updated_at` (filled from the JSON when a version-1 file is opened) and an index by module, so listing a
 * module's experiments does not decode every record.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Sqlite from "../../internal/sqlite.js"
import type { ExperimentStoreError } from "../../ServicesError.js"
import * as ExperimentRecord from "../ExperimentRecord.js"
import * as Rows from "./rows.js"

/** The layout version written now. */
export const LAYOUT_VERSION = 2

/** What the store does, on its one connection. */
export interface SqliteStore {
  readonly put: (record: ExperimentRecord.ExperimentRecord) => Effect.Effect<void, ExperimentStoreError>
  readonly putIf: (
    record: ExperimentRecord.ExperimentRecord,
    expected: number | null
  ) => Effect.Effect<boolean, ExperimentStoreError>
  readonly get: (id: string) => Effect.Effect<ExperimentRecord.ExperimentRecord | undefined, ExperimentStoreError>
  readonly list: (
    moduleId?: string
  ) => Effect.Effect<ReadonlyArray<ExperimentRecord.ExperimentRecord>, ExperimentStoreError>
}

const failWith =
  (operation: string) =>
  <A, R>(self: Effect.Effect<A, unknown, R>): Effect.Effect<A, ExperimentStoreError, R> =>
    Sqlite.oneLine(self).pipe(Effect.mapError((reason) => ExperimentRecord.storeError(operation, reason)))

/** Opens (creating or upgrading when needed) the store at `filename`. */
export const open = (filename: string): Effect.Effect<SqliteStore, ExperimentStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const run = yield* failWith("open")(Sqlite.openReserved(filename))
    const setup = failWith("open")(
      Effect.gen(function* () {
        const rows = yield* run("PRAGMA user_version", [])
        const version = Number((rows[0] as { readonly user_version?: unknown } | undefined)?.user_version ?? 0)
        if (version > LAYOUT_VERSION)
          return yield* Effect.fail(
            `the database '${filename}' was written by a newer version (layout ${version}, this one reads up to ${LAYOUT_VERSION}); upgrade`
          )
        const tables = yield* run(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'dspy_experiments'",
          []
        )
        if (tables.length === 0) {
          yield* run(
            `CREATE TABLE dspy_experiments (id TEXT PRIMARY KEY, record TEXT NOT NULL, module_id TEXT NOT NULL,
              status TEXT NOT NULL, updated_at INTEGER NOT NULL)`,
            []
          )
        } else if (version < 2) {
          // Version 1 -> 2: the listing columns, filled from each record's JSON, in one transaction.
          yield* run("BEGIN IMMEDIATE", [])
          yield* Effect.gen(function* () {
            yield* run("ALTER TABLE dspy_experiments ADD COLUMN module_id TEXT NOT NULL DEFAULT ''", [])
            yield* run("ALTER TABLE dspy_experiments ADD COLUMN status TEXT NOT NULL DEFAULT ''", [])
            yield* run("ALTER TABLE dspy_experiments ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0", [])
            yield* run(
              `UPDATE dspy_experiments SET module_id = json_extract(record, '$.moduleId'),
                status = json_extract(record, '$.status'), updated_at = json_extract(record, '$.updatedAt')`,
              []
            )
            yield* run(`PRAGMA user_version = ${LAYOUT_VERSION}`, [])
            yield* run("COMMIT", [])
          }).pipe(Effect.tapError(() => Effect.ignore(run("ROLLBACK", []))))
        }
        yield* run("CREATE INDEX IF NOT EXISTS dspy_experiments_module ON dspy_experiments (module_id)", [])
        yield* run(`PRAGMA user_version = ${LAYOUT_VERSION}`, [])
      })
    )
    yield* setup
    const store: SqliteStore = {
      put: (record) =>
        failWith("put")(
          run(
            `INSERT INTO dspy_experiments (id, record, module_id, status, updated_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (id) DO UPDATE SET record = excluded.record, module_id = excluded.module_id,
              status = excluded.status, updated_at = excluded.updated_at`,
            Rows.params(record)
          )
        ).pipe(Effect.asVoid),
      putIf: (record, expected) =>
        failWith("put")(
          expected === null
            ? run(
                `INSERT INTO dspy_experiments (id, record, module_id, status, updated_at) VALUES (?, ?, ?, ?, ?)
                  ON CONFLICT (id) DO NOTHING RETURNING id`,
                Rows.params(record)
              )
            : run(
                `UPDATE dspy_experiments SET record = ?, module_id = ?, status = ?, updated_at = ?
                  WHERE id = ? AND updated_at = ? RETURNING id`,
                [JSON.stringify(record), record.moduleId, record.status, record.updatedAt, record.id, expected]
              )
        ).pipe(Effect.map((rows) => rows.length > 0)),
      get: (id) =>
        failWith("get")(run("SELECT record FROM dspy_experiments WHERE id = ?", [id])).pipe(
          Effect.flatMap((rows) =>
            rows.length === 0 ? Effect.succeed(undefined) : Rows.parse((rows[0] as { readonly record: unknown }).record)
          )
        ),
      list: (moduleId) =>
        failWith("list")(
          moduleId === undefined
            ? run("SELECT record FROM dspy_experiments ORDER BY id", [])
            : run("SELECT record FROM dspy_experiments WHERE module_id = ? ORDER BY id", [moduleId])
        ).pipe(
          Effect.flatMap((rows) =>
            Effect.forEach(rows, (row) => Rows.parse((row as { readonly record: unknown }).record))
          )
        )
    }
    return store
  })
