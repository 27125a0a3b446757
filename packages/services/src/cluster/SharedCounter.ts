/**
 * Counters shared by every process on one PostgreSQL database: the units used per key in fixed windows aligned on
 * the database's clock (so processes whose clocks differ agree on the window). {@link Service.take} grants at most
 * what is left of a limit, in one atomic `UPDATE ... RETURNING` (the row lock serialises the processes), so the
 * grants of all processes in a window never add up past the limit. The cluster's rate limits and budgets are built
 * on it.
 *
 * @example
 * ```ts
 * import { SharedCounter } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * // At most 100 units per minute across the cluster: take 5 at a time.
 * const lease = Effect.flatMap(SharedCounter.SharedCounter, (counter) => counter.take("openai", 5, 100, 60_000))
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ClusterStoreError } from "../ServicesError.js"
import { countersTable, migrate, typed } from "./internal/schema.js"

/**
 * A grant: the units granted (0 when the window's limit is spent), the window's total after it, and how long the
 * window still runs (ms, by the database's clock).
 *
 * @since 0.1.0
 * @category models
 */
export interface Grant {
  readonly granted: number
  readonly used: number
  readonly windowLeftMs: number
}

/**
 * The shared counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Takes up to `want` units of `key`'s current window of `windowMs`, never past `limit` in that window. */
  readonly take: (key: string, want: number, limit: number, windowMs: number) => Effect.Effect<Grant, ClusterStoreError>
  /** Adds `amount` to `key`'s current window unconditionally (a cost known after the fact); its total after. */
  readonly add: (key: string, amount: number, windowMs: number) => Effect.Effect<Grant, ClusterStoreError>
}

/**
 * The shared counters tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class SharedCounter extends Context.Tag("@effect-dspy/services/SharedCounter")<SharedCounter, Service>() {}

interface Row {
  readonly granted: unknown
  readonly used: unknown
  readonly ws: unknown
  readonly now: unknown
}

/**
 * The counters over the `SqlClient` in context (PostgreSQL), their table created or migrated first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, ClusterStoreError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* migrate
  const table = sql(countersTable)
  // `base` is the window's use before this statement: 0 when the row's window is over.
  const update = (key: string, want: number, limit: number, windowMs: number) => sql<Row>`
    UPDATE ${table} AS c SET
      window_start = GREATEST(c.window_start, n.ws),
      last_grant = GREATEST(0, LEAST(${want}::float8, ${limit}::float8 - CASE WHEN c.window_start >= n.ws THEN c.used ELSE 0 END)),
      used = CASE WHEN c.window_start >= n.ws THEN c.used ELSE 0 END
        + GREATEST(0, LEAST(${want}::float8, ${limit}::float8 - CASE WHEN c.window_start >= n.ws THEN c.used ELSE 0 END))
    FROM (SELECT (floor(t.ms / ${windowMs}::float8) * ${windowMs}::float8)::bigint AS ws, t.ms::bigint AS now
          FROM (SELECT extract(epoch FROM clock_timestamp()) * 1000 AS ms) AS t) AS n
    WHERE c.key = ${key}
    RETURNING c.last_grant AS granted, c.used AS used, n.ws AS ws, n.now AS now`
  const grantOf = (row: Row, windowMs: number): Grant => ({
    granted: Number(row.granted),
    used: Number(row.used),
    windowLeftMs: Math.max(1, Number(row.ws) + windowMs - Number(row.now))
  })
  const run = (key: string, want: number, limit: number, windowMs: number) =>
    Effect.gen(function* () {
      let rows = yield* update(key, want, limit, windowMs)
      if (rows.length === 0) {
        yield* sql`INSERT INTO ${table} (key, window_start, used, last_grant) VALUES (${key}, 0, 0, 0) ON CONFLICT (key) DO NOTHING`
        rows = yield* update(key, want, limit, windowMs)
      }
      return grantOf(rows[0]!, windowMs)
    })
  return {
    take: (key, want, limit, windowMs) => typed("lease")(run(key, Math.max(0, want), limit, windowMs)),
    add: (key, amount, windowMs) => typed("lease")(run(key, amount, Number.MAX_VALUE, windowMs))
  }
})

/**
 * The counters as a layer (needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SharedCounter, ClusterStoreError, SqlClient.SqlClient> = Layer.effect(
  SharedCounter,
  make
)
