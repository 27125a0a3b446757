/**
 * The OptimizationCoordinator's job table in PostgreSQL: the SQLite table's columns (JSON as text, times as epoch
 * milliseconds in BIGINT), its schema version in `dspy_schema_versions` under `optimization_jobs`. Failures are
 * one-line descriptions, as from the SQLite store.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Pg from "../postgres.js"
import { type JobRow, type JobStore, jobColumns } from "./store.js"

/** The migration steps (index 0: an empty database to version 1). */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE dspy_optimization_jobs (
      id TEXT PRIMARY KEY, dedupe_key TEXT NOT NULL, module_id TEXT NOT NULL, module_version INTEGER NOT NULL,
      student_state TEXT, optimizer TEXT NOT NULL, metric TEXT NOT NULL, priority INTEGER NOT NULL,
      seq BIGINT NOT NULL, seed BIGINT NOT NULL, data TEXT NOT NULL, budget TEXT NOT NULL, status TEXT NOT NULL,
      serving_score DOUBLE PRECISION, optimized_score DOUBLE PRECISION, serving_version INTEGER,
      swapped_version INTEGER, error TEXT, created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT)`,
    "CREATE INDEX dspy_optimization_jobs_seq ON dspy_optimization_jobs (seq)"
  ]
]

const numeric: ReadonlySet<keyof JobRow> = new Set<keyof JobRow>([
  "moduleVersion",
  "priority",
  "seq",
  "seed",
  "servingScore",
  "optimizedScore",
  "servingVersion",
  "swappedVersion",
  "createdAt",
  "startedAt",
  "finishedAt"
])
const columnOf = new Map(jobColumns)

const rowOf = (record: { readonly [column: string]: unknown }): JobRow =>
  Object.fromEntries(
    jobColumns.map(([k, c]) => {
      const value = record[c] ?? null
      return [k, numeric.has(k) ? Pg.numOrNull(value) : value]
    })
  ) as unknown as JobRow

/** Opens the job table over the SqlClient in context, migrating it forward; refuses a newer schema. */
export const open: Effect.Effect<JobStore, string, SqlClient.SqlClient> = Pg.oneLine(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const migrated = yield* Pg.migrate("optimization_jobs", migrations)
    if (migrated.newer) {
      return yield* Effect.fail(
        `the job table has schema version ${migrated.found}, but this program reads versions up to ${migrations.length}: it was written by a newer release`
      )
    }
    const setClause = (patch: Partial<Omit<JobRow, "id">>, from: number) => {
      const entries = Object.entries(patch).filter(([, v]) => v !== undefined)
      return {
        text: entries.map(([k], i) => `${columnOf.get(k as keyof JobRow)} = $${from + i}`).join(", "),
        values: entries.map(([, v]) => v)
      }
    }
    const store: JobStore = {
      insert: (row) =>
        Pg.oneLine(
          Effect.asVoid(
            sql.unsafe(
              `INSERT INTO dspy_optimization_jobs (${jobColumns.map(([, c]) => c).join(", ")}) VALUES (${jobColumns.map((_, i) => `$${i + 1}`).join(", ")})`,
              jobColumns.map(([k]) => row[k])
            )
          )
        ),
      update: (id, patch) => {
        const set = setClause(patch, 1)
        if (set.values.length === 0) return Effect.void
        return Pg.oneLine(
          Effect.asVoid(
            sql.unsafe(`UPDATE dspy_optimization_jobs SET ${set.text} WHERE id = $${set.values.length + 1}`, [
              ...set.values,
              id
            ])
          )
        )
      },
      updateIf: (id, expected, patch) => {
        const set = setClause(patch, 1)
        const n = set.values.length
        return Pg.oneLine(
          Effect.map(
            sql.unsafe(
              `UPDATE dspy_optimization_jobs SET ${set.text === "" ? "status = status" : set.text} WHERE id = $${n + 1} AND status = $${n + 2} RETURNING id`,
              [...set.values, id, expected]
            ),
            (rows) => rows.length > 0
          )
        )
      },
      all: Pg.oneLine(
        Effect.map(
          sql<{ readonly [column: string]: unknown }>`SELECT * FROM dspy_optimization_jobs ORDER BY seq`,
          (rows) => rows.map(rowOf)
        )
      )
    }
    return store
  })
)
