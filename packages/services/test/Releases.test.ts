/**
 * Durable releases: the release store's contract (SQLite and in memory), its schema version, a database that
 * turned read-only, and the real Application restarted on one database file restoring each module's promoted
 * version, refusing a changed shape and a corrupted row with typed errors.
 */
import { Example, Module } from "@effect-dspy/core"
import { type Config, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Application,
  ModuleManager,
  OptimizationCoordinator,
  ReleaseBundle,
  ReleaseStore,
  ServicesEvents,
  TestRuntime
} from "../src/index.js"
import * as Sqlite from "../src/internal/sqlite.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "releases-"))

const lineage = (parent: number | null, reason: string): ReleaseStore.Lineage => ({
  parent,
  reason,
  jobId: null,
  optimizer: null,
  scores: null
})

const record = (moduleId: string, version: number, state: unknown = { version: 1, program: "p", predictors: {} }) => ({
  moduleId,
  version,
  state,
  lineage: lineage(version === 1 ? null : version - 1, version === 1 ? "created" : "swapped"),
  createdAt: 1000 + version
})

/** The store's contract, for any implementation. */
const contract = (store: ReleaseStore.Service) =>
  Effect.gen(function* () {
    assert.isTrue(Option.isNone(yield* store.load("qa")))
    yield* store.create(
      { moduleId: "qa", shape: "s1", spec: { id: "qa" }, promoted: 1, createdAt: 1, updatedAt: 1 },
      record("qa", 1)
    )
    for (let v = 2; v <= 5; v++) yield* store.append(record("qa", v), { promote: v !== 5 })
    const all = Option.getOrThrow(yield* store.load("qa"))
    assert.deepStrictEqual(
      all.versions.map((v) => v.version),
      [1, 2, 3, 4, 5]
    )
    assert.strictEqual(all.module.promoted, 4)
    assert.deepStrictEqual(all.module.spec, { id: "qa" })
    assert.deepStrictEqual(all.versions[1]!.lineage, lineage(1, "swapped"))
    const latest = Option.getOrThrow(yield* store.load("qa", 2))
    assert.deepStrictEqual(
      latest.versions.map((v) => v.version),
      [4, 5]
    )
    yield* store.promote("qa", 2, 50)
    assert.strictEqual(Option.getOrThrow(yield* store.load("qa")).module.promoted, 2)
    assert.deepStrictEqual(
      (yield* store.modules).map((m) => m.moduleId),
      ["qa"]
    )
    const result: ReleaseStore.StoredResult = {
      key: "k1",
      moduleId: "qa",
      state: { a: 1 },
      jobId: "opt-1",
      optimizer: "bootstrap_few_shot",
      scores: { serving: 40, optimized: 60 },
      createdAt: 7
    }
    yield* store.putResult(result)
    assert.deepStrictEqual(Option.getOrThrow(yield* store.getResult("k1")), result)
    assert.isTrue(Option.isNone(yield* store.getResult("k2")))
    yield* store.forget("qa")
    assert.isTrue(Option.isNone(yield* store.load("qa")))
  })

