/**
 * The SQLite event store (through `@effect/sql`). One table; the `seq` primary key gives append order, and
 * timestamps never decrease along it (clamped as in the memory store, including across restarts), so
 * ordering by `seq` is ordering by time. Indexes on (correlation_id, seq), (type, seq) and (timestamp).
 *
 * Retention: the count is tracked in memory (kept exact with `DELETE ... RETURNING`) and the oldest rows are
 * deleted on append when over the limit; the oldest timestamp is tracked too, so the age check on append is one
 * comparison, and a delete runs only when something has expired. Each costs O(removed + log n).
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Correlation from "../Correlation.js"
import * as DatabaseFile from "../DatabaseFile.js"
import type { Event, EventInput, Query } from "../Events.js"
import { type Hub, idPrefix, type Retention } from "./events.js"

interface Row {
  readonly seq: number
  readonly id: string
  readonly type: string
  readonly timestamp: number
  readonly correlation_id: string | null
  readonly parent_id: string | null
  readonly data: string
}

const toEvent = (row: Row): Event => ({
  id: row.id,
  type: row.type,
  // PostgreSQL's BIGINT comes back as text.
  timestamp: Number(row.timestamp),
  correlationId: row.correlation_id ?? undefined,
  parentId: row.parent_id ?? undefined,
  data: JSON.parse(row.data) as { readonly [key: string]: unknown }
})

const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))

const indexes = [
  "CREATE INDEX IF NOT EXISTS effect_dspy_events_correlation ON effect_dspy_events (correlation_id, seq)",
  "CREATE INDEX IF NOT EXISTS effect_dspy_events_type ON effect_dspy_events (type, seq)",
  "CREATE INDEX IF NOT EXISTS effect_dspy_events_timestamp ON effect_dspy_events (timestamp)"
]

/** The PostgreSQL schema version of the event table (kept in `dspy_schema_versions`, as the services' stores). */
export const pgSchemaVersion = 1

/** The migration steps on PostgreSQL (index 0: an empty database to version 1). */
const pgMigrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE effect_dspy_events (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
      timestamp BIGINT NOT NULL, correlation_id TEXT, parent_id TEXT, data TEXT NOT NULL)`,
    ...indexes
  ]
]

/**
 * Brings the PostgreSQL event table to {@link pgSchemaVersion} in one transaction under an advisory lock (the
 * services' stores take the same one, so processes opening one database at once migrate it once); a newer
 * schema is left untouched and refused (the inner failure).
 */
const migratePg = (sql: SqlClient.SqlClient) =>
  sql.withTransaction(
    Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(${0x64_73_70_79})`
      yield* sql.unsafe(
        "CREATE TABLE IF NOT EXISTS dspy_schema_versions (store TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at BIGINT NOT NULL)"
      )
      const rows = yield* sql<{ version: unknown }>`SELECT version FROM dspy_schema_versions WHERE store = 'events'`
      const found = rows.length === 0 ? 0 : Number(rows[0]!.version)
      if (found > pgMigrations.length) {
        return Effect.fail<StoreFailure>({
          operation: "open",
          reason: "io",
          message: `The PostgreSQL event table has schema version ${found}, but this program reads versions up to ${pgMigrations.length}: it was written by a newer release; nothing was changed`
        })
      }
      if (found < pgMigrations.length) {
        for (const step of pgMigrations.slice(found)) for (const statement of step) yield* sql.unsafe(statement)
        yield* sql`INSERT INTO dspy_schema_versions (store, version, updated_at) VALUES ('events', ${pgMigrations.length}, ${Date.now()})
          ON CONFLICT (store) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`
      }
      return Effect.void
    })
  )

/** What the store's operations fail with before the public module wraps it. */
export interface StoreFailure {
  readonly operation: string
  readonly message: string
  readonly reason: "io" | "invalid_input"
}

const io =
  (operation: string) =>
  (error: SqlError.SqlError): StoreFailure => ({
    operation,
    reason: "io",
    message: `SQLite ${operation} failed: ${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ""}`
  })

/** How long publishes fail at once after one found the database locked by another connection. */
const lockBackoffMs = 1_000

/** The store's failure when its file was deleted, replaced or made read-only (see `DatabaseFile`). */
const gone = (operation: string, reason: string): StoreFailure => ({
  operation,
  reason: "io",
  message: `SQLite ${operation} failed: ${reason}; nothing was recorded (restart with a writable database file)`
})

