/**
 * The PostgreSQL experiment store: the SQLite store's layout (one row per experiment, the record as JSON text
 * plus the columns it is listed by), its schema version in `dspy_schema_versions` under `experiments`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Pg from "../../internal/postgres.js"
import type { ExperimentStoreError } from "../../ServicesError.js"
import * as ExperimentRecord from "../ExperimentRecord.js"
import * as Rows from "./rows.js"
import { LAYOUT_VERSION, type SqliteStore } from "./sqliteStore.js"

/** The migration steps (index 0: an empty database to the current layout). */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE dspy_experiments (id TEXT PRIMARY KEY, record TEXT NOT NULL, module_id TEXT NOT NULL,
      status TEXT NOT NULL, updated_at BIGINT NOT NULL)`,
    "CREATE INDEX dspy_experiments_module ON dspy_experiments (module_id)"
  ]
]

const failWith =
  (operation: string) =>
  <A, R>(self: Effect.Effect<A, unknown, R>): Effect.Effect<A, ExperimentStoreError, R> =>
    Pg.oneLine(self).pipe(Effect.mapError((reason) => ExperimentRecord.storeError(operation, reason)))

type Row = { readonly record: unknown }

/** Opens the store over the SqlClient in context, migrating it forward; refuses a newer layout. */
export const open: Effect.Effect<SqliteStore, ExperimentStoreError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // The PostgreSQL schema has its own version numbers (1: the SQLite layout 2); kept in step from here on.
  const migrated = yield* failWith("open")(Pg.migrate("experiments", migrations))
  if (migrated.newer) {
    return yield* Effect.fail(
      ExperimentRecord.storeError(
        "open",
        `the database was written by a newer version (schema ${migrated.found}, this one reads up to ${migrations.length}; SQLite layout ${LAYOUT_VERSION}); upgrade`
      )
    )
  }
  const store: SqliteStore = {
    put: (record) =>
      failWith("put")(
        sql.unsafe(
          `INSERT INTO dspy_experiments (id, record, module_id, status, updated_at) VALUES ($1, $2, $3, $4, $5)
          ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, module_id = EXCLUDED.module_id,
          status = EXCLUDED.status, updated_at = EXCLUDED.updated_at`,
          Rows.params(record)
        )
      ).pipe(Effect.asVoid),
    putIf: (record, expected) =>
      failWith("put")(
        expected === null
          ? sql.unsafe(
              `INSERT INTO dspy_experiments (id, record, module_id, status, updated_at) VALUES ($1, $2, $3, $4, $5)
              ON CONFLICT (id) DO NOTHING RETURNING id`,
              Rows.params(record)
            )
          : sql`UPDATE dspy_experiments SET record = ${JSON.stringify(record)}, module_id = ${record.moduleId},
              status = ${record.status}, updated_at = ${record.updatedAt}
              WHERE id = ${record.id} AND updated_at = ${expected} RETURNING id`
      ).pipe(Effect.map((rows) => rows.length > 0)),
    get: (id) =>
      failWith("get")(sql<Row>`SELECT record FROM dspy_experiments WHERE id = ${id}`).pipe(
        Effect.flatMap((rows) => (rows.length === 0 ? Effect.succeed(undefined) : Rows.parse(rows[0]!.record)))
      ),
    list: (moduleId) =>
      failWith("list")(
        moduleId === undefined
          ? sql<Row>`SELECT record FROM dspy_experiments ORDER BY id COLLATE "C"`
          : sql<Row>`SELECT record FROM dspy_experiments WHERE module_id = ${moduleId} ORDER BY id COLLATE "C"`
      ).pipe(Effect.flatMap((rows) => Effect.forEach(rows, (row) => Rows.parse(row.record))))
  }
  return store
})
