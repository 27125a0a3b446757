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

/** A live job as the watchdog sees it (`JobTable.live`). */
export type LiveJob = Pick<JobRow, "id" | "status" | "owner" | "createdAt" | "progressedAt">

const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))

/** JSON text (the release store's columns) back to a value; text that is not JSON as it is (as the store reads it). */
const parseJson = (text: unknown): unknown => {
  if (typeof text !== "string") return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

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

/**
 * What a run starts from, read with its claim (`JobTable.start`): the module's spec (JSON text parsed), the state
 * of the job's base version (`found: false` when the release store lacks that version), and the module's latest
 * version number (its swap stores the next one).
 */
export interface Release {
  readonly spec: unknown
  readonly baseState: { readonly found: boolean; readonly state: unknown }
  readonly latestVersion: number | null
}

/**
 * What a claim gives: the claimed row and what the run starts from (`undefined` when the release store has no such
 * module), or the job as it is when it ended.
 */
export type Start =
  | { readonly _tag: "Claimed"; readonly row: JobRow; readonly release: Release | undefined }
  | { readonly _tag: "Finished"; readonly row: JobRow }
  | { readonly _tag: "Missing" }

/** A swap's outcome (`JobTable.swap`): made (and the job ended), fenced off, or refused by the compare-and-swap. */
export type Swap = "swapped" | "superseded" | "conflict"

/** The table's operations (each fails with a one-line reason). */
export interface JobTable {
  /**
   * Stores a queued job on the promoted version of its module (its base), in one statement: none when the release
   * store has no such module (nothing stored).
   */
  readonly insertOnPromoted: (row: {
    readonly id: string
    readonly moduleId: string
    readonly optimizer: string
    readonly metric: string
    readonly seed: number
    readonly data: string
    readonly createdAt: number
  }) => Effect.Effect<Option.Option<number>, string>
  readonly get: (id: string) => Effect.Effect<Option.Option<JobRow>, string>
  /** The shard locks of `@effect/cluster` (its `cluster_locks` table): which runner holds which shard. */
  readonly shardOwners: Effect.Effect<ReadonlyArray<{ readonly shardId: string; readonly address: string }>, string>
  readonly list: Effect.Effect<ReadonlyArray<JobRow>, string>
  /** The jobs not finished (queued or running), without their data: what the watchdog looks at. */
  readonly live: Effect.Effect<ReadonlyArray<LiveJob>, string>
  /** Records that `owner` received queued jobs (they wait there for a worker), in one statement. */
  readonly accept: (ids: ReadonlyArray<string>, owner: string, at: number) => Effect.Effect<void, string>
  /** Counts a resend of the job's message by the watchdog. */
  readonly resent: (id: string) => Effect.Effect<void, string>
  /**
   * Claims a live job for a new run on `owner` (bumps its epoch and its runs), reading in the same statement what
   * the run starts from: the module's spec, its base version's state and its latest version number, from the
   * release store's tables (`ReleaseStore.makePostgres` makes them). A finished job is given as it is.
   */
  readonly start: (id: string, owner: string, at: number) => Effect.Effect<Start, string>
  /**
   * The swap of the run `epoch`, in one statement (one commit): only while the job's epoch is `epoch` (its row
   * locked), and only if the module's promoted version is still `version.parent` (compare-and-swap), it stores
   * `version` in the release store, promotes it, ends the job `swapped` and sends `notice` on `channel` (delivered
   * at the commit). All or nothing: `superseded` when the run was fenced off (a newer run or a cancel), `conflict`
   * when the module's promoted version is another.
   */
  readonly swap: (
    id: string,
    epoch: number,
    version: {
      readonly moduleId: string
      readonly version: number
      readonly parent: number
      readonly state: string
      readonly lineage: string
    },
    ending: {
      readonly resumedUnits: number
      readonly score?: number
      readonly at: number
      readonly channel: string
      readonly notice: string
    }
  ) => Effect.Effect<Swap, string>
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
    insertOnPromoted: (row) =>
      oneLine(
        Effect.map(
          sql`INSERT INTO dspy_cluster_jobs (id, module_id, optimizer, metric, seed, data, base_version, status, created_at)
            SELECT ${row.id}, module_id, ${row.optimizer}, ${row.metric}, ${row.seed}, ${row.data}, promoted, 'queued', ${row.createdAt}
            FROM dspy_release_modules WHERE module_id = ${row.moduleId}
            RETURNING base_version`,
          (rows) => (rows.length === 0 ? Option.none() : Option.some(Number(rows[0]!.base_version)))
        )
      ),
    get: (id) =>
      oneLine(
        Effect.map(sql`SELECT * FROM dspy_cluster_jobs WHERE id = ${id}`, (rows) =>
          rows.length === 0 ? Option.none() : Option.some(rowOf(rows[0]!))
        )
      ),
    list: oneLine(Effect.map(sql`SELECT * FROM dspy_cluster_jobs ORDER BY created_at, id`, (rows) => rows.map(rowOf))),
    shardOwners: oneLine(
      Effect.map(sql`SELECT shard_id, address FROM cluster_locks`, (rows) =>
        rows.map((r) => ({ shardId: String(r.shard_id), address: String(r.address) }))
      )
    ),
    live: oneLine(
      Effect.map(
        sql`SELECT id, status, owner, created_at, progressed_at FROM dspy_cluster_jobs
          WHERE status IN ('queued', 'running') ORDER BY created_at, id`,
        (rows) =>
          rows.map(
            (r): LiveJob => ({
              id: String(r.id),
              status: String(r.status),
              owner: r.owner === null ? null : String(r.owner),
              createdAt: Number(r.created_at),
              progressedAt: numOrNull(r.progressed_at)
            })
          )
      )
    ),
    accept: (ids, owner, at) =>
      oneLine(
        sql.unsafe(
          `UPDATE dspy_cluster_jobs SET owner = $1, progressed_at = $2, received_at = COALESCE(received_at, $2)
          WHERE id = ANY($3::text[]) AND status = 'queued'`,
          [owner, at, ids]
        )
      ).pipe(Effect.asVoid),
    resent: (id) =>
      oneLine(sql`UPDATE dspy_cluster_jobs SET resends = resends + 1 WHERE id = ${id}`).pipe(Effect.asVoid),
    start: (id, owner, at) =>
      oneLine(
        Effect.gen(function* () {
          const updated = yield* sql`WITH claimed AS (
              UPDATE dspy_cluster_jobs
              SET epoch = epoch + 1, runs = runs + 1, owner = ${owner}, status = 'running',
                received_at = COALESCE(received_at, ${at}), started_at = COALESCE(started_at, ${at}), progressed_at = ${at}
              WHERE id = ${id} AND status IN ('queued', 'running') RETURNING *
            )
            SELECT c.*, m.module_id AS release_module, m.spec AS release_spec,
              v.version AS release_base, v.state AS release_state,
              (SELECT MAX(version) FROM dspy_release_versions l WHERE l.module_id = c.module_id) AS release_latest
            FROM claimed c
            LEFT JOIN dspy_release_modules m ON m.module_id = c.module_id
            LEFT JOIN dspy_release_versions v ON v.module_id = c.module_id AND v.version = c.base_version`
          if (updated.length > 0) {
            const r = updated[0]!
            return {
              _tag: "Claimed",
              row: rowOf(r),
              release:
                r.release_module === null
                  ? undefined
                  : {
                      spec: parseJson(r.release_spec),
                      baseState: { found: r.release_base !== null, state: parseJson(r.release_state) },
                      latestVersion: numOrNull(r.release_latest)
                    }
            } as const
          }
          const rows = yield* sql`SELECT * FROM dspy_cluster_jobs WHERE id = ${id}`
          if (rows.length === 0) return { _tag: "Missing" } as const
          return { _tag: "Finished", row: rowOf(rows[0]!) } as const
        })
      ),
    swap: (id, epoch, version, ending) =>
      oneLine(
        Effect.map(
          sql.unsafe(
            `WITH fence AS (
              SELECT id FROM dspy_cluster_jobs WHERE id = $1 AND epoch = $2 FOR UPDATE
            ), promoted AS (
              UPDATE dspy_release_modules SET promoted = $4, updated_at = $7
              WHERE module_id = $3 AND promoted = $5 AND EXISTS (SELECT 1 FROM fence)
              RETURNING module_id
            ), stored AS (
              INSERT INTO dspy_release_versions (module_id, version, state, lineage, created_at)
              SELECT module_id, $4, $8, $9, $7 FROM promoted
              RETURNING version
            ), ended AS (
              UPDATE dspy_cluster_jobs SET status = 'swapped', resumed_units = $6, swapped_version = $4, score = $10,
                error = NULL, finished_at = $7, progressed_at = $7
              WHERE id = $1 AND EXISTS (SELECT 1 FROM stored)
              RETURNING id
            )
            SELECT (SELECT COUNT(*) FROM fence) AS fenced, (SELECT COUNT(*) FROM ended) AS ended,
              (SELECT COUNT(*) FROM (SELECT pg_notify($11, $12) FROM stored) AS sent) AS sent`,
            [
              id,
              epoch,
              version.moduleId,
              version.version,
              version.parent,
              ending.resumedUnits,
              ending.at,
              version.state,
              version.lineage,
              ending.score ?? null,
              ending.channel,
              ending.notice
            ]
          ),
          (rows): Swap => {
            const r = rows[0] as { readonly [column: string]: unknown } | undefined
            if (r === undefined || Number(r.fenced) === 0) return "superseded"
            return Number(r.ended) > 0 ? "swapped" : "conflict"
          }
        )
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