/**
 * Builds the store's operations over the current SqlClient (creating the table when needed). `filename`, when
 * given, is watched: each publish checks, after its write and before acknowledging it, that the file is still the
 * one opened (one `stat`), so a deleted, replaced or read-only file fails the publish instead of losing it.
 */
export const makeOps = (retention: { current: Retention }, hub: Hub, filename?: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // The same store runs on PostgreSQL (`layerSql` over a PgClient): its DDL and a few expressions differ.
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    if (pg) {
      yield* migratePg(sql).pipe(Effect.mapError(io("open")), Effect.flatten)
    } else {
      // A lock held by another connection fails a write after 250 ms instead of blocking the event loop for 5 s.
      yield* sql.unsafe(DatabaseFile.busyTimeoutPragma).pipe(Effect.mapError(io("open")))
      yield* sql`CREATE TABLE IF NOT EXISTS effect_dspy_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        correlation_id TEXT,
        parent_id TEXT,
        data TEXT NOT NULL
      )`.pipe(Effect.mapError(io("open")))
      for (const index of indexes) yield* sql.unsafe(index).pipe(Effect.mapError(io("open")))
    }
    const stats = yield* sql<{
      n: number
      oldest: number | null
      newest: number | null
    }>`SELECT COUNT(*) AS n, MIN(timestamp) AS oldest, MAX(timestamp) AS newest FROM effect_dspy_events`.pipe(
      Effect.map((rows) =>
        rows.map((r) => ({ n: Number(r.n), oldest: numOrNull(r.oldest), newest: numOrNull(r.newest) }))
      ),
      Effect.mapError(io("open"))
    )
    let size = stats[0]?.n ?? 0
    let oldest = stats[0]?.oldest ?? Number.POSITIVE_INFINITY
    let lastTimestamp = stats[0]?.newest ?? Number.NEGATIVE_INFINITY
    const prefix = idPrefix(yield* Effect.clockWith((clock) => clock.currentTimeMillis))
    let counter = 0
    const watched = filename === undefined ? undefined : DatabaseFile.watch(filename)
    const verify = (operation: string): Effect.Effect<void, StoreFailure> =>
      Effect.suspend(() => {
        const problem = DatabaseFile.check(watched)
        return problem === undefined ? Effect.void : Effect.fail(gone(operation, problem))
      })
    const lock = yield* Effect.makeSemaphore(1)
    // After a write found the file locked by another connection, publishes fail at once until this time (on
    // Effect's Clock): each try costs up to `busyTimeoutMs` of blocked event loop, so they are spaced out.
    let lockedUntil = Number.NEGATIVE_INFINITY
    const lockedFailure = (operation: string): StoreFailure => ({
      operation,
      reason: "io",
      message: `SQLite ${operation} failed: ${DatabaseFile.lockedReason(filename ?? ":memory:")}; nothing was recorded (publishes fail at once for ${lockBackoffMs} ms, then try the file again)`
    })

    // The oldest timestamp, through the timestamp index (O(log n)).
    const readOldest = Effect.map(
      sql<{ oldest: number | null }>`SELECT MIN(timestamp) AS oldest FROM effect_dspy_events`,
      (rows) => numOrNull(rows[0]?.oldest) ?? Number.POSITIVE_INFINITY
    )

    /** Applies retention at `now`; returns how many rows were removed. O(removed + log n). */
    const applyRetention = (now: number) =>
      Effect.gen(function* () {
        const before = size
        const { maxEvents, maxAgeMs } = retention.current
        const cutoff = now - maxAgeMs
        if (oldest < cutoff) {
          const removed = yield* sql<{
            seq: number
          }>`DELETE FROM effect_dspy_events WHERE timestamp < ${cutoff} RETURNING seq`
          size -= removed.length
          oldest = yield* readOldest
        }
        if (size > maxEvents) {
          const removed = yield* sql<{
            seq: number
          }>`DELETE FROM effect_dspy_events WHERE seq IN (SELECT seq FROM effect_dspy_events ORDER BY seq ASC LIMIT ${size - maxEvents}) RETURNING seq`
          size -= removed.length
          oldest = yield* readOldest
        }
        return before - size
      })

    const publish = (input: EventInput): Effect.Effect<Event, StoreFailure> =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          let data: string
          try {
            data = JSON.stringify(input.data ?? {})
          } catch (cause) {
            return yield* Effect.fail<StoreFailure>({
              operation: "publish",
              reason: "invalid_input",
              message: `The data of a '${input.type}' event must be JSON-serialisable for the SQLite store: ${(cause as Error).message}`
            })
          }
          const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
          if (now < lockedUntil) return yield* Effect.fail(lockedFailure("publish"))
          const timestamp = Math.max(now, lastTimestamp)
          const correlationId = input.correlationId ?? Option.getOrUndefined(yield* Correlation.current)
          const parentId = input.parentId ?? Option.getOrUndefined(yield* FiberRef.get(Correlation.currentParentId))
          const id = prefix + (counter++).toString(36)
          yield* sql`INSERT INTO effect_dspy_events (id, type, timestamp, correlation_id, parent_id, data) VALUES (${id}, ${input.type}, ${timestamp}, ${correlationId ?? null}, ${parentId ?? null}, ${data})`.pipe(
            Effect.mapError(io("publish")),
            Effect.mapError((failure) => {
              if (!DatabaseFile.isLocked(failure.message)) return failure
              lockedUntil = now + lockBackoffMs
              return lockedFailure("publish")
            })
          )
          // Not acknowledged unless a restart could read it back.
          yield* verify("publish")
          lastTimestamp = timestamp
          size++
          if (timestamp < oldest) oldest = timestamp
          yield* applyRetention(timestamp).pipe(Effect.mapError(io("retention")))
          const event: Event = {
            id,
            type: input.type,
            timestamp,
            correlationId,
            parentId,
            data: JSON.parse(data) as { readonly [key: string]: unknown }
          }
          return yield* hub.deliver(event)
        })
      )

    const query = (q: Query): Effect.Effect<Array<Event>, StoreFailure> =>
      Effect.gen(function* () {
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const cutoff = now - retention.current.maxAgeMs
        const conditions: Array<Statement.Fragment> = [sql`timestamp >= ${cutoff}`]
        if (q.correlationId !== undefined) conditions.push(sql`correlation_id = ${q.correlationId}`)
        if (q.types !== undefined) {
          if (q.types.length === 0) return []
          conditions.push(sql.in("type", [...new Set(q.types)]))
        }
        if (q.from !== undefined) conditions.push(sql`timestamp >= ${q.from}`)
        if (q.to !== undefined) conditions.push(sql`timestamp <= ${q.to}`)
        const order = sql.literal(q.order === "desc" ? "DESC" : "ASC")
        // No limit: -1 for SQLite, NULL for PostgreSQL.
        const limit = q.limit ?? (pg ? null : -1)
        const offset = q.offset ?? 0
        const rows =
          yield* sql<Row>`SELECT * FROM effect_dspy_events WHERE ${sql.and(conditions)} ORDER BY seq ${order} LIMIT ${limit} OFFSET ${offset}`.pipe(
            Effect.mapError(io("query"))
          )
        return rows.map(toEvent)
      })

    const prune: Effect.Effect<number, StoreFailure> = lock.withPermits(1)(
      Effect.flatMap(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (now) => applyRetention(now).pipe(Effect.mapError(io("prune")))
      )
    )

    const count: Effect.Effect<number, StoreFailure> = Effect.map(
      sql<{ n: number }>`SELECT COUNT(*) AS n FROM effect_dspy_events`.pipe(Effect.mapError(io("count"))),
      (rows) => Number(rows[0]?.n ?? 0)
    )

    const remove = (ids: ReadonlyArray<string>): Effect.Effect<number, StoreFailure> =>
      ids.length === 0
        ? Effect.succeed(0)
        : lock.withPermits(1)(
            Effect.gen(function* () {
              let removed = 0
              for (let from = 0; from < ids.length; from += 500) {
                const rows = yield* sql<{
                  seq: number
                }>`DELETE FROM effect_dspy_events WHERE ${sql.in("id", ids.slice(from, from + 500))} RETURNING seq`
                removed += rows.length
              }
              size -= removed
              oldest = yield* readOldest
              return removed
            }).pipe(Effect.mapError(io("remove")))
          )

    return { publish, query, prune, count, remove }
  })