describe("ReleaseStore", () => {
  it.effect("the in-memory store keeps versions, the promoted one, results, and forgets", () =>
    contract(ReleaseStore.makeMemory())
  )

  it.scoped("the SQLite store keeps the same contract in a file, and reads it back when opened again", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "releases.db")
      yield* Effect.scoped(Effect.flatMap(ReleaseStore.makeSqlite({ filename }), contract))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* ReleaseStore.makeSqlite({ filename })
          yield* store.create(
            { moduleId: "m", shape: "s", spec: null, promoted: 1, createdAt: 1, updatedAt: 1 },
            record("m", 1)
          )
        })
      )
      const again = yield* ReleaseStore.makeSqlite({ filename })
      const stored = Option.getOrThrow(yield* again.load("m"))
      assert.strictEqual(stored.module.spec, null)
      assert.deepStrictEqual(stored.versions[0]!.state, record("m", 1).state)
    })
  )

  it.scoped("a database of schema version 1 written by hand is read; a newer schema is refused, typed", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const v1 = path.join(dir, "v1.db")
      // The first schema, as its statements wrote it.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const run = yield* Effect.orDie(Sqlite.openReserved(v1))
          for (const sql of [
            "CREATE TABLE dspy_release_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "INSERT INTO dspy_release_meta (key, value) VALUES ('schema_version', '1')",
            "CREATE TABLE dspy_release_modules (module_id TEXT PRIMARY KEY, shape TEXT NOT NULL, spec TEXT, promoted INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
            "CREATE TABLE dspy_release_versions (module_id TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, lineage TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (module_id, version))",
            "CREATE TABLE dspy_optimization_results (key TEXT PRIMARY KEY, module_id TEXT NOT NULL, state TEXT NOT NULL, job_id TEXT NOT NULL, optimizer TEXT NOT NULL, scores TEXT, created_at INTEGER NOT NULL)",
            `INSERT INTO dspy_release_modules VALUES ('qa', 'abc', '{"id":"qa"}', 1, 5, 5)`,
            `INSERT INTO dspy_release_versions VALUES ('qa', 1, '{"version":1}', '{"parent":null,"reason":"created","jobId":null,"optimizer":null,"scores":null}', 5)`
          ]) {
            yield* Effect.orDie(run(sql, []))
          }
        })
      )
      const stored = yield* Effect.scoped(
        Effect.flatMap(ReleaseStore.makeSqlite({ filename: v1 }), (s) => s.load("qa"))
      )
      assert.strictEqual(Option.getOrThrow(stored).versions[0]!.lineage.reason, "created")
      assert.strictEqual(ReleaseStore.schemaVersion, 1)

      const future = path.join(dir, "future.db")
      yield* Effect.scoped(
        Effect.gen(function* () {
          const run = yield* Effect.orDie(Sqlite.openReserved(future))
          yield* Effect.orDie(run("CREATE TABLE dspy_release_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", []))
          yield* Effect.orDie(run("INSERT INTO dspy_release_meta (key, value) VALUES ('schema_version', '99')", []))
        })
      )
      const refused = yield* Effect.flip(Effect.scoped(ReleaseStore.makeSqlite({ filename: future })))
      assert.strictEqual(refused._tag, "ReleaseStoreVersionUnsupported")
      if (refused._tag === "ReleaseStoreVersionUnsupported") {
        assert.strictEqual(refused.found, 99)
        assert.include(refused.message, "newer release")
      }
    })
  )

  it.scoped("a database made read-only refuses the write, typed, and nothing is half-applied", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "releases.db")
      const store = yield* ReleaseStore.makeSqlite({ filename })
      fs.chmodSync(filename, 0o444)
      const error = yield* Effect.flip(
        store.create(
          { moduleId: "qa", shape: "s", spec: null, promoted: 1, createdAt: 1, updatedAt: 1 },
          record("qa", 1)
        )
      )
      assert.strictEqual(error._tag, "ReleaseStoreError")
      assert.include(error.message, "read-only")
      assert.isFalse(error.retryable)
      fs.chmodSync(filename, 0o644)
      assert.isTrue(Option.isNone(yield* store.load("qa")))
    })
  )
})

/** One start of the real application on `filename`, running `body`. */
const onDatabase = <A, E>(
  filename: string,
  body: Effect.Effect<A, E, ModuleManager.ModuleManager | ReleaseStore.ReleaseStore | Config.Config>
) =>
  Effect.scoped(
    Effect.provide(
      body,
      Application.layerDefault({ releases: { filename }, config: { env: false } }) as Layer.Layer<
        ModuleManager.ModuleManager | ReleaseStore.ReleaseStore | Config.Config,
        unknown
      >
    )
  )

const spec: ModuleManager.ModuleSpec = { id: "qa", kind: "predict", signature: "question -> answer" }

describe("ReleaseStore under a lock", () => {
  it.scoped(
    "a database another connection holds refuses the write, typed and retryable, and nothing is half-applied",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        const filename = path.join(dir, "releases.db")
        const store = yield* ReleaseStore.makeSqlite({ filename })
        // Another process's connection takes the write lock and keeps it.
        const other = yield* Sqlite.openReserved(filename).pipe(Effect.orDie)
        yield* Effect.orDie(other("BEGIN EXCLUSIVE", []))
        const error = yield* Effect.flip(
          store.create(
            { moduleId: "qa", shape: "s", spec: null, promoted: 1, createdAt: 1, updatedAt: 1 },
            record("qa", 1)
          )
        )
        assert.strictEqual(error._tag, "ReleaseStoreError")
        assert.include(error.message, "locked")
        assert.include(error.message, "Another process holds the database")
        assert.isTrue(error.retryable)
        yield* Effect.orDie(other("ROLLBACK", []))
        assert.isTrue(Option.isNone(yield* store.load("qa")))
      })
  )
})

