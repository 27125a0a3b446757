/**
 * The cluster's tables on the shared PostgreSQL database, versioned in `dspy_schema_versions` under `cluster` and
 * migrated forward like the stores' (see `internal/postgres.ts`): the traffic policies set through any process, and
 * the shared counters of the rate limits and budgets.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { ClusterStoreError } from "../../ServicesError.js"
import * as Pg from "../../internal/postgres.js"

/** The traffic policies table: one row per module, its revision counting the changes. */
export const policiesTable = "dspy_cluster_policies"

/** The shared counters: one row per key, the units used in its current window. */
export const countersTable = "dspy_cluster_counters"

const steps: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE IF NOT EXISTS ${policiesTable} (module_id TEXT PRIMARY KEY, revision BIGINT NOT NULL, policy TEXT, seed BIGINT NOT NULL, origin TEXT NOT NULL, updated_at BIGINT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${countersTable} (key TEXT PRIMARY KEY, window_start BIGINT NOT NULL, used DOUBLE PRECISION NOT NULL, last_grant DOUBLE PRECISION NOT NULL)`
  ]
]

/** The schema version this code writes. */
export const schemaVersion = steps.length

/** A failure of `operation` as the cluster's typed error (one line; never the URL). */
export const storeError =
  (operation: string) =>
  (reason: string): ClusterStoreError =>
    new ClusterStoreError({
      operation,
      reason,
      message: `The cluster's ${operation} on PostgreSQL failed: ${reason}. It is retried once the database answers.`
    })

/** The effect's failures and defects as {@link storeError}. */
export const typed =
  (operation: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, ClusterStoreError, R> =>
    Effect.mapError(Pg.oneLine(self), storeError(operation))

/** Creates or migrates the cluster's tables; a database written by a newer program is refused. */
export const migrate: Effect.Effect<void, ClusterStoreError, SqlClient.SqlClient> = Effect.flatMap(
  typed("migration")(Pg.migrate("cluster", steps)),
  (m) =>
    m.newer
      ? Effect.fail(
          storeError("migration")(
            `the database's cluster tables are at schema version ${m.found}, newer than this program's ${schemaVersion}: run the newer release`
          )
        )
      : Effect.void
)
