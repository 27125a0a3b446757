/**
 * The storage contracts (support/storeContracts.ts) on SQLite and on PostgreSQL, PostgreSQL's schema versions,
 * and the application on PostgreSQL end to end (create a module, optimize, swap, restart: the state survives).
 * One throwaway PostgreSQL server for the file (support/pgServer.ts), a fresh database per test; without the
 * PostgreSQL binaries the PostgreSQL tests are skipped with a message saying what to install.
 */
import { Example, Module } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Application,
  CheckpointPostgres,
  CheckpointSqlite,
  ExperienceStore,
  ExperimentStore,
  MetricHistory,
  ModuleHandlers,
  ModuleManager,
  OptimizationCoordinator,
  ReleaseStore,
  Router,
  RouterStore,
  Storage,
  TestRuntime
} from "../src/index.js"
import * as JobsPg from "../src/internal/coordinator/postgresStore.js"
import * as JobsSqlite from "../src/internal/coordinator/store.js"
import * as PgServer from "./support/pgServer.js"
import { type Backend, contracts, moreContracts, openAt } from "./support/storeContracts.js"

const pg = PgServer.shared()

const tempFile = (name: string) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "dspy-storage-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    ),
    (dir) => path.join(dir, name)
  )

const serviceOf = <I, S, E, R>(tag: Context.Tag<I, S>, layer: Layer.Layer<I, E, R>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, tag))

const sqlite: Backend = {
  name: "SQLite",
  skip: false,
  releases: openAt(tempFile("releases.db"), (filename) => ReleaseStore.makeSqlite({ filename })),
  experiments: openAt(tempFile("experiments.db"), (filename) =>
    serviceOf(ExperimentStore.ExperimentStore, ExperimentStore.layerSqlite(filename))
  ),
  jobs: openAt(tempFile("jobs.db"), JobsSqlite.open),
  checkpoints: openAt(tempFile("checkpoints.db"), (filename) => CheckpointSqlite.make({ filename })),
  events: (retention) =>
    openAt(tempFile("events.db"), (filename) =>
      serviceOf(Events.Events, Events.layerSqlite({ filename, ...retention }))
    ),
  experiences: (bounds) =>
    openAt(tempFile("experiences.db"), (filename) => ExperienceStore.makeSqlite(filename, bounds)),
  metrics: (options) => openAt(tempFile("metrics.db"), (filename) => MetricHistory.make({ ...options, filename })),
  routers: openAt(tempFile("routers.db"), RouterStore.makeSqlite)
}

/** A fresh database's client (each `reopen` gets a new pool on it, as another process would). */
const database = Effect.suspend(() => pg.database())
const onClient =
  <S>(open: Effect.Effect<S, unknown, SqlClient.SqlClient | Scope.Scope>) =>
  (url: Redacted.Redacted<string>) =>
    Effect.flatMap(Layer.build(Storage.layerPostgresClient({ url, maxConnections: 4 })), (client) =>
      Effect.provide(open, client)
    )

const postgres: Backend = {
  name: "PostgreSQL",
  skip: PgServer.binaries === undefined,
  releases: openAt(database, onClient(ReleaseStore.makePostgres)),
  experiments: openAt(
    database,
    onClient(
      Effect.flatMap(Layer.build(ExperimentStore.layerPostgres), (c) =>
        Effect.succeed(Context.get(c, ExperimentStore.ExperimentStore))
      )
    )
  ),
  jobs: openAt(database, onClient(JobsPg.open)),
  checkpoints: openAt(database, onClient(CheckpointPostgres.make)),
  events: (retention) =>
    openAt(
      database,
      onClient(Effect.map(Layer.build(Events.layerSql(retention)), (c) => Context.get(c, Events.Events)))
    ),
  experiences: (bounds) => openAt(database, onClient(ExperienceStore.makePostgres(bounds))),
  metrics: (options) => openAt(database, onClient(MetricHistory.makePostgres(options))),
  routers: openAt(database, onClient(RouterStore.makePostgres))
}

describe("Storage contracts", () => {
  contracts(sqlite)
  contracts(postgres)
  moreContracts(sqlite)
  moreContracts(postgres)
})

