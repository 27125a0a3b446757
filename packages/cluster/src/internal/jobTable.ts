/**
 * The cluster's job table (`dspy_cluster_jobs` on PostgreSQL): one row per optimization job, with the fencing
 * token (`epoch`) every write of a job's run checks. A run claims the job by bumping the epoch; a write made with
 * an older epoch (a runner that was stopped and lost its shard, then resumed) changes nothing.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** The table of schema versions shared with the services' PostgreSQL stores (one row per store). */
const versionsTable = "dspy_schema_versions"

/** The advisory lock key that serialises migrations (the services' stores use the same one). */
const migrationLock = 0x64_73_70_79

/** The migration steps (index 0: an empty database to version 1). */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE dspy_cluster_jobs (
      id TEXT PRIMARY KEY,
      module_id TEXT NOT NULL,
      optimizer TEXT NOT NULL,
      metric TEXT NOT NULL,
      seed INTEGER NOT NULL,
      data TEXT NOT NULL,
      base_version INTEGER NOT NULL,
      status TEXT NOT NULL,
      epoch INTEGER NOT NULL DEFAULT 0,
      owner TEXT,
      runs INTEGER NOT NULL DEFAULT 0,
      units INTEGER NOT NULL DEFAULT 0,
      resumed_units INTEGER NOT NULL DEFAULT 0,
      swapped_version INTEGER,
      score DOUBLE PRECISION,
      error TEXT,
      created_at BIGINT NOT NULL,
      started_at BIGINT,
      progressed_at BIGINT,
      finished_at BIGINT
    )`
  ],
  // Version 2: when a runner received the job (before it waited for a worker), and how often the watchdog sent it again.
  [
    "ALTER TABLE dspy_cluster_jobs ADD COLUMN received_at BIGINT",
    "ALTER TABLE dspy_cluster_jobs ADD COLUMN resends INTEGER NOT NULL DEFAULT 0"
  ]
]

/** The schema version this code writes. */
export const schemaVersion = migrations.length

/** One line saying why an effect failed. */
export const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (!(error instanceof Error)) return String(error)
  const inner = (error as { readonly cause?: unknown }).cause
  return inner instanceof Error && inner.message !== error.message
    ? `${error.message}: ${inner.message}`
    : error.message
}

/** The effect with any failure or defect turned into {@link describe}'s line. */
export const oneLine = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, string, R> =>
  self.pipe(Effect.sandbox, Effect.mapError(describe))

/** A job's row. */
export interface JobRow {
  readonly id: string
  readonly moduleId: string
  readonly optimizer: string
  readonly metric: string
  readonly seed: number
  readonly data: string
  readonly baseVersion: number
  readonly status: string
  readonly epoch: number
  readonly owner: string | null
  readonly runs: number
  readonly units: number
  readonly resumedUnits: number
  readonly swappedVersion: number | null
  readonly score: number | null
  readonly error: string | null
  readonly createdAt: number
  readonly startedAt: number | null
  readonly progressedAt: number | null
  readonly finishedAt: number | null
  /** When a runner first received the job's message (before it waited for a worker). */
  readonly receivedAt: number | null
  /** How often the watchdog sent the job's message again. */
  readonly resends: number
}

const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))

const rowOf = (r: { readonly [column: string]: unknown }): JobRow => ({
  id: String(r.id),
  moduleId: String(r.module_id),
  optimizer: String(r.optimizer),
  metric: String(r.metric),
  seed: Number(r.seed),
  data: String(r.data),
  baseVersion: Number(r.base_version),
  status: String(r.status),
  epoch: Number(r.epoch),
  owner: r.owner === null ? null : String(r.owner),
  runs: Number(r.runs),
  units: Number(r.units),
  resumedUnits: Number(r.resumed_units),
  swappedVersion: numOrNull(r.swapped_version),
  score: numOrNull(r.score),
  error: r.error === null ? null : String(r.error),
  createdAt: Number(r.created_at),
  startedAt: numOrNull(r.started_at),
  progressedAt: numOrNull(r.progressed_at),
  finishedAt: numOrNull(r.finished_at),
  receivedAt: numOrNull(r.received_at),
  resends: r.resends === undefined || r.resends === null ? 0 : Number(r.resends)
})

/** What a claim gives: the run's epoch, or the job as it is when it is not claimable (finished). */
export type Claim =
  | { readonly _tag: "Claimed"; readonly row: JobRow }
  | { readonly _tag: "Finished"; readonly row: JobRow }
  | { readonly _tag: "Missing" }

/** The table's operations (each fails with a one-line reason). */
export interface JobTable {
  readonly insert: (row: {
    readonly id: string
    readonly moduleId: string
    readonly optimizer: string
    readonly metric: string
    readonly seed: number
    readonly data: string
    readonly baseVersion: number
    readonly createdAt: number
  }) => Effect.Effect<void, string>
  readonly get: (id: string) => Effect.Effect<Option.Option<JobRow>, string>
  readonly list: Effect.Effect<ReadonlyArray<JobRow>, string>
  /** The jobs not finished (queued or running). */
  readonly live: Effect.Effect<ReadonlyArray<JobRow>, string>
  /** Records that `owner` received a queued job (it waits there for a worker). */
  readonly accept: (id: string, owner: string, at: number) => Effect.Effect<void, string>
  /** Counts a resend of the job's message by the watchdog. */
  readonly resent: (id: string) => Effect.Effect<void, string>
  /** Claims a live job for a new run on `owner`: bumps its epoch and its runs (one statement). */
  readonly claim: (id: string, owner: string, at: number) => Effect.Effect<Claim, string>
  /**
   * Every checkpoint unit stored under `namespace` (key -> JSON), in one statement. Read after a claim, it is
   * complete: a run with an older epoch can no longer write (`writeUnits` is fenced on the job's row).
   */
  readonly units: (namespace: string) => Effect.Effect<ReadonlyMap<string, string>, string>
  /**
   * Writes checkpoint units for the run `epoch` and counts them, in one statement (one commit): the job's row is
   * updated (and locked) only while its epoch is `epoch`, and the units are written only if it was; all or none.
   * False when the run was fenced off (nothing written). The units go to the checkpoint store's table
   * (`dspy_checkpoints`, made by `CheckpointPostgres`), so the other runs read them back. Keys must differ.
   */
  readonly writeUnits: (
    id: string,
    epoch: number,
    units: ReadonlyArray<{ readonly namespace: string; readonly key: string; readonly json: string }>,
    at: number
  ) => Effect.Effect<boolean, string>
  /**
   * Cancels a live job: its status becomes `cancelled` and its epoch moves on, so its run (if any) is fenced off
   * at its next write. The row as it is after (unchanged when the job had ended), or none.
   */
  readonly cancel: (id: string, at: number) => Effect.Effect<Option.Option<JobRow>, string>
  /**
   * Ends the run `epoch` with a status (false when the run was fenced off). A swap also ends a job that was
   * cancelled while the swap was being written (the cancel's epoch is the run's plus one): the swap stands.
   */
  readonly finish: (
    id: string,
    epoch: number,
    changes: {
      readonly status: string
      readonly resumedUnits: number
      readonly swappedVersion?: number
      readonly score?: number
      readonly error?: string
      readonly at: number
    }
  ) => Effect.Effect<boolean, string>
}

/** Opens the table (creating or migrating it) over the `SqlClient` in context. */
export const open: Effect.Effect<JobTable, string, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const found = yield* oneLine(
    sql.withTransaction(
      Effect.gen(function* () {
        yield* sql`SELECT pg_advisory_xact_lock(${migrationLock})`
        yield* sql.unsafe(
          `CREATE TABLE IF NOT EXISTS ${versionsTable} (store TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at BIGINT NOT NULL)`
        )
        const rows = yield* sql<{
          version: number
        }>`SELECT version FROM ${sql(versionsTable)} WHERE store = 'cluster_jobs'`
        const found = rows.length === 0 ? 0 : Number(rows[0]!.version)
        if (found < migrations.length) {
          for (const step of migrations.slice(found)) for (const statement of step) yield* sql.unsafe(statement)
          yield* sql`INSERT INTO ${sql(versionsTable)} (store, version, updated_at)
            VALUES ('cluster_jobs', ${migrations.length}, ${Date.now()})
            ON CONFLICT (store) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`
        }
        return found
      })
    )
  )
  if (found > migrations.length) {
    return yield* Effect.fail(
      `the cluster job table has schema version ${found}, but this program reads versions up to ${migrations.length}: run the newer release, or use another database`
    )
  }
  const table: JobTable = {
    insert: (row) =>
      oneLine(
        sql`INSERT INTO dspy_cluster_jobs (id, module_id, optimizer, metric, seed, data, base_version, status, created_at)
          VALUES (${row.id}, ${row.moduleId}, ${row.optimizer}, ${row.metric}, ${row.seed}, ${row.data}, ${row.baseVersion}, 'queued', ${row.createdAt})`
      ).pipe(Effect.asVoid),
    get: (id) =>
      oneLine(
        Effect.map(sql`SELECT * FROM dspy_cluster_jobs WHERE id = ${id}`, (rows) =>
          rows.length === 0 ? Option.none() : Option.some(rowOf(rows[0]!))
        )
      ),
    list: oneLine(Effect.map(sql`SELECT * FROM dspy_cluster_jobs ORDER BY created_at, id`, (rows) => rows.map(rowOf))),
    live: oneLine(
      Effect.map(
        sql`SELECT * FROM dspy_cluster_jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id`,
        (rows) => rows.map(rowOf)
      )
    ),
    accept: (id, owner, at) =>
      oneLine(
        sql`UPDATE dspy_cluster_jobs SET owner = ${owner}, progressed_at = ${at}, received_at = COALESCE(received_at, ${at})
          WHERE id = ${id} AND status = 'queued'`
      ).pipe(Effect.asVoid),
    resent: (id) =>
      oneLine(sql`UPDATE dspy_cluster_jobs SET resends = resends + 1 WHERE id = ${id}`).pipe(Effect.asVoid),
    claim: (id, owner, at) =>
      oneLine(
        Effect.gen(function* () {
          // One statement (the row is locked while it is updated): a live job gets a new epoch.
          const updated = yield* sql`UPDATE dspy_cluster_jobs
            SET epoch = epoch + 1, runs = runs + 1, owner = ${owner}, status = 'running',
              received_at = COALESCE(received_at, ${at}), started_at = COALESCE(started_at, ${at}), progressed_at = ${at}
            WHERE id = ${id} AND status IN ('queued', 'running') RETURNING *`
          if (updated.length > 0) return { _tag: "Claimed", row: rowOf(updated[0]!) } as const
          const rows = yield* sql`SELECT * FROM dspy_cluster_jobs WHERE id = ${id}`
          if (rows.length === 0) return { _tag: "Missing" } as const
          return { _tag: "Finished", row: rowOf(rows[0]!) } as const
        })
      ),
    units: (namespace) =>
      oneLine(
        Effect.map(
          sql<{
            readonly key: string
            readonly value: string
          }>`SELECT key, value FROM dspy_checkpoints WHERE namespace = ${namespace}`,
          (rows) => new Map(rows.map((r) => [String(r.key), String(r.value)]))
        )
      ),
    writeUnits: (id, epoch, units, at) =>
      oneLine(
        Effect.map(
          sql.unsafe(
            `WITH fence AS (
              UPDATE dspy_cluster_jobs SET units = units + $1, progressed_at = $2
              WHERE id = $3 AND epoch = $4 RETURNING id
            )
            INSERT INTO dspy_checkpoints (namespace, key, value)
            SELECT u.namespace, u.key, u.value
            FROM unnest($5::text[], $6::text[], $7::text[]) AS u(namespace, key, value), fence
            ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value
            RETURNING key`,
            [
              units.length,
              at,
              id,
              epoch,
              units.map((u) => u.namespace),
              units.map((u) => u.key),
              units.map((u) => u.json)
            ]
          ),
          (rows) => rows.length > 0
        )
      ),
    cancel: (id, at) =>
      oneLine(
        sql.withTransaction(
          Effect.gen(function* () {
            const rows = yield* sql`UPDATE dspy_cluster_jobs
              SET status = 'cancelled', epoch = epoch + 1, error = 'cancelled', finished_at = ${at}, progressed_at = ${at}
              WHERE id = ${id} AND status IN ('queued', 'running') RETURNING *`
            if (rows.length > 0) return Option.some(rowOf(rows[0]!))
            const found = yield* sql`SELECT * FROM dspy_cluster_jobs WHERE id = ${id}`
            return found.length === 0 ? Option.none() : Option.some(rowOf(found[0]!))
          })
        )
      ),
    finish: (id, epoch, changes) =>
      oneLine(
        Effect.map(
          sql`UPDATE dspy_cluster_jobs SET status = ${changes.status}, resumed_units = ${changes.resumedUnits},
            swapped_version = ${changes.swappedVersion ?? null}, score = ${changes.score ?? null},
            error = ${changes.error ?? null}, finished_at = ${changes.at}, progressed_at = ${changes.at}
            WHERE id = ${id} AND (epoch = ${epoch}
              OR (${changes.status === "swapped"} AND epoch = ${epoch + 1} AND status = 'cancelled'))
            RETURNING id`,
          (rows) => rows.length > 0
        )
      )
  }
  return table
})
