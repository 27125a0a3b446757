/**
 * The OptimizationCoordinator's job table: one SQLite database (`@effect/sql-sqlite-node`; `":memory:"` for a
 * private in-memory one) with one row per job. Examples, budgets and results are stored as JSON text; times are
 * epoch milliseconds from Effect's Clock. Every failure is a one-line description (the coordinator wraps it
 * in its typed error).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Status } from "../../OptimizationCoordinator.js"
import * as Sqlite from "../sqlite.js"

/** A job's status. */
export type JobStatus = Status

/** A job row as plain data. */
export interface JobRow {
  readonly id: string
  readonly dedupeKey: string
  readonly moduleId: string
  readonly moduleVersion: number
  /**
   * JSON: `Module.dumpState` of the program the job optimizes (module versions are numbered per application, so
   * this is what identifies the student across restarts); null in rows written before the column existed.
   */
  readonly studentState: string | null
  readonly optimizer: string
  readonly metric: string
  readonly priority: number
  readonly seq: number
  readonly seed: number
  /** JSON: `{ trainset, valset }` as `Example.ExampleJson` arrays (valset may be null). */
  readonly data: string
  /** JSON: `Budget.Limits` or null. */
  readonly budget: string
  readonly status: JobStatus
  readonly servingScore: number | null
  readonly optimizedScore: number | null
  /** The module version the decision compared against (and a swap replaced). */
  readonly servingVersion: number | null
  readonly swappedVersion: number | null
  readonly error: string | null
  readonly createdAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
}

/** The job table. */
export interface JobStore {
  readonly insert: (row: JobRow) => Effect.Effect<void, string>
  readonly update: (id: string, patch: Partial<Omit<JobRow, "id">>) => Effect.Effect<void, string>
  /**
   * Compare-and-swap on the job's status: applies the patch only if the job's status is `expected`, in one
   * statement; gives whether it applied (a transition two processes race for happens once).
   */
  readonly updateIf: (
    id: string,
    expected: JobStatus,
    patch: Partial<Omit<JobRow, "id">>
  ) => Effect.Effect<boolean, string>
  readonly all: Effect.Effect<ReadonlyArray<JobRow>, string>
}

const columns: ReadonlyArray<readonly [keyof JobRow, string]> = [
  ["id", "id"],
  ["dedupeKey", "dedupe_key"],
  ["moduleId", "module_id"],
  ["moduleVersion", "module_version"],
  ["studentState", "student_state"],
  ["optimizer", "optimizer"],
  ["metric", "metric"],
  ["priority", "priority"],
  ["seq", "seq"],
  ["seed", "seed"],
  ["data", "data"],
  ["budget", "budget"],
  ["status", "status"],
  ["servingScore", "serving_score"],
  ["optimizedScore", "optimized_score"],
  ["servingVersion", "serving_version"],
  ["swappedVersion", "swapped_version"],
  ["error", "error"],
  ["createdAt", "created_at"],
  ["startedAt", "started_at"],
  ["finishedAt", "finished_at"]
]
/** The table's columns, in order (the PostgreSQL store writes the same ones). */
export const jobColumns = columns
const columnOf = new Map(columns)

/** Columns added after the first version of the table, with their types. */
const added: ReadonlyArray<readonly [string, string]> = [
  ["student_state", "TEXT"],
  ["serving_version", "INTEGER"]
]

const oneLine = Sqlite.oneLine

/** Opens (creating when needed) the job database at `filename`. */
export const open = (filename: string): Effect.Effect<JobStore, string, Scope.Scope> =>
  oneLine(
    Effect.gen(function* () {
      const run = yield* Sqlite.openReserved(filename)
      yield* run(
        `CREATE TABLE IF NOT EXISTS dspy_optimization_jobs (
          id TEXT PRIMARY KEY, dedupe_key TEXT NOT NULL, module_id TEXT NOT NULL, module_version INTEGER NOT NULL,
          student_state TEXT, optimizer TEXT NOT NULL, metric TEXT NOT NULL, priority INTEGER NOT NULL,
          seq INTEGER NOT NULL, seed INTEGER NOT NULL, data TEXT NOT NULL, budget TEXT NOT NULL, status TEXT NOT NULL,
          serving_score REAL, optimized_score REAL, serving_version INTEGER, swapped_version INTEGER, error TEXT,
          created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER)`,
        []
      )
      // A database written by an older coordinator gets the columns added since (null in its rows).
      const present = new Set(
        (yield* run("PRAGMA table_info(dspy_optimization_jobs)", [])).map((r) => (r as { readonly name: string }).name)
      )
      for (const [column, type] of added) {
        if (!present.has(column)) yield* run(`ALTER TABLE dspy_optimization_jobs ADD COLUMN ${column} ${type}`, [])
      }
      const store: JobStore = {
        insert: (row) =>
          oneLine(
            Effect.asVoid(
              run(
                `INSERT INTO dspy_optimization_jobs (${columns.map(([, c]) => c).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
                columns.map(([k]) => row[k])
              )
            )
          ),
        update: (id, patch) => {
          const entries = Object.entries(patch).filter(([, v]) => v !== undefined)
          if (entries.length === 0) return Effect.void
          return oneLine(
            Effect.asVoid(
              run(
                `UPDATE dspy_optimization_jobs SET ${entries.map(([k]) => `${columnOf.get(k as keyof JobRow)} = ?`).join(", ")} WHERE id = ?`,
                [...entries.map(([, v]) => v), id]
              )
            )
          )
        },
        updateIf: (id, expected, patch) => {
          const entries = Object.entries(patch).filter(([, v]) => v !== undefined)
          const sets = entries.map(([k]) => `${columnOf.get(k as keyof JobRow)} = ?`)
          return oneLine(
            Effect.map(
              run(
                `UPDATE dspy_optimization_jobs SET ${sets.length === 0 ? "status = status" : sets.join(", ")} WHERE id = ? AND status = ? RETURNING id`,
                [...entries.map(([, v]) => v), id, expected]
              ),
              (rows) => rows.length > 0
            )
          )
        },
        all: oneLine(
          Effect.map(run("SELECT * FROM dspy_optimization_jobs ORDER BY seq", []), (rows) =>
            rows.map((r) => {
              const record = r as { readonly [column: string]: unknown }
              return Object.fromEntries(columns.map(([k, c]) => [k, record[c] ?? null])) as unknown as JobRow
            })
          )
        )
      }
      return store
    })
  )
