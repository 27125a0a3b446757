/**
 * The cluster's job table on a throwaway PostgreSQL: a version-1 table (before `received_at` and `resends`)
 * migrates forward with its rows kept; a claim is one statement; the receipt and the watchdog's resends are
 * recorded. A job is stored on its module's promoted version, claimed with what its run starts from, and swapped
 * in one statement fenced by the run's epoch (a stale or cancelled run swaps nothing; a changed module refuses it).
 */
import { ClusterChannel, ReleaseStore, Storage, TestPostgres as Postgres } from "@effect-dspy/services"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as JobTable from "../src/internal/jobTable.js"
import * as Database from "./support/database.js"

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
          yield* table.accept(["job_old", "job_none"], "r1", 10)
          yield* table.resent("job_old")
          const accepted = Option.getOrThrow(yield* table.get("job_old"))
          assert.strictEqual(accepted.receivedAt, 10)
          assert.strictEqual(accepted.owner, "r1")
          assert.strictEqual(accepted.resends, 1)
          // The release store's tables, which a claim reads (module "m" is not there).
          yield* Effect.provide(ReleaseStore.makePostgres, pg)
          const claim = yield* table.start("job_old", "r2", 20)
          assert.strictEqual(claim._tag, "Claimed")
          if (claim._tag === "Claimed") {
            assert.strictEqual(claim.row.epoch, 1)
            assert.strictEqual(claim.row.receivedAt, 10, "the first receipt is kept")
            assert.strictEqual(claim.row.startedAt, 20)
            assert.isUndefined(claim.release, "no such module in the release store")
          }
          yield* table.finish("job_old", 1, { status: "failed", resumedUnits: 0, error: "test", at: 30 })
          const again = yield* table.start("job_old", "r2", 40)
          assert.strictEqual(again._tag, "Finished")
          assert.strictEqual((yield* table.start("job_none", "r2", 40))._tag, "Missing")
        })
      ),
    120_000
  )

  it.live(
    "a job is stored on the promoted version, claimed with its release, and swapped once in one statement (fenced)",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { pg, releases, url } = yield* Database.seeded(bins!, "swaps")
          const table = yield* Effect.provide(JobTable.open, pg)
          const job = (id: string, moduleId = "qa") =>
            table.insertOnPromoted({
              id,
              moduleId,
              optimizer: "o",
              metric: "exact_match",
              seed: 0,
              data: "{}",
              createdAt: 1
            })
          assert.deepStrictEqual(yield* job("j1"), Option.some(1), "on the promoted version")
          assert.deepStrictEqual(yield* job("j0", "nope"), Option.none(), "no such module: nothing stored")
          assert.isTrue(Option.isNone(yield* table.get("j0")))
          const started = yield* table.start("j1", "r1", 2)
          assert.strictEqual(started._tag, "Claimed")
          if (started._tag !== "Claimed") return
          assert.deepStrictEqual(started.release?.spec, Database.spec)
          assert.isTrue(started.release?.baseState.found)
          assert.deepStrictEqual(
            started.release?.baseState.state,
            Option.getOrThrow(yield* releases.load("qa")).versions[0]!.state
          )
          assert.strictEqual(started.release?.latestVersion, 1)

          // The swap's notice is sent at its commit: listened to from here on.
          const events = yield* Queue.unbounded<ClusterChannel.Event>()
          yield* Effect.forkScoped(Stream.runForEach(ClusterChannel.listen(url), (e) => Queue.offer(events, e)))
          assert.strictEqual((yield* Queue.take(events))._tag, "Connected")
          const version = (parent: number, jobId: string) => ({
            moduleId: "qa",
            version: 2,
            parent,
            state: JSON.stringify({ swapped: jobId }),
            lineage: JSON.stringify({ parent, reason: "optimization", jobId, optimizer: "o", scores: null })
          })
          const ending = (revision: number) => ({
            resumedUnits: 0,
            score: 0.5,
            at: 3,
            channel: ClusterChannel.channel,
            notice: ClusterChannel.encode({ kind: "release", moduleId: "qa", revision, origin: "test" })
          })
          // A stale epoch swaps nothing.
          assert.strictEqual(yield* table.swap("j1", 0, version(1, "j1"), ending(2)), "superseded")
          assert.strictEqual(Option.getOrThrow(yield* releases.load("qa")).versions.length, 1)
          assert.strictEqual(yield* table.swap("j1", 1, version(1, "j1"), ending(2)), "swapped")
          const stored = Option.getOrThrow(yield* releases.load("qa"))
          assert.strictEqual(stored.module.promoted, 2)
          assert.deepStrictEqual(stored.versions[1]!.state, { swapped: "j1" })
          assert.strictEqual(stored.versions[1]!.lineage.jobId, "j1")
          const ended = Option.getOrThrow(yield* table.get("j1"))
          assert.strictEqual(ended.status, "swapped")
          assert.strictEqual(ended.swappedVersion, 2)
          assert.strictEqual(ended.score, 0.5)
          assert.strictEqual(ended.finishedAt, 3)
          assert.deepStrictEqual(yield* Queue.take(events), {
            _tag: "Notice",
            notice: { kind: "release", moduleId: "qa", revision: 2, origin: "test" }
          })
          // Repeated, the statement changes nothing: the module's promoted version is no longer the base.
          assert.strictEqual(yield* table.swap("j1", 1, version(1, "j1"), ending(2)), "conflict")

          // A job on the old base: the compare-and-swap refuses it, nothing is written.
          assert.deepStrictEqual(yield* job("j2"), Option.some(2))
          assert.strictEqual((yield* table.start("j2", "r1", 4))._tag, "Claimed")
          assert.strictEqual(yield* table.swap("j2", 1, { ...version(1, "j2"), version: 3 }, ending(3)), "conflict")
          assert.strictEqual(Option.getOrThrow(yield* releases.load("qa")).versions.length, 2)
          assert.strictEqual(Option.getOrThrow(yield* table.get("j2")).status, "running")

          // A cancelled run swaps nothing.
          assert.isTrue(Option.isSome(yield* table.cancel("j2", 5)))
          assert.strictEqual(yield* table.swap("j2", 1, { ...version(2, "j2"), version: 3 }, ending(3)), "superseded")
          assert.strictEqual(Option.getOrThrow(yield* releases.load("qa")).module.promoted, 2)
          assert.strictEqual(Option.getOrThrow(yield* table.get("j2")).status, "cancelled")
        })
      ),
    120_000
  )
})
