/**
 * The SQLite disk tier, on `@effect/sql-sqlite-node` (better-sqlite3 underneath). The disk is only read on a
 * memory miss and written once per provider call, so the SqlClient's fiber overhead (a few microseconds) is
 * noise next to the call it saves; the hit path target is met by the memory tier in front. Using the SqlClient
 * keeps the project on one SQLite stack (the event store uses it too) and gives typed `SqlError`s.
 *
 * A lock another connection holds is waited for `DatabaseFile.busyTimeoutMs` at most (not the driver's 5 s of
 * blocked event loop), and each write checks that the file is still the one opened (`DatabaseFile.check`): a
 * deleted, replaced or read-only file fails the write, and the cache degrades to memory with its event.
 */
import { DatabaseFile } from "@effect-dspy/foundation"
import type * as SqliteClientModule from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlError from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Completion from "../../lm/Completion.js"

export interface DiskEntry {
  readonly response: Completion.CompletionResponse
  readonly expiresAt: number
}

export interface DiskStore {
  readonly get: (key: string) => Effect.Effect<Option.Option<DiskEntry>, SqlError.SqlError>
  readonly set: (key: string, entry: DiskEntry) => Effect.Effect<void, SqlError.SqlError>
  readonly remove: (key: string) => Effect.Effect<void, SqlError.SqlError>
  readonly clear: Effect.Effect<void, SqlError.SqlError>
}

interface Row {
  readonly value: string
  readonly expires_at: number
}

/** Why the disk tier failed, in one line. */
export const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

/**
 * Opens (creating when needed) the cache database; any failure, even a defect thrown by the driver, fails
 * with a one-line description.
 */
export const open = (filename: string): Effect.Effect<DiskStore, string, Scope.Scope> =>
  Effect.gen(function* () {
    yield* Effect.try(() => fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true }))
    // The SQLite driver loads on first use, not when the package is imported.
    const SqliteClient: typeof SqliteClientModule = yield* Effect.promise(
      () => import("@effect/sql-sqlite-node/SqliteClient")
    )
    const context = yield* Layer.build(SqliteClient.layer({ filename }))
    const sql = Context.get(context, SqliteClient.SqliteClient)
    yield* sql.unsafe(DatabaseFile.busyTimeoutPragma)
    const watched = DatabaseFile.watch(filename)
    const verify = Effect.suspend(() => {
      const problem = DatabaseFile.check(watched)
      return problem === undefined
        ? Effect.void
        : Effect.fail(new SqlError.SqlError({ message: `SQLite storage lost: ${problem}`, cause: problem }))
    })
    yield* sql`CREATE TABLE IF NOT EXISTS lm_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL)`
    // Reading once proves the file is a database we can use (a corrupt file fails here, not on the first hit).
    yield* sql`SELECT count(*) AS n FROM lm_cache`
    const store: DiskStore = {
      get: (key) =>
        Effect.map(
          sql<Row>`SELECT value, expires_at FROM lm_cache WHERE key = ${key}`,
          (rows): Option.Option<DiskEntry> =>
            rows.length === 0
              ? Option.none()
              : Option.some({
                  response: JSON.parse(rows[0]!.value) as Completion.CompletionResponse,
                  expiresAt: rows[0]!.expires_at
                })
        ),
      set: (key, entry) =>
        Effect.zipRight(
          sql`INSERT OR REPLACE INTO lm_cache (key, value, expires_at) VALUES (${key}, ${JSON.stringify(entry.response)}, ${entry.expiresAt})`,
          verify
        ),
      remove: (key) => Effect.asVoid(sql`DELETE FROM lm_cache WHERE key = ${key}`),
      clear: Effect.asVoid(sql`DELETE FROM lm_cache`)
    }
    return store
  }).pipe(Effect.sandbox, Effect.mapError(describe))
