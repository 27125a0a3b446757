/**
 * The cluster's job table on a throwaway PostgreSQL: a version-1 table (before `received_at` and `resends`)
 * migrates forward with its rows kept; a claim is one statement; the receipt and the watchdog's resends are
 * recorded.
 */
import { Storage, TestPostgres as Postgres } from "@effect-dspy/services"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as JobTable from "../src/internal/jobTable.js"

const bins = Postgres.findPostgres()

describe.skipIf(bins === undefined)("job table (PostgreSQL)", () => {
  it.live(
    "migrates a version-1 table forward, keeping its jobs; records receipt and resends",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* Postgres.start(bins!)
          const url = yield* server.createDatabase("jobs")
          const pg = yield* Layer.build(Storage.layerPostgresClient({ url }))
          const sql = yield* Effect.provide(SqlClient.SqlClient, pg)
          // A database written by the version-1 code.
          yield* sql.unsafe(
            "CREATE TABLE dspy_schema_versions (store TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at BIGINT NOT NULL)"
          )
          yield* sql.unsafe(`CREATE TABLE dspy_cluster_jobs (
            id TEXT PRIMARY KEY, module_id TEXT NOT NULL, optimizer TEXT NOT NULL, metric TEXT NOT NULL,
            seed INTEGER NOT NULL, data TEXT NOT NULL, base_version INTEGER NOT NULL, status TEXT NOT NULL,
            epoch INTEGER NOT NULL DEFAULT 0, owner TEXT, runs INTEGER NOT NULL DEFAULT 0,
            units INTEGER NOT NULL DEFAULT 0, resumed_units INTEGER NOT NULL DEFAULT 0, swapped_version INTEGER,
            score DOUBLE PRECISION, error TEXT, created_at BIGINT NOT NULL, started_at BIGINT,
            progressed_at BIGINT, finished_at BIGINT)`)
          yield* sql.unsafe("INSERT INTO dspy_schema_versions VALUES ('cluster_jobs', 1, 0)")
          yield* sql.unsafe(`INSERT INTO dspy_cluster_jobs (id, module_id, optimizer, metric, seed, data, base_version, status, created_at)
            VALUES ('job_old', 'm', 'o', 'exact_match', 0, '{}', 1, 'queued', 5)`)
          const table = yield* Effect.provide(JobTable.open, pg)
          const versions = yield* sql<{
            version: number
          }>`SELECT version FROM dspy_schema_versions WHERE store = 'cluster_jobs'`
          assert.strictEqual(Number(versions[0]!.version), JobTable.schemaVersion)
          const old = Option.getOrThrow(yield* table.get("job_old"))
          assert.strictEqual(old.status, "queued")
          assert.strictEqual(old.resends, 0)
          assert.isNull(old.receivedAt)
          yield* table.accept("job_old", "r1", 10)
          yield* table.resent("job_old")
          const accepted = Option.getOrThrow(yield* table.get("job_old"))
          assert.strictEqual(accepted.receivedAt, 10)
          assert.strictEqual(accepted.owner, "r1")
          assert.strictEqual(accepted.resends, 1)
          const claim = yield* table.claim("job_old", "r2", 20)
          assert.strictEqual(claim._tag, "Claimed")
          if (claim._tag === "Claimed") {
            assert.strictEqual(claim.row.epoch, 1)
            assert.strictEqual(claim.row.receivedAt, 10, "the first receipt is kept")
            assert.strictEqual(claim.row.startedAt, 20)
          }
          yield* table.finish("job_old", 1, { status: "failed", resumedUnits: 0, error: "test", at: 30 })
          const again = yield* table.claim("job_old", "r2", 40)
          assert.strictEqual(again._tag, "Finished")
          assert.strictEqual((yield* table.claim("job_none", "r2", 40))._tag, "Missing")
        })
      ),
    120_000
  )
})
