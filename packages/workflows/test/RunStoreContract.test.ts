/**
 * The run store's contract on every backend: memory, SQLite and PostgreSQL (one throwaway server for the file, a
 * fresh database per test; skipped with a message when the PostgreSQL binaries are missing). Runs saved, step
 * boundaries appended and folded back, listings, routers' state, all read back by a second store on the same data
 * (a restarted process); and `layerConfig` following `storage.backend`.
 */
import { Config } from "@effect-dspy/foundation"
import { Storage, TestPostgres } from "@effect-dspy/services"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type RunRecord, RunStore } from "../src/index.js"

/** Opens a store on fresh data; `reopen` opens another store on the same data. */
type Open = Effect.Effect<
  { readonly store: RunStore.Service; readonly reopen: Effect.Effect<RunStore.Service, unknown, Scope.Scope> },
  unknown,
  Scope.Scope
>

const binaries = TestPostgres.findPostgres()
let server: TestPostgres.PostgresServer | undefined
let serverScope: Scope.CloseableScope | undefined
let databases = 0
beforeAll(async () => {
  if (binaries === undefined) return
  serverScope = Effect.runSync(Scope.make())
  server = await Effect.runPromise(Scope.extend(TestPostgres.start(binaries), serverScope))
}, 60_000)
afterAll(async () => {
  if (serverScope !== undefined) await Effect.runPromise(Scope.close(serverScope, Exit.void))
}, 30_000)

const database = Effect.suspend(() =>
  server === undefined
    ? Effect.fail(new Error("the PostgreSQL server did not start"))
    : server.createDatabase(`runs${process.pid}_${databases++}`)
)

/** A store on the database at `url`, on a pool of its own for the scope (as another process would have). */
const onDatabase = (url: Redacted.Redacted<string>) =>
  Effect.flatMap(Layer.build(Storage.layerPostgresClient({ url, maxConnections: 2 })), (client) =>
    Effect.provide(RunStore.makePostgres, client)
  )

const memory: Open = Effect.sync(() => {
  const store = RunStore.makeMemory()
  return { store, reopen: Effect.succeed(store) }
})

const sqlite: Open = Effect.gen(function* () {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "runs-"))),
    (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
  )
  const file = path.join(dir, "runs.db")
  return { store: yield* RunStore.makeSqlite(file), reopen: RunStore.makeSqlite(file) }
})

const postgres: Open = Effect.gen(function* () {
  const url = yield* database
  return { store: yield* onDatabase(url), reopen: onDatabase(url) }
})

const record = (runId: string, workflow: string, at: number): RunRecord.RunRecord => ({
  schemaVersion: 1,
  runId,
  workflow,
  file: `${workflow}.yaml`,
  fingerprint: "f1",
  status: "running",
  state: "first",
  inputs: { question: "é ✓" },
  outputs: {},
  partials: {},
  steps: [],
  createdAt: at,
  updatedAt: at
})

const step = (id: string): RunRecord.StepRecord => ({
  step: id,
  path: id,
  kind: "module",
  mode: "traditional",
  attempts: 1,
  timeMs: 12,
  costUsd: 0.001,
  lmCalls: 1,
  success: true
})

const backends: ReadonlyArray<readonly [string, Open, boolean]> = [
  ["memory", memory, false],
  ["SQLite", sqlite, false],
  ["PostgreSQL", postgres, binaries === undefined]
]

