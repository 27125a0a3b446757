/**
 * The metric history in SQLite or PostgreSQL (one implementation and row codec; only the DDL differs): one table of
 * rollups keyed by `(series_key, interval_ms, start)` (the base interval's rows and the hour rows they are
 * down-sampled into), with the series' metric and dimensions as columns for queries, and the schema version (a meta
 * table in SQLite, `dspy_schema_versions` under `metric_history` in PostgreSQL). Opening checks the version (a newer one is refused,
 * an older one migrated forward in one transaction). Every write is one transaction; a row written again (a late
 * sample, a second process, a down-sampling into an hour already begun) is merged with what is stored, never
 * overwritten.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Pg from "../../internal/postgres.js"
import * as Db from "../../internal/sqlDb.js"
import * as Sqlite from "../../internal/sqlite.js"
import { MetricHistoryError, MetricHistoryVersionUnsupported } from "../../ServicesError.js"
import * as QuantileSketch from "../QuantileSketch.js"
import * as Rollup from "../Rollup.js"
import * as Series from "../Series.js"

/** The schema version written by this code. */
export const schemaVersion = 1

/** The statements that bring a database from version `i` to `i + 1` (index 0: an empty database to version 1). */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE dspy_metric_rollups (
      series_key TEXT NOT NULL, interval_ms INTEGER NOT NULL, start INTEGER NOT NULL,
      metric TEXT NOT NULL, module TEXT, version TEXT, provider TEXT, job TEXT,
      count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sketch TEXT NOT NULL,
      PRIMARY KEY (series_key, interval_ms, start)) WITHOUT ROWID`,
    "CREATE INDEX dspy_metric_rollups_metric ON dspy_metric_rollups (metric, start)",
    "CREATE INDEX dspy_metric_rollups_age ON dspy_metric_rollups (interval_ms, start)"
  ]
]

type Row = Db.Row

/** The store's operations; each runs alone (one transaction at a time on the one connection). */
export interface Store {
  readonly target: string
  /** Writes the rollups, merging each with its stored row. */
  readonly write: (rollups: ReadonlyArray<Rollup.Rollup>) => Effect.Effect<void, MetricHistoryError>
  /** The stored rollups of the selector's metric with `from <= start < to`, filtered by the selector. */
  readonly read: (
    selector: Series.Selector,
    from: number,
    to: number
  ) => Effect.Effect<ReadonlyArray<Rollup.Rollup>, MetricHistoryError>
  /**
   * Rows of `intervalMs` starting before `cutoff` merged into `targetMs` rows (then deleted); rows of `targetMs`
   * starting before `expireBefore` deleted. Returns how many rows were folded and how many expired.
   */
  readonly downsample: (
    intervalMs: number,
    targetMs: number,
    cutoff: number,
    expireBefore: number
  ) => Effect.Effect<{ readonly downsampled: number; readonly expired: number }, MetricHistoryError>
  /** Every stored series. */
  readonly series: Effect.Effect<ReadonlyArray<Series.Series>, MetricHistoryError>
}

const text = (u: unknown): string | undefined => (typeof u === "string" && u !== "" ? u : undefined)

const seriesOf = (r: Row): Series.Series =>
  Series.normalize({
    metric: String(r.metric),
    module: text(r.module),
    version: text(r.version),
    provider: text(r.provider),
    job: text(r.job)
  })

const failureOf = (target: string) => (operation: string) => (reason: string) =>
  new MetricHistoryError({
    operation,
    target,
    reason,
    message: `The metric history ${target} failed to ${operation}: ${reason}. ${
      reason.includes("locked") || reason.includes("busy")
        ? "Another process holds the database: give this application its own file."
        : target.startsWith("postgresql")
          ? "Check that the server is up and reachable and that the user may write; the rollups stay in memory until a flush succeeds."
          : "Check the path, its permissions and free space; the rollups stay in memory until a flush succeeds."
    }`
  })

const newer = (target: string, found: number) =>
  new MetricHistoryVersionUnsupported({
    target,
    found,
    supported: schemaVersion,
    message: `The metric history ${target} has schema version ${found}, but this program reads versions up to ${schemaVersion}: it was written by a newer release. Run that release, or give this one another ${target.startsWith("postgresql") ? "database" : "file"}; nothing was changed.`
  })

/** The row codec (shared by SQLite and PostgreSQL): a row back as a rollup (undefined when its sketch is unreadable). */
const rollupOf = (r: Row): Rollup.Rollup | undefined => {
  let encoded: unknown
  try {
    encoded = JSON.parse(String(r.sketch))
  } catch {
    return undefined
  }
  const sketch = QuantileSketch.decode(encoded)
  if (sketch === undefined) return undefined
  return {
    series: seriesOf(r),
    start: Db.num(r.start),
    intervalMs: Db.num(r.interval_ms),
    count: Db.num(r.count),
    sum: Db.num(r.sum),
    min: Db.num(r.min),
    max: Db.num(r.max),
    sketch
  }
}

/** A rollup as the row's values, in the order of {@link UPSERT}'s columns. */
const paramsOf = (key: string, r: Rollup.Rollup): Array<unknown> => [
  key,
  r.intervalMs,
  r.start,
  r.series.metric,
  r.series.module ?? null,
  r.series.version ?? null,
  r.series.provider ?? null,
  r.series.job ?? null,
  r.count,
  r.sum,
  r.min,
  r.max,
  JSON.stringify(r.sketch.encode())
]

const UPSERT = `INSERT INTO dspy_metric_rollups
  (series_key, interval_ms, start, metric, module, version, provider, job, count, sum, min, max, sketch)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (series_key, interval_ms, start) DO UPDATE SET count = excluded.count, sum = excluded.sum,
    min = excluded.min, max = excluded.max, sketch = excluded.sketch`

/** Writers on PostgreSQL serialise on this advisory lock (a row is read, merged and written back). */
const writeLock = 0x6d_65_74_72 // "metr"

/** The store over a database whose tables are ready (the statements shared by SQLite and PostgreSQL). */
const openOn = (db: Db.Db, target: string): Store => {
  const failure = failureOf(target)
  const statement = <A>(operation: string, body: Effect.Effect<A, unknown>) =>
    Effect.mapError(Sqlite.oneLine(body), failure(operation))
  const transaction = <A>(body: (query: Db.Query) => Effect.Effect<A, unknown>) =>
    db.transaction(body, { lock: writeLock })

  /** Writes one rollup merged with its stored row (inside a transaction). */
  const upsert = (query: Db.Query, rollup: Rollup.Rollup) =>
    Effect.gen(function* () {
      const key = Series.key(rollup.series)
      const existing = yield* query(
        "SELECT * FROM dspy_metric_rollups WHERE series_key = ? AND interval_ms = ? AND start = ?",
        [key, rollup.intervalMs, rollup.start]
      )
      const stored = existing.length === 0 ? undefined : rollupOf(existing[0]!)
      const merged = Rollup.empty(rollup.series, rollup.start, rollup.intervalMs)
      if (stored !== undefined) Rollup.merge(merged, stored)
      Rollup.merge(merged, rollup)
      yield* query(UPSERT, paramsOf(key, merged))
    })

  return {
    target,
    write: (rollups) =>
      rollups.length === 0
        ? Effect.void
        : statement(
            "flush",
            transaction((query) => Effect.forEach(rollups, (r) => upsert(query, r), { discard: true }))
          ),
    read: (selector, from, to) =>
      statement(
        "query",
        Effect.map(
          db.query("SELECT * FROM dspy_metric_rollups WHERE metric = ? AND start >= ? AND start < ? ORDER BY start", [
            selector.metric,
            from,
            to
          ]),
          (found) =>
            found.flatMap((r) => {
              const rollup = rollupOf(r)
              return rollup !== undefined && Series.matches(selector, rollup.series) ? [rollup] : []
            })
        )
      ),
    downsample: (intervalMs, targetMs, cutoff, expireBefore) =>
      statement(
        "compact",
        transaction((query) =>
          Effect.gen(function* () {
            let downsampled = 0
            if (targetMs > intervalMs) {
              const old = yield* query("SELECT * FROM dspy_metric_rollups WHERE interval_ms = ? AND start < ?", [
                intervalMs,
                cutoff
              ])
              const groups = new Map<string, Rollup.Rollup>()
              for (const r of old) {
                const rollup = rollupOf(r)
                if (rollup === undefined) continue
                const start = rollup.start - (rollup.start % targetMs)
                const key = `${String(r.series_key)}@${start}`
                let group = groups.get(key)
                if (group === undefined) {
                  group = Rollup.empty(rollup.series, start, targetMs)
                  groups.set(key, group)
                }
                Rollup.merge(group, rollup)
              }
              for (const group of groups.values()) yield* upsert(query, group)
              yield* query("DELETE FROM dspy_metric_rollups WHERE interval_ms = ? AND start < ?", [intervalMs, cutoff])
              downsampled = old.length
            }
            const expired = yield* query(
              "DELETE FROM dspy_metric_rollups WHERE interval_ms = ? AND start < ? RETURNING start",
              [targetMs, expireBefore]
            )
            return { downsampled, expired: expired.length }
          })
        )
      ),
    series: statement(
      "query",
      Effect.map(
        db.query("SELECT DISTINCT metric, module, version, provider, job FROM dspy_metric_rollups ORDER BY metric"),
        (found) => found.map(seriesOf)
      )
    )
  }
}

/** Opens the store at `filename`, migrating it forward; refuses a newer schema. */
export const open = (
  filename: string
): Effect.Effect<Store, MetricHistoryError | MetricHistoryVersionUnsupported, Scope.Scope> =>
  Effect.gen(function* () {
    const target = filename
    const failure = failureOf(target)
    const run = yield* Effect.mapError(Sqlite.oneLine(Sqlite.openReserved(target)), failure("open"))
    const db = yield* Db.sqlite(run)
    const statement = <A>(operation: string, body: Effect.Effect<A, unknown>) =>
      Effect.mapError(Sqlite.oneLine(body), failure(operation))
    const found = yield* statement(
      "open",
      Effect.gen(function* () {
        yield* db.query("CREATE TABLE IF NOT EXISTS dspy_metric_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        const meta = yield* db.query("SELECT value FROM dspy_metric_meta WHERE key = 'schema_version'")
        return meta.length === 0 ? 0 : Number(meta[0]!.value)
      })
    )
    if (!Number.isInteger(found) || found > schemaVersion) return yield* newer(target, found)
    if (found < schemaVersion) {
      yield* statement(
        `migrate from schema version ${found}`,
        db.transaction((query) =>
          Effect.gen(function* () {
            for (const step of migrations.slice(found)) for (const sql of step) yield* query(sql)
            yield* query(
              "INSERT INTO dspy_metric_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
              [String(schemaVersion)]
            )
          })
        )
      )
    }
    return openOn(db, target)
  })

/** The PostgreSQL migration steps (index 0: an empty database to version 1): the SQLite layout. */
const postgresMigrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE dspy_metric_rollups (
      series_key TEXT NOT NULL, interval_ms BIGINT NOT NULL, start BIGINT NOT NULL,
      metric TEXT NOT NULL, module TEXT, version TEXT, provider TEXT, job TEXT,
      count BIGINT NOT NULL, sum DOUBLE PRECISION NOT NULL, min DOUBLE PRECISION NOT NULL,
      max DOUBLE PRECISION NOT NULL, sketch TEXT NOT NULL, PRIMARY KEY (series_key, interval_ms, start))`,
    "CREATE INDEX dspy_metric_rollups_metric ON dspy_metric_rollups (metric, start)",
    "CREATE INDEX dspy_metric_rollups_age ON dspy_metric_rollups (interval_ms, start)"
  ]
]

/**
 * Opens the store on the PostgreSQL `SqlClient` in context (its version in `dspy_schema_versions` under
 * `metric_history`), migrating it forward; refuses a newer schema. Processes sharing the database merge their
 * rollups into the same rows (writes serialise on an advisory lock).
 */
export const openPostgres: Effect.Effect<
  Store,
  MetricHistoryError | MetricHistoryVersionUnsupported,
  SqlClient.SqlClient
> = Effect.gen(function* () {
  const target = "postgresql (metric_history)"
  const migrated = yield* Effect.mapError(
    Pg.oneLine(Pg.migrate("metric_history", postgresMigrations)),
    failureOf(target)("open")
  )
  if (migrated.newer) return yield* newer(target, migrated.found)
  return openOn(yield* Db.postgres, target)
})
