/**
 * One statement runner over SQLite and PostgreSQL, so a store writes its queries and its row codec once: statements
 * use `?` placeholders (numbered `$1, $2, ...` for PostgreSQL) and the SQL both databases accept (`INSERT ... ON
 * CONFLICT ... DO UPDATE`, `DELETE ... RETURNING`); only the tables' DDL differs by dialect.
 *
 * SQLite runs on one reserved connection: statements and transactions take turns (a statement never lands inside
 * another fiber's transaction). PostgreSQL runs on the client's pool; a transaction holds one connection, and may
 * take a transaction-scoped advisory lock first so that processes sharing the database serialise a
 * read-merge-write.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type * as Sqlite from "./sqlite.js"

/** A row as the driver returns it. */
export type Row = { readonly [column: string]: unknown }

/** Runs one statement (`?` placeholders) and gives its rows. */
export type Query = (sql: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, unknown>

/** A database the stores run their statements on. */
export interface Db {
  readonly dialect: "sqlite" | "postgres"
  readonly query: Query
  /**
   * Runs `body` in one transaction, its statements through the `Query` it is given; all or nothing. `lock`: on
   * PostgreSQL, an advisory lock key held until the commit (processes serialise on it); ignored by SQLite, whose
   * transaction is exclusive already.
   */
  readonly transaction: <A, E>(
    body: (query: Query) => Effect.Effect<A, E>,
    options?: { readonly lock?: number }
  ) => Effect.Effect<A, E | unknown>
}

/** `?` placeholders as `$1, $2, ...` (outside quoted text). */
const numbered = (sql: string): string => {
  let out = ""
  let n = 0
  let quoted = false
  for (const c of sql) {
    if (c === "'") quoted = !quoted
    out += c === "?" && !quoted ? `$${++n}` : c
  }
  return out
}

/** A `Db` over a reserved SQLite connection (see `sqlite.openReserved`). */
export const sqlite = (run: Sqlite.Run): Effect.Effect<Db> =>
  Effect.map(Effect.makeSemaphore(1), (lock) => {
    const raw: Query = (sql, params = []) => Effect.map(run(sql, params), (rows) => rows as ReadonlyArray<Row>)
    return {
      dialect: "sqlite",
      query: (sql, params) => lock.withPermits(1)(raw(sql, params)),
      transaction: (body) =>
        lock.withPermits(1)(
          Effect.uninterruptible(
            Effect.zipRight(
              raw("BEGIN IMMEDIATE"),
              Effect.zipLeft(body(raw), raw("COMMIT")).pipe(Effect.tapErrorCause(() => Effect.ignore(raw("ROLLBACK"))))
            )
          )
        )
    } satisfies Db
  })

/** A `Db` over the PostgreSQL `SqlClient` in context. */
export const postgres: Effect.Effect<Db, never, SqlClient.SqlClient> = Effect.map(SqlClient.SqlClient, (sql) => {
  const texts = new Map<string, string>()
  const query: Query = (text, params = []) => {
    let pg = texts.get(text)
    if (pg === undefined) {
      pg = numbered(text)
      if (texts.size < 1_000) texts.set(text, pg)
    }
    return sql.unsafe<Row>(pg, params as Array<unknown>)
  }
  return {
    dialect: "postgres",
    query,
    transaction: (body, options) =>
      sql.withTransaction(
        options?.lock === undefined
          ? body(query)
          : Effect.zipRight(query("SELECT pg_advisory_xact_lock(?)", [options.lock]), body(query))
      )
  } satisfies Db
})

/** Rows of `count` placeholders each, `(?, ?), (?, ?)`, for a multi-row `VALUES`. */
export const valuesList = (rows: number, count: number): string =>
  Array.from({ length: rows }, () => `(${Array.from({ length: count }, () => "?").join(", ")})`).join(", ")

/** A number column (PostgreSQL's BIGINT comes back as text). */
export const num = (value: unknown): number => Number(value)

/** A nullable number column; null and undefined give `undefined`. */
export const numOrUndefined = (value: unknown): number | undefined =>
  value === null || value === undefined ? undefined : Number(value)