describe("RunStore contract", () => {
  for (const [name, open, skip] of backends) {
    it.live.skipIf(skip)(`${name}: runs, step boundaries folded back, listings and routers, after reopening`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { store, reopen } = yield* open
          yield* store.save(record("r1", "qa", 10))
          yield* store.save(record("r2", "qa", 20))
          yield* store.save(record("r3", "summarize", 15))
          yield* store.append("r1", { at: 30, status: "running", state: "second", outputs: { first: { a: 1 } } })
          yield* store.append("r1", { at: 31, status: "running", partials: { "par.x": { x: 1 } }, steps: [step("a")] })
          yield* store.append("r1", {
            at: 40,
            status: "succeeded",
            state: "done",
            clearPartials: true,
            steps: [step("b")],
            result: { answer: "42" }
          })
          // Saving a run again replaces it and its boundaries.
          yield* store.append("r2", { at: 25, status: "running", state: "lost" })
          yield* store.save({ ...record("r2", "qa", 26), state: "kept" })
          yield* store.saveRouters([
            { key: "qa:step", state: { arms: [1, 2] } },
            { key: "other", state: null }
          ])
          yield* store.saveRouters([{ key: "qa:step", state: { arms: [3] } }])
          const again = yield* reopen
          assert.deepStrictEqual(yield* again.get("r1"), {
            ...record("r1", "qa", 10),
            status: "succeeded",
            state: "done",
            outputs: { first: { a: 1 } },
            partials: {},
            steps: [step("a"), step("b")],
            result: { answer: "42" },
            updatedAt: 40
          })
          assert.deepStrictEqual(yield* again.get("r2"), { ...record("r2", "qa", 26), state: "kept" })
          assert.isUndefined(yield* again.get("nope"))
          assert.deepStrictEqual(
            (yield* again.list()).map((s) => [s.runId, s.status, s.updatedAt]),
            [
              ["r1", "succeeded", 40],
              ["r2", "running", 26],
              ["r3", "running", 15]
            ]
          )
          assert.deepStrictEqual(
            (yield* again.list("qa")).map((s) => s.runId),
            ["r1", "r2"]
          )
          assert.deepStrictEqual(yield* again.getRouter("qa:step"), { arms: [3] })
          assert.isNull(yield* again.getRouter("other"))
          assert.isUndefined(yield* again.getRouter("missing"))
        })
      )
    )

    it.live.skipIf(skip)(`${name}: remove deletes runs with their step boundaries, and counts what it removed`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { store, reopen } = yield* open
          yield* store.save({ ...record("e1", "qa", 10), subject: "alice", tenant: "acme" })
          yield* store.save(record("e2", "qa", 20))
          yield* store.append("e1", { at: 30, status: "running", state: "second", steps: [step("a")] })
          yield* store.append("e1", { at: 31, status: "succeeded", state: "done" })
          assert.strictEqual(yield* store.remove(["e1", "missing"]), 1)
          assert.strictEqual(yield* store.remove([]), 0)
          const again = yield* reopen
          assert.isUndefined(yield* again.get("e1"))
          assert.deepStrictEqual(yield* again.get("e2"), record("e2", "qa", 20))
          assert.deepStrictEqual(
            (yield* again.list()).map((s) => s.runId),
            ["e2"]
          )
          // A run saved again under a removed id starts without the old boundaries.
          yield* again.save(record("e1", "qa", 50))
          assert.deepStrictEqual(yield* again.get("e1"), record("e1", "qa", 50))
        })
      )
    )
  }

  it.live.skipIf(binaries === undefined)(
    "PostgreSQL: the schema version is kept, a newer one refused; layerConfig follows storage.backend",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* database
          const config = Config.layer({
            env: false,
            defaults: { storage: { backend: "postgres", postgres: { url: Redacted.value(url) } } }
          })
          const store = yield* Layer.build(RunStore.layerConfig({ filename: "/nonexistent/ignored.db" })).pipe(
            Effect.provide(config),
            Effect.map((c) => Context.get(c, RunStore.RunStore))
          )
          yield* store.save(record("r1", "qa", 1))
          assert.strictEqual((yield* (yield* onDatabase(url)).get("r1"))?.runId, "r1")
          // Version 1 is recorded: a program at version 1 finds it and migrates nothing.
          const found = yield* Effect.provide(
            Storage.migratePostgres("workflow_runs", [[]]),
            Storage.layerPostgresClient({ url })
          )
          assert.deepStrictEqual(found, { found: 1, newer: false })
          // A newer release's version is refused.
          yield* Effect.provide(
            Storage.migratePostgres("workflow_runs", [[], ["SELECT 1"], ["SELECT 2"]]),
            Storage.layerPostgresClient({ url })
          )
          const refused = yield* Effect.flip(onDatabase(url))
          assert.strictEqual(refused._tag, "RunStoreError")
          assert.include(refused.message, "newer version")
        })
      ),
    30_000
  )
})