describe("Releases through the Application", () => {
  it.scoped("a restart on the same database restores the promoted version, its number and its lineage", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "app.db")
      yield* onDatabase(
        filename,
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          yield* modules.create(spec)
          yield* modules.swap("qa", {
            instructions: { self: "Answer with a number." },
            lineage: { jobId: "opt-7", optimizer: "copro", scores: { optimized: 80 } }
          })
          yield* modules.swap("qa", { instructions: { self: "Answer in words." } })
          yield* modules.rollback("qa", 2)
        })
      )
      const restored = yield* onDatabase(
        filename,
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          const info = yield* modules.create(spec)
          const execution = yield* modules.execute("qa", { question: "What is 2 + 3?" })
          const program = yield* modules.program("qa")
          const history = yield* modules.history("qa")
          // A change after the restart numbers on from the restored versions.
          const swapped = yield* modules.swap("qa", { instructions: { self: "Be brief." } })
          return { info, execution, program, history, swapped }
        })
      )
      assert.strictEqual(restored.info.version, 4)
      assert.strictEqual(restored.execution.version, 4)
      assert.strictEqual(restored.execution.reason, "promoted")
      assert.deepStrictEqual(Module.instructions(restored.program), { self: "Answer with a number." })
      assert.deepStrictEqual(
        restored.history.map((h) => [h.version, h.reason, h.parent, h.jobId]),
        [
          [1, "created", null, null],
          [2, "swapped", 1, "opt-7"],
          [3, "swapped", 2, null],
          [4, "rolled_back(2)", 3, null]
        ]
      )
      assert.strictEqual(restored.swapped.version, 5)
    })
  )

  it.scoped("a module registered again with another shape is refused, typed, and its releases are kept", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "app.db")
      yield* onDatabase(
        filename,
        Effect.flatMap(ModuleManager.ModuleManager, (m) =>
          Effect.zipRight(m.create(spec), m.swap("qa", { instructions: { self: "Answer with a number." } }))
        )
      )
      const refused = yield* onDatabase(
        filename,
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          const error = yield* Effect.flip(modules.create({ ...spec, signature: "question -> answer, confidence" }))
          const described = yield* Effect.exit(modules.describe("qa"))
          return { error, described }
        })
      )
      assert.strictEqual(refused.error._tag, "ReleaseShapeMismatch")
      assert.include(refused.error.message, "forget")
      assert.isTrue(Exit.isFailure(refused.described))
      const kept = yield* onDatabase(
        filename,
        Effect.map(
          Effect.flatMap(ModuleManager.ModuleManager, (m) => m.create(spec)),
          (info) => info.version
        )
      )
      assert.strictEqual(kept, 2)
    })
  )

  it.scoped("a corrupted stored program is a typed error naming the version; the module is not half-registered", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "app.db")
      yield* onDatabase(
        filename,
        Effect.flatMap(ModuleManager.ModuleManager, (m) =>
          Effect.zipRight(m.create(spec), m.swap("qa", { instructions: { self: "Answer with a number." } }))
        )
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const run = yield* Effect.orDie(Sqlite.openReserved(filename))
          yield* Effect.orDie(
            run("UPDATE dspy_release_versions SET state = '{not json' WHERE module_id = 'qa' AND version = 2", [])
          )
        })
      )
      const outcome = yield* onDatabase(
        filename,
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          const error = yield* Effect.flip(modules.create(spec))
          return { error, list: yield* modules.list }
        })
      )
      assert.strictEqual(outcome.error._tag, "ReleaseCorrupted")
      if (outcome.error._tag === "ReleaseCorrupted") assert.strictEqual(outcome.error.version, 2)
      assert.strictEqual(outcome.list.length, 0)
    })
  )
})

