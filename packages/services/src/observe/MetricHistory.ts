/**
 * Metric history: values folded into rollups per series and interval (count, sum, min, max, a quantile sketch),
 * kept in memory while their interval is open, flushed to SQLite (or PostgreSQL: {@link layerPostgres}) when it closes, down-sampled to hour rollups past
 * `rawRetentionMs` and dropped past `hourRetentionMs`. Queries by series selector and time range read the stored
 * rows and the open ones, so the newest interval is visible before it is flushed; each value is in exactly one
 * row, so nothing is counted twice across resolutions.
 *
 * @example
 * ```ts
 * import { MetricHistory } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const history = yield* MetricHistory.MetricHistory
 *   yield* history.record({ metric: "module.latency_ms", module: "qa" }, 120)
 *   return yield* history.query({ selector: { metric: "module.latency_ms" }, from: 0, to: Date.now() + 60_000 })
 * }).pipe(Effect.scoped, Effect.provide(MetricHistory.layer({ intervalMs: 1_000 })))
 * ```
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type MetricHistoryError, type MetricHistoryVersionUnsupported, ObserveInvalidInput } from "../ServicesError.js"
import * as store from "./internal/historyStore.js"
import * as Rollup from "./Rollup.js"
import * as Series from "./Series.js"

/**
 * The history's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The SQLite file (default `":memory:"`). */
  readonly filename?: string
  /** The rollup interval (default 60 s: minute rollups; the demo uses 1 s). */
  readonly intervalMs?: number
  /** How long base-interval rollups are kept before they are folded into hour rollups (default one day). */
  readonly rawRetentionMs?: number
  /** How long hour rollups are kept (default 30 days). */
  readonly hourRetentionMs?: number
}

/**
 * A range query: the series the selector picks, rollups starting in `[from, to)`; with `bucketMs`, the rollups of
 * each series merged into buckets of that length (an hour view of minute rows).
 *
 * @since 0.1.0
 * @category models
 */
export interface Query {
  readonly selector: Series.Selector
  readonly from: number
  readonly to: number
  readonly bucketMs?: number
}

/**
 * A recorder bound to one series (its key computed once): the hot path of a feed.
 *
 * @since 0.1.0
 * @category models
 */
export type Recorder = (value: number, timestamp: number) => void

/**
 * The MetricHistory service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly intervalMs: number
  /** Records a value now (Effect's Clock). */
  readonly record: (series: Series.Series, value: number) => Effect.Effect<void>
  /** A synchronous recorder for one series (values at explicit timestamps). */
  readonly recorder: (series: Series.Series) => Recorder
  /** Writes the closed intervals (all of them with `all`, as at shutdown); returns how many rollups. */
  readonly flush: (options?: { readonly all?: boolean }) => Effect.Effect<number, MetricHistoryError>
  /** Down-sampling and retention now. */
  readonly compact: Effect.Effect<{ readonly downsampled: number; readonly expired: number }, MetricHistoryError>
  /** Rollups by selector and time range (stored and open), oldest first. */
  readonly rollups: (
    query: Query
  ) => Effect.Effect<ReadonlyArray<Rollup.Rollup>, MetricHistoryError | ObserveInvalidInput>
  /** {@link Service.rollups} as figures. */
  readonly query: (query: Query) => Effect.Effect<ReadonlyArray<Rollup.Point>, MetricHistoryError | ObserveInvalidInput>
  /** Each picked series' rollups over the range merged into one (the figures of a window). */
  readonly summarize: (
    selector: Series.Selector,
    from: number,
    to: number
  ) => Effect.Effect<ReadonlyArray<Rollup.Point>, MetricHistoryError | ObserveInvalidInput>
  /** Every series recorded (stored or open). */
  readonly series: Effect.Effect<ReadonlyArray<Series.Series>, MetricHistoryError>
}

/**
 * The MetricHistory service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class MetricHistory extends Context.Tag("@effect-dspy/services/MetricHistory")<MetricHistory, Service>() {}

/**
 * The length of an hour rollup.
 *
 * @since 0.1.0
 * @category constants
 */
export const hourMs = 3_600_000

