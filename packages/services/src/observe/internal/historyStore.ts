/**
 * The metric history in SQLite: one table of rollups keyed by `(series_key, interval_ms, start)` (the base
 * interval's rows and the hour rows they are down-sampled into), with the series' metric and dimensions as columns
 * for queries, and a meta table holding the schema version. Opening checks the version (a newer one is refused,
 * an older one migrated forward in one transaction). Every write is one transaction; a row written again (a late
 * sample, a second process, a down-sampling into an hour already begun) is merged with what is stored, never
 * overwritten.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
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

type Row = { readonly [column: string]: unknown }

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

/** Opens the store at `filename`, migrating it forward; refuses a newer schema. */
export const open = (
  filename: string
): Effect.Effect<Store, MetricHistoryError | MetricHistoryVersionUnsupported, Scope.Scope> =>
  Effect.gen(function* () {
    const target = filename
    const failure = (operation: string) => (reason: string) =>
      new MetricHistoryError({
        operation,
        target,
        reason,
        message: `The metric history ${target} failed to ${operation}: ${reason}. ${
          reason.includes("locked") || reason.includes("busy")
            ? "Another process holds the database: give this application its own file."
            : "Check the path, its permissions and free space; the rollups stay in memory until a flush succeeds."
        }`
      })
    const run = yield* Effect.mapError(Sqlite.oneLine(Sqlite.openReserved(target)), failure("open"))
    const lock = yield* Effect.makeSemaphore(1)
    const rows = (sql: string, params: ReadonlyArray<unknown> = []) =>
      Effect.map(run(sql, params), (r) => r as unknown as ReadonlyArray<Row>)
    const transaction = <A, E, R>(body: Effect.Effect<A, E, R>) =>
      Effect.uninterruptible(
        Effect.zipRight(
          run("BEGIN IMMEDIATE", []),
          Effect.tapError(Effect.zipLeft(body, run("COMMIT", [])), () => Effect.ignore(run("ROLLBACK", [])))
        )
      )
    const statement = <A>(operation: string, body: Effect.Effect<A, unknown>) =>
      lock.withPermits(1)(Effect.mapError(Sqlite.oneLine(body), failure(operation)))

    const found = yield* statement(
      "open",
      Effect.gen(function* () {
        yield* run("CREATE TABLE IF NOT EXISTS dspy_metric_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", [])
        const meta = yield* rows("SELECT value FROM dspy_metric_meta WHERE key = 'schema_version'")
        return meta.length === 0 ? 0 : Number(meta[0]!.value)
      })
    )
    if (!Number.isInteger(found) || found > schemaVersion) {
      return yield* new MetricHistoryVersionUnsupported({
        target,
        found,
        supported: schemaVersion,
        message: `The metric history ${target} has schema version ${found}, but this program reads versions up to ${schemaVersion}: it was written by a newer release. Run that release, or give this one another file; nothing was changed.`
      })
    }
    if (found < schemaVersion) {
      yield* statement(
        `migrate from schema version ${found}`,
        transaction(
          Effect.gen(function* () {
            for (const step of migrations.slice(found)) for (const sql of step) yield* run(sql, [])
            yield* run(
              "INSERT INTO dspy_metric_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
              [String(schemaVersion)]
            )
          })
        )
      )
    }

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
        start: Number(r.start),
        intervalMs: Number(r.interval_ms),
        count: Number(r.count),
        sum: Number(r.sum),
        min: Number(r.min),
        max: Number(r.max),
        sketch
      }
    }

    /** Writes one rollup merged with its stored row (inside a transaction). */
    const upsert = (rollup: Rollup.Rollup) =>
      Effect.gen(function* () {
        const key = Series.key(rollup.series)
        const existing = yield* rows(
          "SELECT * FROM dspy_metric_rollups WHERE series_key = ? AND interval_ms = ? AND start = ?",
          [key, rollup.intervalMs, rollup.start]
        )
        const stored = existing.length === 0 ? undefined : rollupOf(existing[0]!)
        const merged = Rollup.empty(rollup.series, rollup.start, rollup.intervalMs)
        if (stored !== undefined) Rollup.merge(merged, stored)
        Rollup.merge(merged, rollup)
        const s = rollup.series
        yield* run(
          `INSERT OR REPLACE INTO dspy_metric_rollups
            (series_key, interval_ms, start, metric, module, version, provider, job, count, sum, min, max, sketch)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            key,
            merged.intervalMs,
            merged.start,
            s.metric,
            s.module ?? null,
            s.version ?? null,
            s.provider ?? null,
            s.job ?? null,
            merged.count,
            merged.sum,
            merged.min,
            merged.max,
            JSON.stringify(merged.sketch.encode())
          ]
        )
      })

    const store: Store = {
      target,
      write: (rollups) =>
        rollups.length === 0
          ? Effect.void
          : statement("flush", transaction(Effect.forEach(rollups, upsert, { discard: true }))),
      read: (selector, from, to) =>
        statement(
          "query",
          Effect.map(
            rows("SELECT * FROM dspy_metric_rollups WHERE metric = ? AND start >= ? AND start < ? ORDER BY start", [
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
          transaction(
            Effect.gen(function* () {
              let downsampled = 0
              if (targetMs > intervalMs) {
                const old = yield* rows("SELECT * FROM dspy_metric_rollups WHERE interval_ms = ? AND start < ?", [
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
                for (const group of groups.values()) yield* upsert(group)
                yield* run("DELETE FROM dspy_metric_rollups WHERE interval_ms = ? AND start < ?", [intervalMs, cutoff])
                downsampled = old.length
              }
              const expired = yield* rows(
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
          rows("SELECT DISTINCT metric, module, version, provider, job FROM dspy_metric_rollups ORDER BY metric"),
          (found) => found.map(seriesOf)
        )
      )
    }
    return store
  })