describe.skipIf(PgServer.binaries === undefined)("Storage on PostgreSQL", () => {
  it.live("every store keeps its schema version, and a database written by a newer release is refused", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = yield* pg.database()
        const client = yield* Layer.build(Storage.layerPostgresClient({ url }))
        const sql = Context.get(client, SqlClient.SqlClient)
        yield* Effect.provide(
          Effect.all([
            ReleaseStore.makePostgres,
            Layer.build(ExperimentStore.layerPostgres),
            CheckpointPostgres.make,
            JobsPg.open,
            Layer.build(Events.layerSql()),
            ExperienceStore.makePostgres(),
            MetricHistory.makePostgres(),
            RouterStore.makePostgres
          ]),
          client
        )
        // Opening again migrates nothing.
        yield* Effect.provide(ReleaseStore.makePostgres, client)
        const rows = yield* sql<{
          store: string
          version: number
        }>`SELECT store, version FROM dspy_schema_versions ORDER BY store`
        assert.deepStrictEqual(
          rows.map((r) => [r.store, Number(r.version)]),
          [
            ["checkpoints", 1],
            ["events", 1],
            ["experiments", 1],
            ["loop_experiences", 2],
            ["metric_history", 1],
            ["optimization_jobs", 1],
            ["releases", ReleaseStore.schemaVersion],
            ["routers", 1]
          ]
        )
        yield* sql`UPDATE dspy_schema_versions SET version = 99`
        const refused = yield* Effect.flip(Effect.provide(ReleaseStore.makePostgres, client))
        assert.strictEqual(refused._tag, "ReleaseStoreVersionUnsupported")
        if (refused._tag === "ReleaseStoreVersionUnsupported") assert.strictEqual(refused.found, 99)
        assert.include(
          (yield* Effect.flip(Effect.provide(CheckpointPostgres.make, client))).message,
          "schema version 99"
        )
        assert.include(yield* Effect.flip(Effect.provide(JobsPg.open, client)), "schema version 99")
        assert.include(
          (yield* Effect.flip(Effect.provide(Layer.build(ExperimentStore.layerPostgres), client))).message,
          "newer version"
        )
        assert.include(
          (yield* Effect.flip(Effect.provide(Layer.build(Events.layerSql()), client))).message,
          "schema version 99"
        )
        assert.include((yield* Effect.flip(Effect.provide(ExperienceStore.makePostgres(), client))).message, "99")
        assert.strictEqual(
          (yield* Effect.flip(Effect.provide(MetricHistory.makePostgres(), client)))._tag,
          "MetricHistoryVersionUnsupported"
        )
        assert.include((yield* Effect.flip(Effect.provide(RouterStore.makePostgres, client))).message, "99")
      })
    )
  )

  it.live("the experience store's schema version 1 (before end users and tenants) migrates forward to 2", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = yield* pg.database()
        const client = yield* Layer.build(Storage.layerPostgresClient({ url }))
        const sql = Context.get(client, SqlClient.SqlClient)
        // Version 1, as the previous release wrote it, with one row.
        yield* Effect.provide(
          Storage.migratePostgres("loop_experiences", [
            [
              `CREATE TABLE dspy_loop_experiences (id TEXT PRIMARY KEY, correlation_id TEXT,
                module_id TEXT NOT NULL, version INTEGER NOT NULL, inputs TEXT, output TEXT, ok INTEGER NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL, lm_calls INTEGER NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,
                at BIGINT NOT NULL, reward DOUBLE PRECISION, outcome TEXT, feedback_at BIGINT)`,
              "CREATE INDEX dspy_loop_experiences_at ON dspy_loop_experiences (at)"
            ]
          ]),
          client
        )
        yield* sql`INSERT INTO dspy_loop_experiences (id, module_id, version, inputs, output, ok, latency_ms, lm_calls,
          cost_usd, at) VALUES ('old', 'qa', 1, '{"q":"1"}', '{"a":"2"}', 1, 5, 1, 0.001, 1000)`
        const store = yield* Effect.provide(ExperienceStore.makePostgres({ maxAgeMs: 1e14 }), client)
        const old = store.get("old")
        assert.strictEqual(old?.moduleId, "qa")
        assert.isUndefined(old?.subject)
        assert.isUndefined(old?.tenant)
        const rows = yield* sql<{
          version: number
        }>`SELECT version FROM dspy_schema_versions WHERE store = 'loop_experiences'`
        assert.strictEqual(Number(rows[0]!.version), 2)
        store.record({ ...old!, executionId: "new", at: 2000, subject: "alice", tenant: "acme" })
        yield* store.flush
        const again = yield* Effect.provide(ExperienceStore.makePostgres({ maxAgeMs: 1e14 }), client)
        assert.deepStrictEqual(
          (yield* again.query({ subject: "alice", tenant: "acme" })).map((e) => e.executionId),
          ["new"]
        )
      })
    )
  )

  it.live(
    "PostgreSQL restarted mid-run: typed errors during the outage, the same store works after it",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const client = yield* Layer.build(Storage.layerPostgresClient({ url, maxConnections: 2 }))
          const store = yield* Effect.provide(ReleaseStore.makePostgres, client)
          yield* store.create(
            { moduleId: "qa", shape: "s", spec: null, promoted: 1, createdAt: 1, updatedAt: 1 },
            {
              moduleId: "qa",
              version: 1,
              state: { p: 1 },
              lineage: { parent: null, reason: "created", jobId: null, optimizer: null, scores: null },
              createdAt: 1
            }
          )
          const server = pg.server()
          yield* server.stop
          // Restarted even when an assertion below fails: the file's other tests share the server.
          yield* Effect.addFinalizer(() => Effect.orDie(server.start))
          const down = yield* Effect.flip(Effect.timeout(store.load("qa"), "15 seconds"))
          assert.strictEqual(down._tag, "ReleaseStoreError")
          const write = yield* Effect.flip(Effect.timeout(store.promote("qa", 1, 2), "15 seconds"))
          assert.strictEqual(write._tag, "ReleaseStoreError")
          yield* server.start
          // The pool reconnects; what was committed before the outage is there, unchanged.
          const back = yield* Effect.retry(store.load("qa"), { times: 20, schedule: Schedule.spaced("100 millis") })
          assert.strictEqual(Option.getOrThrow(back).module.promoted, 1)
          yield* store.append(
            {
              moduleId: "qa",
              version: 2,
              state: { p: 2 },
              lineage: { parent: 1, reason: "swapped", jobId: null, optimizer: null, scores: null },
              createdAt: 2
            },
            { promote: true }
          )
          assert.strictEqual(Option.getOrThrow(yield* store.load("qa")).module.promoted, 2)
        })
      ),
    60_000
  )

  it.live("a server that is not there fails the store's opening with a typed error, the URL not in it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = Redacted.make("postgres://postgres:s3cret@127.0.0.1:1/none")
        const error = yield* Effect.flip(
          Effect.provide(ReleaseStore.makePostgres, Storage.layerPostgresClient({ url }))
        )
        assert.isFalse(JSON.stringify(error).includes("s3cret"))
        assert.isFalse(String(error).includes("s3cret"))
      })
    )
  )
})