const positive = (field: string, value: number | undefined, fallback: number) =>
  value === undefined
    ? Effect.succeed(fallback)
    : Number.isInteger(value) && value > 0
      ? Effect.succeed(value)
      : Effect.fail(
          new ObserveInvalidInput({
            field,
            message: `The metric history's ${field} is a positive whole number of milliseconds, got ${value}.`
          })
        )

/**
 * Opens the history (creating or migrating its file) for the scope; the open rollups are flushed when it closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, MetricHistoryError | MetricHistoryVersionUnsupported | ObserveInvalidInput, Scope.Scope> =>
  makeOn(options, store.open(options.filename ?? ":memory:"))

/**
 * Opens the history on PostgreSQL over the `SqlClient` in context (see `Storage.layerPostgresClient`; `filename`
 * is not used): the SQLite layout (`dspy_metric_rollups`), its version in `dspy_schema_versions` under
 * `metric_history`. Processes sharing the database merge their rollups into the same rows.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePostgres = (
  options: Options = {}
): Effect.Effect<
  Service,
  MetricHistoryError | MetricHistoryVersionUnsupported | ObserveInvalidInput,
  Scope.Scope | SqlClient.SqlClient
> => makeOn(options, store.openPostgres)

const makeOn = <E, R>(
  options: Options,
  openStore: Effect.Effect<store.Store, E, R>
): Effect.Effect<Service, E | MetricHistoryError | ObserveInvalidInput, Scope.Scope | R> =>
  Effect.gen(function* () {
    const intervalMs = yield* positive("intervalMs", options.intervalMs, 60_000)
    const rawRetentionMs = yield* positive("rawRetentionMs", options.rawRetentionMs, 86_400_000)
    const hourRetentionMs = yield* positive("hourRetentionMs", options.hourRetentionMs, 30 * 86_400_000)
    const db = yield* openStore
    // The open rollups by `seriesKey@start`, and each series' newest one (the hot path's single lookup).
    const open = new Map<string, Rollup.Rollup>()
    const current = new Map<string, Rollup.Rollup>()
    let flushes = 0

    const rollupFor = (key: string, series: Series.Series, start: number): Rollup.Rollup => {
      const latest = current.get(key)
      if (latest !== undefined && latest.start === start) return latest
      const slot = `${key}@${start}`
      let rollup = open.get(slot)
      if (rollup === undefined) {
        rollup = Rollup.empty(series, start, intervalMs)
        open.set(slot, rollup)
      }
      if (latest === undefined || start > latest.start) current.set(key, rollup)
      return rollup
    }

    const recorder = (series: Series.Series): Recorder => {
      const normalized = Series.normalize(series)
      const key = Series.key(normalized)
      let cached: Rollup.Rollup | undefined
      let cachedAt = -1
      return (value, timestamp) => {
        const start = timestamp - (timestamp % intervalMs)
        // A flush may have taken the cached rollup away: look it up again after one.
        if (cached === undefined || cached.start !== start || cachedAt !== flushes) {
          cached = rollupFor(key, normalized, start)
          cachedAt = flushes
        }
        Rollup.add(cached, value)
      }
    }
    const recorders = new Map<string, Recorder>()
    const recorderOf = (series: Series.Series): Recorder => {
      const key = Series.key(series)
      let r = recorders.get(key)
      if (r === undefined) {
        if (recorders.size > 10_000) recorders.clear()
        r = recorder(series)
        recorders.set(key, r)
      }
      return r
    }

    const flush = (flushOptions?: { readonly all?: boolean }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const closed: Array<Rollup.Rollup> = []
        flushes++
        for (const [slot, rollup] of open) {
          if (flushOptions?.all === true || rollup.start + intervalMs <= now) {
            closed.push(rollup)
            open.delete(slot)
          }
        }
        for (const [key, rollup] of current) if (!open.has(`${key}@${rollup.start}`)) current.delete(key)
        // A failed write puts the rollups back (merged with any value recorded since), so nothing is lost.
        return Effect.as(
          Effect.tapError(db.write(closed), () =>
            Effect.sync(() => {
              for (const r of closed) {
                const again = rollupFor(Series.key(r.series), r.series, r.start)
                Rollup.merge(again, r)
              }
            })
          ),
          closed.length
        )
      })

    const checkQuery = (query: Query) =>
      Number.isFinite(query.from) && Number.isFinite(query.to) && query.from <= query.to
        ? query.bucketMs === undefined || (Number.isInteger(query.bucketMs) && query.bucketMs > 0)
          ? Effect.void
          : Effect.fail(
              new ObserveInvalidInput({
                field: "bucketMs",
                message: `A query's bucketMs is a positive whole number of milliseconds, got ${query.bucketMs}.`
              })
            )
        : Effect.fail(
            new ObserveInvalidInput({
              field: "from",
              message: `A query's range is from <= to in epoch milliseconds, got from ${query.from} to ${query.to}.`
            })
          )

    const rollups = (query: Query) =>
      Effect.gen(function* () {
        yield* checkQuery(query)
        const stored = yield* db.read(query.selector, query.from, query.to)
        const live: Array<Rollup.Rollup> = []
        for (const rollup of open.values()) {
          if (rollup.start >= query.from && rollup.start < query.to && Series.matches(query.selector, rollup.series)) {
            const copy = Rollup.empty(rollup.series, rollup.start, rollup.intervalMs)
            Rollup.merge(copy, rollup)
            live.push(copy)
          }
        }
        const all = [...stored, ...live]
        const bucketMs = query.bucketMs
        // Rows of one series and start (stored and open) merged; with `bucketMs`, into buckets of that length.
        const groups = new Map<string, Rollup.Rollup>()
        for (const r of all) {
          const length = bucketMs === undefined ? r.intervalMs : Math.max(bucketMs, r.intervalMs)
          const start = bucketMs === undefined ? r.start : r.start - (r.start % length)
          const slot = `${Series.key(r.series)}@${start}@${length}`
          let g = groups.get(slot)
          if (g === undefined) {
            g = Rollup.empty(r.series, start, length)
            groups.set(slot, g)
          }
          Rollup.merge(g, r)
        }
        return [...groups.values()].sort((a, b) => a.start - b.start)
      })

    const service: Service = {
      intervalMs,
      record: (series, value) => Effect.map(Clock.currentTimeMillis, (now) => recorderOf(series)(value, now)),
      recorder,
      flush,
      compact: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        db.downsample(intervalMs, hourMs, now - rawRetentionMs, now - hourRetentionMs)
      ),
      rollups,
      query: (query) => Effect.map(rollups(query), (rs) => rs.map(Rollup.toPoint)),
      summarize: (selector, from, to) =>
        Effect.map(rollups({ selector, from, to }), (rs) => {
          const bySeries = new Map<string, Array<Rollup.Rollup>>()
          for (const r of rs) {
            const key = Series.key(r.series)
            const list = bySeries.get(key)
            if (list === undefined) bySeries.set(key, [r])
            else list.push(r)
          }
          return [...bySeries.values()].map((list) => Rollup.toPoint(Rollup.combine(list, from, to - from)!))
        }),
      series: Effect.map(db.series, (stored) => {
        const seen = new Map<string, Series.Series>()
        for (const s of stored) seen.set(Series.key(s), s)
        for (const r of open.values()) seen.set(Series.key(r.series), r.series)
        return [...seen.values()]
      })
    }
    yield* Effect.addFinalizer(() => Effect.ignoreLogged(flush({ all: true })))
    return service
  })

/**
 * The history as a layer (see {@link make}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<MetricHistory, MetricHistoryError | MetricHistoryVersionUnsupported | ObserveInvalidInput> =>
  Layer.scoped(MetricHistory, make(options))

/**
 * The history on PostgreSQL as a layer (see {@link makePostgres}; needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres = (
  options: Options = {}
): Layer.Layer<
  MetricHistory,
  MetricHistoryError | MetricHistoryVersionUnsupported | ObserveInvalidInput,
  SqlClient.SqlClient
> => Layer.scoped(MetricHistory, makePostgres(options))

/**
 * An in-memory history for tests (1-second rollups unless given).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  options: Omit<Options, "filename"> = {}
): Layer.Layer<MetricHistory, MetricHistoryError | MetricHistoryVersionUnsupported | ObserveInvalidInput> =>
  layer({ intervalMs: 1_000, ...options, filename: ":memory:" })
