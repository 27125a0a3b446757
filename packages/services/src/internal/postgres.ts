/**
 * What the PostgreSQL stores share: the client layer, one-line failure reasons, and the schema versions.
 *
 * Every store keeps its schema version in one row of `dspy_schema_versions` (`store` -> `version`) and lists its
 * migrations as steps (index 0: an empty database to version 1), like the SQLite stores. Opening runs the steps
 * the database lacks in one transaction, under a transaction-scoped advisory lock, so processes opening the same
 * database at once migrate it once; a database written by a newer program (a version above the code's) is left
 * untouched and refused.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as SqlError from "@effect/sql/SqlError"

/** The table of schema versions, one row per store. */
export const versionsTable = "dspy_schema_versions"

/** The advisory lock key that serialises migrations (any constant shared by every store). */
const migrationLock = 0x64_73_70_79 // "dspy"

/** One line saying why an effect failed (the driver's reason, when the SqlError wraps one). Never the URL. */
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

/** The outcome of {@link migrate}: the version found before, and whether it is newer than the code's. */
export interface Migrated {
  readonly found: number
  readonly newer: boolean
}

/**
 * Brings `store`'s schema to `steps.length` (the code's version): runs the missing steps and records the version,
 * in one transaction. A newer version is reported, nothing changed.
 */
export const migrate = (
  store: string,
  steps: ReadonlyArray<ReadonlyArray<string>>
): Effect.Effect<Migrated, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.withTransaction(
      Effect.gen(function* () {
        yield* sql`SELECT pg_advisory_xact_lock(${migrationLock})`
        yield* sql.unsafe(
          `CREATE TABLE IF NOT EXISTS ${versionsTable} (store TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at BIGINT NOT NULL)`
        )
        const rows = yield* sql<{ version: number }>`SELECT version FROM ${sql(versionsTable)} WHERE store = ${store}`
        const found = rows.length === 0 ? 0 : Number(rows[0]!.version)
        if (found > steps.length) return { found, newer: true }
        if (found < steps.length) {
          for (const step of steps.slice(found)) for (const statement of step) yield* sql.unsafe(statement)
          yield* sql`INSERT INTO ${sql(versionsTable)} (store, version, updated_at)
            VALUES (${store}, ${steps.length}, ${Date.now()})
            ON CONFLICT (store) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`
        }
        return { found, newer: false }
      })
    )
  })

/** A number column (PostgreSQL's BIGINT comes back as text) as a number; null stays null. */
export const num = (value: unknown): number => Number(value)

/** A nullable number column. */
export const numOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value)

/** The PostgreSQL client for the stores (`url` is redacted: it may hold a password). */
export const layerClient = (options: {
  readonly url: Redacted.Redacted<string>
  readonly maxConnections?: number
}): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layer({
    url: options.url,
    maxConnections: options.maxConnections ?? 10,
    applicationName: "effect-dspy",
    // A server that is down fails a statement (typed, retryable) after this long instead of waiting forever.
    connectTimeout: "5 seconds"
  })
