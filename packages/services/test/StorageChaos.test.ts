/**
 * Storage chaos: each SQLite database the application writes (the CacheManager's L2, the
 * OptimizationCoordinator's job store, the checkpoint store; the event store's are in foundation's
 * `EventsStorageLoss.test.ts`) deleted, replaced by another file, made read-only, or locked by another
 * connection (`BEGIN EXCLUSIVE`) while open. Each ends in a typed error naming what happened, or for the cache
 * a degradation with an event; never an acknowledged write that a restart could not read back, and never a
 * hang (a lock is waited for `DatabaseFile.busyTimeoutMs` at most).
 */
import { Arithmetic, SimTask } from "@effect-dspy/sim"
import { Example } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CacheManager, CheckpointSqlite, ModuleManager, OptimizationCoordinator, TestRuntime } from "../src/index.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "dspy-storage-chaos-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const removeWithSidecars = (filename: string) => {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(filename + suffix, { force: true })
}

/** One way to take a database away from the store that has it open, and the word its error must carry. */
interface Sabotage {
  readonly name: string
  readonly reason: string
  /** Applied while the store is open; undone (when it can be) when the scope closes. */
  readonly apply: (filename: string) => Effect.Effect<void, unknown, Scope.Scope>
}

const sabotages: ReadonlyArray<Sabotage> = [
  { name: "deleted", reason: "deleted", apply: (f) => Effect.sync(() => removeWithSidecars(f)) },
  {
    name: "replaced",
    reason: "replaced",
    apply: (f) =>
      Effect.sync(() => {
        removeWithSidecars(f)
        fs.writeFileSync(f, "")
      })
  },
  {
    name: "made read-only",
    reason: "read-only",
    apply: (f) =>
      Effect.acquireRelease(
        Effect.sync(() => fs.chmodSync(f, 0o444)),
        () => Effect.sync(() => fs.chmodSync(f, 0o644))
      )
  },
  {
    name: "locked by another connection",
    reason: "locked by another connection",
    // Another connection holds the write lock (an open exclusive transaction) until the scope closes.
    apply: (f) =>
      Effect.gen(function* () {
        const other = Context.get(yield* Layer.build(SqliteClient.layer({ filename: f })), SqliteClient.SqliteClient)
        const conn = yield* other.reserve
        yield* Effect.acquireRelease(conn.executeRaw("BEGIN EXCLUSIVE", []), () =>
          Effect.orDie(conn.executeRaw("ROLLBACK", []))
        )
      })
  }
]

const splits = SimTask.splits(Arithmetic.task, { seed: 0, train: 6, dev: 4, test: 0 })
const toExample = (e: Arithmetic.Example) =>
  Example.make({ question: e.question, answer: String(e.answer) }).withInputs("question")
const data = { trainset: splits.train.map(toExample), valset: splits.dev.map(toExample) }

describe("storage chaos", () => {
  for (const sabotage of sabotages) {
    describe(`a database ${sabotage.name} while open`, () => {
      it.scoped("checkpoint store: the next write fails with CheckpointError, nothing is acknowledged", () =>
        Effect.gen(function* () {
          const dir = yield* tempDir
          const filename = path.join(dir, "checkpoints.db")
          const store = yield* CheckpointSqlite.make({ filename })
          yield* store.set("ns", "a", { score: 1 })
          const error = yield* Effect.scoped(
            Effect.zipRight(sabotage.apply(filename), Effect.flip(store.set("ns", "b", { score: 2 })))
          )
          assert.strictEqual(error._tag, "CheckpointError")
          assert.strictEqual(error.operation, "set")
          assert.include(error.message, sabotage.reason)
          if (sabotage.name.startsWith("locked")) {
            // The lock is gone: the failed write left nothing behind, and the store writes again.
            assert.isTrue(Option.isNone(yield* store.get("ns", "b")))
            yield* store.set("ns", "c", { score: 3 })
            assert.deepStrictEqual(yield* store.get("ns", "c"), Option.some({ score: 3 }))
          }
        })
      )

      it.scoped("L2 cache: L2 degrades with a cache_level_degraded event, L1 keeps serving", () =>
        Effect.gen(function* () {
          const dir = yield* tempDir
          const filename = path.join(dir, "cache.db")
          const cache = yield* CacheManager.make({ path: filename, name: `chaos-${sabotage.name}` })
          yield* cache.set("m", "before", 1)
          yield* Effect.scoped(Effect.zipRight(sabotage.apply(filename), cache.set("m", "after", 2)))
          assert.strictEqual((yield* cache.stats).levels.l2.state, "degraded")
          const events = yield* Events.query({ types: ["cache_level_degraded"] })
          assert.strictEqual(events.length, 1)
          assert.strictEqual(events[0]!.data.level, "l2")
          assert.include(String(events[0]!.data.error), sabotage.reason)
          assert.deepStrictEqual(yield* cache.get("m", "after"), Option.some(2))
        }).pipe(Effect.provide(Events.layerMemory))
      )

      it.effect("job store: the next start fails with OptimizationStoreError, no job is acknowledged", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dspy-storage-chaos-jobs-"))
        const filename = path.join(dir, "jobs.db")
        return Effect.gen(function* () {
          yield* ModuleManager.create({ id: "qa", kind: "predict", signature: "question -> answer" })
          const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
          const start = coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", ...data })
          const error = yield* Effect.scoped(Effect.zipRight(sabotage.apply(filename), Effect.flip(start)))
          assert.strictEqual(error._tag, "OptimizationStoreError")
          assert.include(error.message, sabotage.reason)
          assert.deepStrictEqual(yield* coordinator.list, [], "a job the store did not record was listed")
          if (sabotage.name.startsWith("locked")) {
            // The lock is gone: the coordinator takes jobs again.
            const { id } = yield* start
            assert.strictEqual((yield* coordinator.status(id)).id, id)
          }
        }).pipe(
          Effect.provide(OptimizationCoordinator.layer({ filename }).pipe(Layer.provideMerge(TestRuntime.layer()))),
          Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        )
      })
    })
  }
})
