/**
 * A private SQLite database on one reserved connection, as the CacheManager's disk tier and the
 * OptimizationCoordinator's job store use it, with failures flattened to one line of text.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"

/** One line saying why an SQLite effect failed (the driver's reason, when the SqlError wraps one). */
export const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (!(error instanceof Error)) return String(error)
  // An SqlError says "Failed to execute statement"; the driver's reason is its cause.
  const inner = (error as { readonly cause?: unknown }).cause
  return inner instanceof Error && inner.message !== error.message
    ? `${error.message}: ${inner.message}`
    : error.message
}

/** The effect with any failure or defect turned into {@link describe}'s line. */
export const oneLine = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, string, R> =>
  self.pipe(Effect.sandbox, Effect.mapError(describe))

/** Runs one statement on the reserved connection (rows as the driver returns them). */
export type Run = (sql: string, params: ReadonlyArray<unknown>) => ReturnType<Connection["execute"]>

/**
 * Opens (creating the folder and file when needed) the database at `filename` (`":memory:"` for a private
 * in-memory one) and reserves its one connection for the scope's lifetime. Statements on a reserved connection
 * skip the client's per-query permit, scope and span (about 4x faster per read).
 */
export const openReserved = (filename: string): Effect.Effect<Run, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    if (filename !== ":memory:") {
      yield* Effect.try(() => fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true }))
    }
    const context = yield* Layer.build(SqliteClient.layer({ filename }))
    const client = Context.get(context, SqliteClient.SqliteClient)
    const conn = yield* client.reserve
    const run: Run = (sql, params) => conn.execute(sql, params, undefined)
    return run
  })
