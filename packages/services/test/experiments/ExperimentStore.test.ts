import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ArmStats, ExperimentRecord, Experiments, ExperimentStore, TrafficPolicy } from "../../src/index.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "dspy-experiments-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const record = (id: string, moduleId: string): ExperimentRecord.ExperimentRecord => ({
  schemaVersion: 1,
  id,
  moduleId,
  baseline: "1",
  arms: ["1", "2"],
  status: "running",
  settings: {
    alpha: 0.05,
    qualityTau2: 0.01,
    errorTau2: 0.0025,
    minRewards: 30,
    checkEvery: 100,
    autoApply: false
  },
  stats: { "1": ArmStats.empty(), "2": ArmStats.empty() },
  createdAt: 1,
  updatedAt: 2
})

/** Runs SQL on a file directly (to write an older layout, or to corrupt a row). */
const rawSql = (filename: string, statements: ReadonlyArray<readonly [string, ReadonlyArray<unknown>]>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sql = yield* SqliteClient.SqliteClient
      for (const [text, params] of statements) yield* sql.unsafe(text, params)
    }).pipe(Effect.provide(SqliteClient.layer({ filename })))
  )

const withStore = <A, E>(filename: string, f: (store: ExperimentStore.Service) => Effect.Effect<A, E>) =>
  Effect.flatMap(ExperimentStore.ExperimentStore, f).pipe(Effect.provide(ExperimentStore.layerSqlite(filename)))

describe("ExperimentStore (SQLite)", () => {
  it.scoped("stores, reads back and lists records by module", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "experiments.db")
      yield* withStore(file, (store) =>
        Effect.gen(function* () {
          yield* store.put(record("b", "qa"))
          yield* store.put(record("a", "summarize"))
          yield* store.put({ ...record("b", "qa"), status: "concluded" })
        })
      )
      yield* withStore(file, (store) =>
        Effect.gen(function* () {
          assert.strictEqual((yield* store.get("b"))?.status, "concluded")
          assert.isUndefined(yield* store.get("zzz"))
          assert.deepStrictEqual(
            (yield* store.list()).map((r) => r.id),
            ["a", "b"]
          )
          assert.deepStrictEqual(
            (yield* store.list("qa")).map((r) => r.id),
            ["b"]
          )
        })
      )
    })
  )

  it.scoped("opens a file of the previous layout (version 1) and upgrades it", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "v1.db")
      // The version-1 layout: the id and the JSON record only.
      yield* rawSql(file, [
        ["CREATE TABLE dspy_experiments (id TEXT PRIMARY KEY, record TEXT NOT NULL)", []],
        ["INSERT INTO dspy_experiments (id, record) VALUES (?, ?)", ["old", JSON.stringify(record("old", "qa"))]],
        ["PRAGMA user_version = 1", []]
      ])
      yield* withStore(file, (store) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(
            (yield* store.list("qa")).map((r) => r.id),
            ["old"]
          )
          assert.deepStrictEqual(yield* store.list("other"), [])
          yield* store.put(record("new", "qa"))
        })
      )
      const version = yield* Effect.scoped(
        Effect.gen(function* () {
          const sql = yield* SqliteClient.SqliteClient
          const rows = yield* sql.unsafe<{ user_version: number }>("PRAGMA user_version")
          const cols = yield* sql.unsafe<{ name: string }>("PRAGMA table_info(dspy_experiments)")
          return { version: rows[0]?.user_version, cols: cols.map((c) => c.name) }
        }).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
      )
      assert.strictEqual(version.version, 2)
      assert.includeMembers(version.cols, ["module_id", "status", "updated_at"])
    })
  )

  it.scoped("refuses a file of a newer layout, a corrupted record and a read-only file, with what was found", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const newer = path.join(dir, "newer.db")
      yield* rawSql(newer, [["PRAGMA user_version = 9", []]])
      const e1 = yield* Effect.flip(withStore(newer, (s) => s.list()))
      assert.strictEqual(e1._tag, "ExperimentStoreError")
      assert.include(e1.reason, "newer version")

      const corrupt = path.join(dir, "corrupt.db")
      yield* withStore(corrupt, (s) => s.put(record("x", "qa")))
      yield* rawSql(corrupt, [
        ["UPDATE dspy_experiments SET record = ? WHERE id = 'x'", [JSON.stringify({ ...record("x", "qa"), arms: 3 })]]
      ])
      const e2 = yield* Effect.flip(withStore(corrupt, (s) => s.get("x")))
      assert.include(e2.reason, "'x' is corrupted at arms")
      const e3 = yield* Effect.flip(Layer.build(Experiments.layerSqlite(corrupt)))
      assert.strictEqual(e3._tag, "ExperimentStoreError")

      const readOnly = path.join(dir, "readonly.db")
      const e4 = yield* withStore(readOnly, (store) =>
        Effect.gen(function* () {
          yield* store.put(record("r", "qa"))
          fs.chmodSync(readOnly, 0o444)
          return yield* Effect.flip(store.put({ ...record("r", "qa"), status: "concluded" }))
        })
      )
      assert.include(e4.reason, "read-only")
    })
  )
})

describe("ExperimentRecord.decode", () => {
  it.effect("reads the current version and refuses a newer one or a broken one, saying what was found", () =>
    Effect.gen(function* () {
      const json = JSON.parse(JSON.stringify(record("a", "qa")))
      assert.deepStrictEqual(yield* ExperimentRecord.decode(json), record("a", "qa"))
      const newer = yield* Effect.flip(ExperimentRecord.decode({ ...json, schemaVersion: 2 }))
      assert.include(newer.reason, "newer version (schema 2")
      const broken = yield* Effect.flip(ExperimentRecord.decode({ ...json, status: "paused" }))
      assert.include(broken.reason, "'a' is corrupted at status")
    })
  )
})

describe("Experiments over SQLite", () => {
  it.scoped("a restart resumes a running experiment from its last check, losing no record", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "experiments.db")
      const router = TrafficPolicy.make(
        {
          _tag: "Weighted",
          weights: [
            { version: "1", weight: 0.5 },
            { version: "2", weight: 0.5 }
          ]
        },
        { seed: 8 }
      )
      const observeMany = (n: number) =>
        Effect.gen(function* () {
          const experiments = yield* Experiments.Experiments
          for (let i = 0; i < n; i++) {
            const d = router.route()
            yield* experiments.observe("qa-1", d.arm, { latencyMs: 20, error: false, costUsd: 0.001, reward: i % 2 })
          }
        })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const experiments = yield* Experiments.Experiments
          yield* experiments.start({ moduleId: "qa", baseline: "1", arms: ["2"] })
          yield* experiments.start({ moduleId: "other", baseline: "a", arms: ["b"] })
          yield* experiments.conclude("other-1", "stopped by hand")
          yield* observeMany(250)
        }).pipe(Effect.provide(Experiments.layerSqlite(file)))
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const experiments = yield* Experiments.Experiments
          const qa = yield* experiments.get("qa-1")
          assert.strictEqual(qa.status, "running")
          // the last check was at 200 observations
          assert.strictEqual(qa.stats["1"]!.n + qa.stats["2"]!.n, 200)
          assert.strictEqual(qa.analysis?.comparisons[0]?.quality.checks, 2)
          assert.strictEqual((yield* experiments.get("other-1")).status, "concluded")
          yield* observeMany(100)
          const resumed = yield* experiments.get("qa-1")
          assert.strictEqual(resumed.analysis?.comparisons[0]?.quality.checks, 3)
        }).pipe(Effect.provide(Experiments.layerSqlite(file)))
      )
    })
  )
})