describe.skipIf(PgServer.binaries === undefined)("The application on PostgreSQL", () => {
  const request = (): OptimizationCoordinator.StartRequest => {
    const splits = SimTask.splits(Arithmetic.task, { seed: 0, train: 6, dev: 4, test: 0 })
    const toExample = (e: Arithmetic.Example) =>
      Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
    return {
      moduleId: "qa",
      optimizer: "bootstrap_few_shot",
      trainset: splits.train.map(toExample),
      valset: splits.dev.map(toExample),
      seed: 1
    }
  }

  /**
   * One start of the application on the database at `url` (nothing on disk: the state can only be there). Swap
   * propagation is off: these tests check what each start reads and refuses on its own (see test/cluster).
   */
  const application = (url: Redacted.Redacted<string>) =>
    Layer.provideMerge(
      Layer.effectDiscard(
        Effect.orDie(
          Effect.flatMap(ModuleManager.ModuleManager, (m) =>
            m.create({ id: "qa", kind: "predict", signature: "question -> answer" })
          )
        )
      ),
      TestRuntime.layer({
        config: {
          optimization: { concurrency: 1, swapMargin: 0 },
          storage: { backend: "postgres", postgres: { url: Redacted.value(url), maxConnections: 4 } },
          cluster: { sync: { enabled: false } }
        }
      })
    )

  it.live(
    "create a module, optimize, swap, restart the application: the version, job and result survive",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const before = yield* Effect.gen(function* () {
            const c = yield* OptimizationCoordinator.OptimizationCoordinator
            const modules = yield* ModuleManager.ModuleManager
            const job = yield* c.await((yield* c.start(request())).id)
            return { job, info: yield* modules.describe("qa"), serving: Module.dumpState(yield* modules.program("qa")) }
          }).pipe(Effect.provide(application(url)))
          assert.strictEqual(before.job.status, "swapped")
          assert.strictEqual(before.info.version, 2)

          const after = yield* Effect.gen(function* () {
            const c = yield* OptimizationCoordinator.OptimizationCoordinator
            const modules = yield* ModuleManager.ModuleManager
            const store = yield* ReleaseStore.ReleaseStore
            return {
              jobs: yield* c.list,
              info: yield* modules.describe("qa"),
              serving: Module.dumpState(yield* modules.program("qa")),
              stored: yield* store.load("qa"),
              target: store.target
            }
          }).pipe(Effect.provide(application(url)))
          assert.strictEqual(after.target, "postgresql (releases)")
          assert.strictEqual(after.info.version, 2)
          assert.deepStrictEqual(after.serving, before.serving)
          assert.deepStrictEqual(
            after.jobs.map((j) => [j.id, j.status, j.swappedVersion]),
            [[before.job.id, "swapped", 2]]
          )
          // A stale swap from a process that still believes version 1 serves is refused by the store.
          const stale = yield* Effect.flip(
            Effect.provide(
              Effect.flatMap(ReleaseStore.makePostgres, (s) => s.promoteIf("qa", 1, 1, Date.now())),
              Storage.layerPostgresClient({ url })
            )
          )
          assert.strictEqual(stale._tag, "ReleaseStoreConflict")
        })
      ),
    60_000
  )

  it.live(
    "two applications on one database: a swap computed against a replaced version is refused",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const swap = (instructions: string) =>
            Effect.flatMap(ModuleManager.ModuleManager, (m) => m.swap("qa", { instructions: { self: instructions } }))
          // Both start while version 1 is promoted.
          const a = yield* Layer.build(application(url))
          const b = yield* Layer.build(application(url))
          const first = yield* Effect.provide(swap("Answer with a number."), a)
          assert.strictEqual(first.version, 2)
          const refused = yield* Effect.flip(Effect.provide(swap("Answer in words."), b))
          assert.strictEqual(refused._tag, "ModuleVersionConflict")
          // The store still promotes a's version, and b changed nothing (it still serves version 1).
          const stored = yield* Effect.provide(
            Effect.flatMap(ReleaseStore.ReleaseStore, (s) => s.load("qa")),
            a
          )
          const module = stored.pipe(Option.getOrThrow)
          assert.deepStrictEqual([module.module.promoted, module.versions.length], [2, 2])
          const info = yield* Effect.provide(
            Effect.flatMap(ModuleManager.ModuleManager, (m) => m.describe("qa")),
            b
          )
          assert.strictEqual(info.version, 1)
        })
      ),
    60_000
  )

  it.live(
    "Application.layerDefault keeps its events in the database too",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const config = {
            env: false,
            defaults: { storage: { backend: "postgres", postgres: { url: Redacted.value(url) } } }
          }
          yield* Effect.scoped(Layer.build(Application.layerDefault({ config })))
          // Another process reading the database sees the application's start and stop.
          const events = yield* Effect.provide(
            Effect.flatMap(Events.Events, (e) => e.query({ types: ["application_started", "application_stopped"] })),
            Events.layerSql().pipe(Layer.provide(Storage.layerPostgresClient({ url })))
          )
          assert.deepStrictEqual(
            events.map((e) => e.type),
            ["application_started", "application_stopped"]
          )
        })
      ),
    60_000
  )

  it.live(
    "the application keeps its experiences, metric history and routers' state in the database",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          yield* Effect.gen(function* () {
            const modules = yield* ModuleManager.ModuleManager
            const store = yield* RouterStore.RouterStore
            assert.strictEqual(store.target, "postgresql (routers)")
            const router = yield* Router.make({
              id: "app-router",
              handlers: ModuleHandlers.modules(modules, ["qa"]),
              segment: () => "all"
            })
            yield* router.route({ question: "What is 2 + 2?" })
            const experiences = yield* ExperienceStore.ExperienceStore
            assert.strictEqual((yield* experiences.stats).target, "postgresql (loop_experiences)")
            yield* experiences.flush
          }).pipe(Effect.provide(application(url)), Effect.scoped)
          const client = yield* Layer.build(Storage.layerPostgresClient({ url }))
          const sql = Context.get(client, SqlClient.SqlClient)
          const counts = yield* sql<{ table: string; n: string }>`
            SELECT 'experiences' AS table, COUNT(*) AS n FROM dspy_loop_experiences
            UNION ALL SELECT 'decisions', COUNT(*) FROM dspy_router_decisions WHERE execution_id IS NOT NULL
            UNION ALL SELECT 'rollups', COUNT(*) FROM dspy_metric_rollups`
          const n = Object.fromEntries(counts.map((r) => [r.table, Number(r.n)]))
          assert.deepStrictEqual([n.experiences, n.decisions], [1, 1])
          // The history flushes its open rollups when the application stops (the provider's figures at least).
          assert.isAbove(n.rollups!, 0)
        })
      ),
    60_000
  )

  it.live("storage.backend postgres without a URL fails the start, saying what to set", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          Layer.build(TestRuntime.layer({ config: { storage: { backend: "postgres" } } }))
        )
        assert.include(error.message, "storage.postgres.url")
      })
    )
  )
})