describe("Release bundles", () => {
  it.scoped("a version exported from one application is imported into another as a new version, with its report", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const text = yield* onDatabase(
        path.join(dir, "staging.db"),
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          yield* modules.create(spec)
          yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
          const bundle = yield* ReleaseBundle.exportBundle("qa", {
            evaluation: { metric: "exact_match", score: 82.5, examples: 200 }
          })
          return JSON.stringify(bundle)
        })
      )
      const imported = yield* onDatabase(
        path.join(dir, "production.db"),
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          yield* modules.create(spec)
          const info = yield* ReleaseBundle.importBundle(JSON.parse(text))
          return { info, program: yield* modules.program("qa"), history: yield* modules.history("qa") }
        })
      )
      assert.strictEqual(imported.info.version, 2)
      assert.deepStrictEqual(Module.instructions(imported.program), { self: "Answer with a number." })
      assert.strictEqual(imported.history[1]!.reason, "imported")
    })
  )

  it.effect(
    "a bundle of the first format is read; newer, foreign or misshapen bundles are refused, typed, and nothing changes",
    () =>
      Effect.gen(function* () {
        const modules = yield* ModuleManager.ModuleManager
        yield* modules.create(spec)
        const state = Module.dumpState(yield* modules.program("qa"))
        // A bundle as the first format wrote it.
        const v1 = {
          format: "effect-dspy/release-bundle",
          schemaVersion: 1,
          moduleId: "qa",
          version: 3,
          shape: (yield* Effect.flatMap(ReleaseStore.ReleaseStore, (s) => s.load("qa"))).pipe(Option.getOrThrow).module
            .shape,
          spec: { id: "qa", kind: "predict", signature: "question -> answer" },
          state: {
            ...state,
            predictors: {
              self: {
                ...state.predictors.self!,
                signature: { ...state.predictors.self!.signature, instructions: "From v1." }
              }
            }
          },
          lineage: { parent: 2, reason: "swapped", jobId: "opt-1", optimizer: "copro", scores: null },
          createdAt: 5,
          evaluation: null
        }
        const decoded = yield* ReleaseBundle.decode(v1)
        assert.strictEqual(decoded.version, 3)
        for (const [bundle, field] of [
          [{ ...v1, schemaVersion: 2 }, "schemaVersion"],
          [{ hello: "world" }, "format"],
          [{ ...v1, shape: "other" }, "shape"],
          [{ ...v1, state: { version: 1, program: "x", predictors: { nope: state.predictors.self } } }, "state"],
          [{ ...v1, createdAt: "yesterday" }, "createdAt"]
        ] as const) {
          const error = yield* Effect.flip(ReleaseBundle.importBundle(bundle))
          assert.strictEqual(error._tag, "ReleaseBundleInvalid")
          if (error._tag === "ReleaseBundleInvalid") assert.strictEqual(error.field, field)
        }
        assert.strictEqual((yield* modules.describe("qa")).version, 1)
        const info = yield* ReleaseBundle.importBundle(v1)
        assert.strictEqual(info.version, 2)
        assert.deepStrictEqual(Module.instructions(yield* modules.program("qa")), { self: "From v1." })
      }).pipe(Effect.provide(TestRuntime.layer()))
  )
})

describe("Optimization results", () => {
  it.scoped("an identical request after a restart reuses the stored result instead of compiling again", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "app.db")
      const trainset = [
        Example.make({ question: "What is 2 + 3?", answer: "5" }).withInputs("question"),
        Example.make({ question: "What is 4 + 4?", answer: "8" }).withInputs("question")
      ]
      const once = Effect.scoped(
        Effect.gen(function* () {
          const modules = yield* ModuleManager.ModuleManager
          const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
          yield* modules.create(spec)
          const { id } = yield* coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", trainset })
          const job = yield* coordinator.await(id)
          const reused = yield* Events.queryOf(ServicesEvents.OptimizationResultReused, {})
          const calls = (yield* (yield* TestRuntime.SimControl).stats("default")).calls
          return { job, reused: reused.length, calls }
        }).pipe(
          // A margin no result reaches: the job is rejected and version 1 stays the student.
          Effect.provide(
            TestRuntime.layer({
              config: { optimization: { swapMargin: 1000 } },
              application: { releases: { filename } }
            })
          )
        )
      )
      const first = yield* once
      const second = yield* once
      assert.strictEqual(first.job.status, "rejected")
      assert.strictEqual(first.reused, 0)
      assert.strictEqual(second.job.status, "rejected")
      assert.strictEqual(second.reused, 1)
      assert.strictEqual(second.job.optimizedScore, first.job.optimizedScore)
      // Only the scoring ran the second time: no compile.
      assert.isBelow(second.calls, first.calls)
    })
  )
})
