/**
 * The L2 tier: a SQLite file on `@effect/sql-sqlite-node` (better-sqlite3 underneath, so no call can hang on
 * I/O the way a network store can). One table keyed by `(module, key)`: the primary key's index starts with
 * the module column, so a module's entries are found and removed by an index range, not a scan.
 * Values are stored as JSON text; `expires_at` is epoch milliseconds from Effect's Clock (0: never expires).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Sqlite from "./sqlite.js"
import type { Json } from "./cacheJson.js"

/** What L2 returns for a key. */
export interface DiskEntry {
  readonly value: Json
  readonly expiresAt: number
}

/** The disk tier; every failure is a one-line description (the caller degrades the tier on it). */
export interface DiskTier {
  readonly get: (moduleId: string, key: string) => Effect.Effect<Option.Option<DiskEntry>, string>
  readonly set: (moduleId: string, key: string, value: Json, expiresAt: number) => Effect.Effect<void, string>
  readonly delete: (moduleId: string, key: string) => Effect.Effect<void, string>
  /** Removes every entry of the module; returns how many of them were live at `now`. */
  readonly deleteModule: (moduleId: string, now: number) => Effect.Effect<number, string>
  /** Removes the entries expired at `now`; returns how many. */
  readonly deleteExpired: (now: number) => Effect.Effect<number, string>
  readonly clear: Effect.Effect<void, string>
  /** The module ids with entries here. */
  readonly modules: Effect.Effect<ReadonlyArray<string>, string>
  /** The module's entries live at `now`. */
  readonly entries: (
    moduleId: string,
    now: number
  ) => Effect.Effect<ReadonlyArray<{ readonly key: string; readonly value: Json }>, string>
}

interface Row {
  readonly value: string
  readonly expires_at: number
}

export const describe = Sqlite.describe

const oneLine = Sqlite.oneLine

/**
 * Opens (creating when needed) the cache database at `filename` (`":memory:"` for a private in-memory one).
 * Reading the table once proves the file is usable: a corrupt or unwritable file fails here.
 */
export const open = (filename: string): Effect.Effect<DiskTier, string, Scope.Scope> =>
  oneLine(
    Effect.gen(function* () {
      const run = yield* Sqlite.openReserved(filename)
      yield* run(
        "CREATE TABLE IF NOT EXISTS dspy_cache (module TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (module, key)) WITHOUT ROWID",
        []
      )
      yield* run("CREATE INDEX IF NOT EXISTS dspy_cache_expires ON dspy_cache (expires_at) WHERE expires_at > 0", [])
      // A write proves the file is writable now rather than at the first `set`.
      yield* run("DELETE FROM dspy_cache WHERE module = '' AND key = ''", [])
      const tier: DiskTier = {
        get: (moduleId, key) =>
          oneLine(
            Effect.flatMap(
              run("SELECT value, expires_at FROM dspy_cache WHERE module = ? AND key = ?", [moduleId, key]),
              (rows) => {
                if (rows.length === 0) return Effect.succeedNone
                const row = rows[0] as unknown as Row
                return Effect.try(() =>
                  Option.some<DiskEntry>({ value: JSON.parse(row.value) as Json, expiresAt: row.expires_at })
                )
              }
            )
          ),
        set: (moduleId, key, value, expiresAt) =>
          oneLine(
            Effect.asVoid(
              run("INSERT OR REPLACE INTO dspy_cache (module, key, value, expires_at) VALUES (?, ?, ?, ?)", [
                moduleId,
                key,
                JSON.stringify(value),
                expiresAt
              ])
            )
          ),
        delete: (moduleId, key) =>
          oneLine(Effect.asVoid(run("DELETE FROM dspy_cache WHERE module = ? AND key = ?", [moduleId, key]))),
        deleteModule: (moduleId, now) =>
          oneLine(
            Effect.map(
              run("DELETE FROM dspy_cache WHERE module = ? RETURNING expires_at", [moduleId]),
              (rows) =>
                rows.filter((r) => {
                  const expiresAt = Number(r.expires_at)
                  return expiresAt === 0 || now < expiresAt
                }).length
            )
          ),
        deleteExpired: (now) =>
          oneLine(
            Effect.map(
              run("DELETE FROM dspy_cache WHERE expires_at > 0 AND expires_at <= ? RETURNING key", [now]),
              (rows) => rows.length
            )
          ),
        clear: oneLine(Effect.asVoid(run("DELETE FROM dspy_cache", []))),
        modules: oneLine(
          Effect.map(run("SELECT DISTINCT module FROM dspy_cache WHERE module <> ''", []), (rows) =>
            rows.map((r) => String(r.module))
          )
        ),
        entries: (moduleId, now) =>
          oneLine(
            Effect.flatMap(
              run("SELECT key, value FROM dspy_cache WHERE module = ? AND (expires_at = 0 OR expires_at > ?)", [
                moduleId,
                now
              ]),
              (rows) =>
                Effect.try(() => rows.map((r) => ({ key: String(r.key), value: JSON.parse(String(r.value)) as Json })))
            )
          )
      }
      return tier
    })
  )
