/**
 * The run store in PostgreSQL: the SQLite store's layout-2 tables (`workflow_runs`, one row per step boundary in
 * `workflow_run_boundaries`, `workflow_routers`) and its row codec (`runRows.ts`), its schema version in
 * `dspy_schema_versions` under `workflow_runs`. A boundary is one `INSERT` (committed when it returns); one that
 * changes the run's status updates its row in the same transaction. Saving a run replaces its row and its
 * boundaries in one transaction; removing runs (an erasure) deletes their rows and boundaries in one.
 */
import { Storage } from "@effect-dspy/services"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as RunRecord from "../RunRecord.js"
import type { Service } from "../RunStore.js"
import type { RunStoreError } from "../WorkflowError.js"
import * as codec from "./runRows.js"

/** The migration steps (index 0: an empty database to version 1, the SQLite layout 2). */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    "CREATE TABLE workflow_runs (run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, updated_at BIGINT NOT NULL, record TEXT NOT NULL)",
    "CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow, updated_at)",
    "CREATE TABLE workflow_run_boundaries (seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, boundary TEXT NOT NULL)",
    "CREATE INDEX workflow_run_boundaries_by_run ON workflow_run_boundaries (run_id, seq)",
    "CREATE TABLE workflow_routers (key TEXT PRIMARY KEY, state TEXT NOT NULL)"
  ]
]

type Row = { readonly [column: string]: unknown }

/** Opens the store over the PostgreSQL `SqlClient` in context, migrating it forward; refuses a newer schema. */
export const open: Effect.Effect<Service, RunStoreError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const fail = (operation: string) => (e: unknown) => codec.storeError(operation, codec.describe(e))
  const migrated = yield* Effect.mapError(Storage.migratePostgres("workflow_runs", migrations), (e) =>
    codec.storeError("open", `${codec.describe(e)}; check that the server is up and the user may create tables`)
  )
  if (migrated.newer) {
    return yield* codec.storeError(
      "open",
      `the database was written by a newer version (schema version ${migrated.found}; this one reads up to ${migrations.length}): upgrade, or use another database`
    )
  }
  /** The status column as last written by this store, per unfinished run (a change updates the row). */
  const statusOf = new Map<string, RunRecord.Status>()
  const remember = (runId: string, status: RunRecord.Status) => {
    if (status === "running") statusOf.set(runId, status)
    else statusOf.delete(runId)
  }
  const insertBoundary = (runId: string, text: string) =>
    sql`INSERT INTO workflow_run_boundaries (run_id, boundary) VALUES (${runId}, ${text})`
  const service: Service = {
    save: (record) =>
      sql
        .withTransaction(
          Effect.zipRight(
            sql`INSERT INTO workflow_runs (run_id, workflow, status, updated_at, record)
              VALUES (${record.runId}, ${record.workflow}, ${record.status}, ${record.updatedAt}, ${JSON.stringify(record)})
              ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
              record = EXCLUDED.record`,
            sql`DELETE FROM workflow_run_boundaries WHERE run_id = ${record.runId}`
          )
        )
        .pipe(
          Effect.mapError(fail("save")),
          Effect.tap(() => Effect.sync(() => remember(record.runId, record.status)))
        ),
    remove: (runIds) =>
      runIds.length === 0
        ? Effect.succeed(0)
        : sql
            .withTransaction(
              Effect.zipRight(
                sql`DELETE FROM workflow_run_boundaries WHERE run_id IN ${sql.in(runIds)}`,
                sql<Row>`DELETE FROM workflow_runs WHERE run_id IN ${sql.in(runIds)} RETURNING run_id`
              )
            )
            .pipe(
              Effect.mapError(fail("remove")),
              Effect.map((removed) => {
                for (const runId of runIds) statusOf.delete(runId)
                return removed.length
              })
            ),
    append: (runId, boundary) =>
      Effect.suspend(() => {
        const text = JSON.stringify(boundary)
        // The common boundary (a step finished, the run still running) is one small insert.
        if (statusOf.get(runId) === boundary.status) return Effect.asVoid(insertBoundary(runId, text))
        return sql
          .withTransaction(
            Effect.zipRight(
              insertBoundary(runId, text),
              sql`UPDATE workflow_runs SET status = ${boundary.status}, updated_at = ${boundary.at} WHERE run_id = ${runId}`
            )
          )
          .pipe(Effect.tap(() => Effect.sync(() => remember(runId, boundary.status))))
      }).pipe(Effect.mapError(fail("append")), Effect.asVoid),
    saveRouters: (states) =>
      states.length === 0
        ? Effect.void
        : sql
            .withTransaction(
              Effect.forEach(
                states,
                ({ key, state }) =>
                  sql`INSERT INTO workflow_routers (key, state) VALUES (${key}, ${JSON.stringify(state)})
                    ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state`,
                { discard: true }
              )
            )
            .pipe(Effect.mapError(fail("saveRouters"))),
    getRouter: (key) =>
      sql<Row>`SELECT state FROM workflow_routers WHERE key = ${key}`.pipe(
        Effect.mapError(fail("getRouter")),
        Effect.flatMap((found) => {
          const row = found[0]
          if (row === undefined) return Effect.succeed(undefined)
          return Effect.try({
            try: () => JSON.parse(String(row.state)) as unknown,
            catch: (e) => codec.storeError("getRouter", `router "${key}"'s stored state is not JSON: ${String(e)}`)
          })
        })
      ),
    get: (runId) =>
      Effect.all([
        sql<Row>`SELECT record FROM workflow_runs WHERE run_id = ${runId}`,
        sql<Row>`SELECT boundary FROM workflow_run_boundaries WHERE run_id = ${runId} ORDER BY seq`
      ]).pipe(
        Effect.mapError(fail("get")),
        Effect.flatMap(([found, boundaries]) => {
          const row = found[0]
          if (row === undefined) return Effect.succeed(undefined)
          return Either.match(
            codec.decodeText(
              String(row.record),
              boundaries.map((b) => String(b.boundary))
            ),
            {
              onLeft: (reason) => Effect.fail(codec.storeError("get", reason)),
              onRight: Effect.succeed
            }
          )
        })
      ),
    list: (workflow) =>
      (workflow === undefined
        ? sql<Row>`SELECT run_id, workflow, status, updated_at FROM workflow_runs ORDER BY updated_at DESC`
        : sql<Row>`SELECT run_id, workflow, status, updated_at FROM workflow_runs WHERE workflow = ${workflow} ORDER BY updated_at DESC`
      ).pipe(
        Effect.mapError(fail("list")),
        Effect.map((found) => found.map(codec.summaryOf))
      )
  }
  return service
})
