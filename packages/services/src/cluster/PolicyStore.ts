/**
 * The traffic policies of a cluster: each module's policy as last set through any process (none once cleared),
 * with a revision that grows with every change, on the shared PostgreSQL database. A process applies a row whose
 * revision is above the one it applied last, so a stale notice never brings an old policy back. Policies from
 * Config (`modules.trafficPolicies`) are every process's own and are not stored here.
 *
 * @example
 * ```ts
 * import { PolicyStore } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const revision = Effect.flatMap(PolicyStore.PolicyStore, (store) =>
 *   store.put({ moduleId: "qa", policy: { _tag: "Pinned", version: "2" }, seed: 0, origin: "runner-1" })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ClusterStoreError } from "../ServicesError.js"
import { migrate, policiesTable, typed } from "./internal/schema.js"

/**
 * A module's shared policy: the policy (none: cleared), its seed, the process that set it, and its revision.
 *
 * @since 0.1.0
 * @category models
 */
export interface PolicyRecord {
  readonly moduleId: string
  readonly revision: number
  readonly policy: unknown | undefined
  readonly seed: number
  readonly origin: string
}

/**
 * The policy store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Stores a module's policy (`undefined`: cleared) as its next revision; the revision written. */
  readonly put: (record: Omit<PolicyRecord, "revision">) => Effect.Effect<number, ClusterStoreError>
  /** A module's policy row, if one was ever set. */
  readonly get: (moduleId: string) => Effect.Effect<PolicyRecord | undefined, ClusterStoreError>
  /** Every module's policy row. */
  readonly all: Effect.Effect<ReadonlyArray<PolicyRecord>, ClusterStoreError>
}

/**
 * The policy store tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class PolicyStore extends Context.Tag("@effect-dspy/services/PolicyStore")<PolicyStore, Service>() {}

interface Row {
  readonly module_id: string
  readonly revision: unknown
  readonly policy: string | null
  readonly seed: unknown
  readonly origin: string
}

const recordOf = (row: Row): PolicyRecord => ({
  moduleId: row.module_id,
  revision: Number(row.revision),
  policy: row.policy === null ? undefined : JSON.parse(row.policy),
  seed: Number(row.seed),
  origin: row.origin
})

/**
 * The store over the `SqlClient` in context (PostgreSQL), its table created or migrated first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, ClusterStoreError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* migrate
  const table = sql(policiesTable)
  return {
    put: (record) =>
      typed("policy")(
        Effect.map(
          sql<{ revision: unknown }>`
            INSERT INTO ${table} (module_id, revision, policy, seed, origin, updated_at)
            VALUES (${record.moduleId}, 1, ${record.policy === undefined ? null : JSON.stringify(record.policy)},
              ${record.seed}, ${record.origin}, ${Date.now()})
            ON CONFLICT (module_id) DO UPDATE SET revision = ${table}.revision + 1, policy = EXCLUDED.policy,
              seed = EXCLUDED.seed, origin = EXCLUDED.origin, updated_at = EXCLUDED.updated_at
            RETURNING revision`,
          (rows) => Number(rows[0]!.revision)
        )
      ),
    get: (moduleId) =>
      typed("policy")(
        Effect.map(sql<Row>`SELECT * FROM ${table} WHERE module_id = ${moduleId}`, (rows) =>
          rows.length === 0 ? undefined : recordOf(rows[0]!)
        )
      ),
    all: typed("policy")(Effect.map(sql<Row>`SELECT * FROM ${table}`, (rows) => rows.map(recordOf)))
  }
})

/**
 * The store as a layer (needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<PolicyStore, ClusterStoreError, SqlClient.SqlClient> = Layer.effect(PolicyStore, make)
