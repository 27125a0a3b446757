import { TestRuntime } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type RunRecord, RunStore, Workflow, WorkflowEngine, type WorkflowTools } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const text = `
version: 1
name: crashy
inputs:
  query: str
  docs: list[str]
steps:
  - id: one
    module: { signature: "query -> agent" }
    inputs: { query: "{inputs.query}" }
  - id: two
    module: { signature: "query -> agent" }
    inputs: { query: "again: {inputs.query}" }
  - id: gate
    tool: { name: gate, outputs: { ok: bool } }
  - id: each
    map:
      over: "{inputs.docs}"
      concurrency: 1
      step:
        id: per
        tool: { name: per, outputs: { value: str } }
        inputs: { value: "{item}" }
  - id: three
    module: { signature: "query -> agent" }
    inputs: { query: "last: {inputs.query}" }
outputs: { first: "{one.agent}", last: "{three.agent}", each: "{each.items}" }
`
const inputs = { query: "find podcasts about jazz", docs: ["a", "b", "c"] }

/** LM calls the simulated provider served in this runtime. */
const simCalls = Effect.map(
  Effect.flatMap(TestRuntime.SimControl, (s) => s.stats("default")),
  (s) => s.calls
)

const withTempDir = <A, E, R>(f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "wf-resume-"))),
    f,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("resume", () => {
  it.effect("a run killed mid-way resumes from SQLite without repeating a finished step (LM calls counted)", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const file = path.join(dir, "runs.db")
        const w = yield* Workflow.parse(text, "crashy.yaml")
        const keys: Array<string> = []
        const perCalls: Array<string> = []
        const per: WorkflowTools.Tool = (i, c) =>
          Effect.sync(() => {
            perCalls.push(c.idempotencyKey)
            return { value: String(i["value"]).toUpperCase() }
          })

        // The uninterrupted run: how many LM calls the whole workflow takes.
        const full = yield* Effect.gen(function* () {
          const engine = yield* WorkflowEngine.WorkflowEngine
          yield* engine.run(w, inputs, { runId: "full" })
          return yield* simCalls
        }).pipe(Effect.provide(Runtime.layer({ gate: () => Effect.succeed({ ok: true }), per })))
        assert.strictEqual(full, 3)
        perCalls.length = 0

        // First life: killed while the gate tool runs (after steps one and two were persisted).
        const reached = yield* Deferred.make<void>()
        const before = yield* Effect.gen(function* () {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const fiber = yield* Effect.fork(engine.run(w, inputs, { runId: "crash-1" }))
          yield* Deferred.await(reached)
          assert.isTrue(fs.existsSync(`${file}-wal`), "the store writes in WAL mode")
          yield* Fiber.interrupt(fiber)
          return yield* simCalls
        }).pipe(
          Effect.provide(
            Runtime.layer(
              {
                gate: (_i, c) =>
                  Effect.zipRight(
                    Effect.sync(() => keys.push(c.idempotencyKey)),
                    Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never)
                  ),
                per
              },
              RunStore.layerSqlite(file)
            )
          )
        )
        assert.strictEqual(before, 2)

        // Second life: a new application and a new store on the same file.
        const after = yield* Effect.gen(function* () {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const stored = yield* engine.record("crash-1")
          assert.strictEqual(stored.status, "running")
          assert.strictEqual(stored.state, "gate")
          const result = yield* engine.resume(w, "crash-1")
          assert.deepStrictEqual([...result.restored].sort(), ["one", "two"])
          assert.deepStrictEqual(
            result.steps.map((s) => s.step),
            ["one", "two", "gate", "per", "per", "per", "three"]
          )
          assert.deepStrictEqual(result.outputs["each"], [{ value: "A" }, { value: "B" }, { value: "C" }])
          return yield* simCalls
        }).pipe(
          Effect.provide(
            Runtime.layer(
              {
                gate: (_i, c) =>
                  Effect.sync(() => {
                    keys.push(c.idempotencyKey)
                    return { ok: true }
                  }),
                per
              },
              RunStore.layerSqlite(file)
            )
          )
        )
        // Only step three ran again: nothing finished was repeated.
        assert.strictEqual(after, 1)
        assert.strictEqual(before + after, full)
        // The tool saw the same idempotency key in both lives.
        assert.deepStrictEqual(keys, ["crash-1:gate", "crash-1:gate"])
        assert.deepStrictEqual(perCalls, ["crash-1:each[0]", "crash-1:each[1]", "crash-1:each[2]"])
      })
    )
  )

  it.effect("a map killed after some items resumes with the remaining items only", () =>
    Effect.gen(function* () {
      const store = RunStore.makeMemory()
      const w = yield* Workflow.parse(text, "crashy.yaml")
      const seen: Array<string> = []
      const reached = yield* Deferred.make<void>()
      yield* Effect.gen(function* () {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const fiber = yield* Effect.fork(engine.run(w, inputs, { runId: "map-1" }))
        yield* Deferred.await(reached)
        yield* Fiber.interrupt(fiber)
      }).pipe(
        Effect.provide(
          Runtime.layerWithStore(store, {
            gate: () => Effect.succeed({ ok: true }),
            per: (i) =>
              String(i["value"]) === "c"
                ? Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never)
                : Effect.sync(() => {
                    seen.push(String(i["value"]))
                    return { value: String(i["value"]).toUpperCase() }
                  })
          })
        )
      )
      assert.deepStrictEqual(seen, ["a", "b"])
      const result = yield* Effect.gen(function* () {
        const engine = yield* WorkflowEngine.WorkflowEngine
        return yield* engine.resume(w, "map-1")
      }).pipe(
        Effect.provide(
          Runtime.layerWithStore(store, {
            gate: () => Effect.succeed({ ok: true }),
            per: (i) =>
              Effect.sync(() => {
                seen.push(String(i["value"]))
                return { value: String(i["value"]).toUpperCase() }
              })
          })
        )
      )
      assert.deepStrictEqual(seen, ["a", "b", "c"])
      assert.deepStrictEqual(result.outputs["each"], [{ value: "A" }, { value: "B" }, { value: "C" }])
      assert.includeMembers([...result.restored], ["each[0]", "each[1]"])
    })
  )

  it.effect("resume refuses an unknown run, a finished run, and a changed workflow", () =>
    Effect.gen(function* () {
      const w = yield* Workflow.parse(text, "crashy.yaml")
      const engine = yield* WorkflowEngine.WorkflowEngine
      assert.strictEqual((yield* Effect.flip(engine.resume(w, "nope")))._tag, "RunNotFound")
      yield* engine.run(w, inputs, { runId: "done-1" })
      const finished = yield* Effect.flip(engine.resume(w, "done-1"))
      assert.strictEqual(finished._tag, "RunNotResumable")
      const changed = yield* Workflow.parse(text.replace("again:", "once more:"), "crashy.yaml")
      const store = yield* RunStore.RunStore
      const record = yield* engine.record("done-1")
      yield* store.save({ ...record, runId: "half-1", status: "running", state: "three" })
      const error = yield* Effect.flip(engine.resume(changed, "half-1"))
      assert.strictEqual(error._tag, "RunNotResumable")
      assert.include(error.message, "another version")
    }).pipe(
      Effect.provide(
        Runtime.layer({
          gate: () => Effect.succeed({ ok: true }),
          per: (i) => Effect.succeed({ value: String(i["value"]) })
        })
      )
    )
  )

  it.effect("the SQLite store refuses a file of a newer layout and round-trips records", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const file = path.join(dir, "runs.db")
        const record = {
          schemaVersion: 1 as const,
          runId: "r",
          workflow: "w",
          file: "w.yaml",
          fingerprint: "f",
          status: "running" as const,
          state: "a",
          inputs: {},
          outputs: {},
          partials: {},
          steps: [],
          createdAt: 1,
          updatedAt: 2
        }
        yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* RunStore.makeSqlite(file)
            yield* store.save(record)
            assert.deepStrictEqual(yield* store.get("r"), record)
            assert.deepStrictEqual(
              (yield* store.list("w")).map((s) => s.runId),
              ["r"]
            )
          })
        )
        // A file of a newer layout is refused with what to do.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
            yield* Context.get(ctx, SqliteClient.SqliteClient).unsafe("PRAGMA user_version = 99")
          })
        )
        const error = yield* Effect.flip(Effect.scoped(RunStore.makeSqlite(file)))
        assert.strictEqual(error._tag, "RunStoreError")
        assert.include(error.message, "newer version")
      })
    )
  )

  it.effect(
    "a layout-1 file (one row per run, no boundaries) opens, migrates to the current layout and resumes appending",
    () =>
      withTempDir((dir) =>
        Effect.gen(function* () {
          const file = path.join(dir, "runs-v1.db")
          const v1 = {
            schemaVersion: 1 as const,
            runId: "old",
            workflow: "w",
            file: "w.yaml",
            fingerprint: "f",
            status: "running" as const,
            state: "b",
            inputs: { q: "x" },
            outputs: { a: { y: 1 } },
            partials: {},
            steps: [
              {
                step: "a",
                path: "steps[0]",
                kind: "tool",
                mode: "traditional",
                attempts: 1,
                timeMs: 1,
                costUsd: 0,
                lmCalls: 0,
                success: true
              }
            ],
            createdAt: 1,
            updatedAt: 2
          }
          // The file exactly as layout 1 wrote it.
          yield* Effect.scoped(
            Effect.gen(function* () {
              const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
              const sql = Context.get(ctx, SqliteClient.SqliteClient)
              yield* sql.unsafe(
                "CREATE TABLE workflow_runs (run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL, record TEXT NOT NULL)"
              )
              yield* sql.unsafe("CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow, updated_at)")
              yield* sql.unsafe("INSERT INTO workflow_runs VALUES (?, ?, ?, ?, ?)", [
                "old",
                "w",
                "running",
                2,
                JSON.stringify(v1)
              ])
              yield* sql.unsafe("PRAGMA user_version = 1")
            })
          )
          yield* Effect.scoped(
            Effect.gen(function* () {
              const store = yield* RunStore.makeSqlite(file)
              assert.deepStrictEqual(yield* store.get("old"), v1)
              const step = { ...v1.steps[0]!, step: "b", path: "steps[1]" }
              yield* store.append("old", {
                at: 3,
                status: "running",
                state: "done",
                outputs: { b: { z: 2 } },
                steps: [step]
              })
              yield* store.append("old", { at: 4, status: "succeeded", result: { z: 2 } })
              const read = yield* store.get("old")
              assert.deepStrictEqual(read, {
                ...v1,
                status: "succeeded",
                state: "done",
                outputs: { a: { y: 1 }, b: { z: 2 } },
                steps: [...v1.steps, step],
                result: { z: 2 },
                updatedAt: 4
              })
              // The status column follows the boundaries (listings read it).
              assert.deepStrictEqual(yield* store.list("w"), [
                { runId: "old", workflow: "w", status: "succeeded", updatedAt: 4 }
              ])
            })
          )
          const version = yield* Effect.scoped(
            Effect.gen(function* () {
              const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
              return yield* Context.get(ctx, SqliteClient.SqliteClient).unsafe("PRAGMA user_version")
            })
          )
          assert.deepStrictEqual(version, [{ user_version: RunStore.LAYOUT_VERSION }])
          assert.strictEqual(RunStore.LAYOUT_VERSION, 3)
        })
      )
  )

  it.effect(
    "a layout-2 file (boundaries by a global seq, indexed by run) migrates to layout 3, in order, and resumes appending",
    () =>
      withTempDir((dir) =>
        Effect.gen(function* () {
          const file = path.join(dir, "runs-v2.db")
          const record = (runId: string) => ({
            schemaVersion: 1 as const,
            runId,
            workflow: "w",
            file: "w.yaml",
            fingerprint: "f",
            status: "running" as const,
            state: "a",
            inputs: { q: runId },
            outputs: {},
            partials: {},
            steps: [],
            createdAt: 1,
            updatedAt: 1
          })
          const step = (name: string) => ({
            step: name,
            path: `steps.${name}`,
            kind: "tool",
            mode: "traditional",
            attempts: 1,
            timeMs: 1,
            costUsd: 0,
            lmCalls: 0,
            success: true
          })
          // Two runs whose boundaries interleave, written exactly as layout 2 wrote them.
          const boundaries: ReadonlyArray<readonly [string, RunStore.Boundary]> = [
            ["x", { at: 2, status: "running", state: "b", outputs: { a: { v: "x1" } }, steps: [step("a")] }],
            ["y", { at: 3, status: "running", state: "b", outputs: { a: { v: "y1" } }, steps: [step("a")] }],
            ["x", { at: 4, status: "running", state: "c", outputs: { b: { v: "x2" } }, steps: [step("b")] }],
            ["y", { at: 5, status: "failed", state: "b", error: "boom" }]
          ]
          yield* Effect.scoped(
            Effect.gen(function* () {
              const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
              const sql = Context.get(ctx, SqliteClient.SqliteClient)
              yield* sql.unsafe(
                "CREATE TABLE workflow_runs (run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL, record TEXT NOT NULL)"
              )
              yield* sql.unsafe("CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow, updated_at)")
              yield* sql.unsafe(
                "CREATE TABLE workflow_run_boundaries (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, boundary TEXT NOT NULL)"
              )
              yield* sql.unsafe("CREATE INDEX workflow_run_boundaries_by_run ON workflow_run_boundaries (run_id, seq)")
              yield* sql.unsafe("CREATE TABLE workflow_routers (key TEXT PRIMARY KEY, state TEXT NOT NULL)")
              for (const runId of ["x", "y"]) {
                yield* sql.unsafe("INSERT INTO workflow_runs VALUES (?, ?, ?, ?, ?)", [
                  runId,
                  "w",
                  runId === "y" ? "failed" : "running",
                  1,
                  JSON.stringify(record(runId))
                ])
              }
              for (const [runId, b] of boundaries) {
                yield* sql.unsafe("INSERT INTO workflow_run_boundaries (run_id, boundary) VALUES (?, ?)", [
                  runId,
                  JSON.stringify(b)
                ])
              }
              yield* sql.unsafe("INSERT INTO workflow_routers VALUES (?, ?)", ["k", JSON.stringify({ n: 1 })])
              yield* sql.unsafe("PRAGMA user_version = 2")
            })
          )
          const folded = (runId: string) =>
            boundaries
              .filter(([id]) => id === runId)
              .reduce((r, [, b]) => RunStore.applyBoundary(r, b), record(runId) as RunRecord.RunRecord)
          yield* Effect.scoped(
            Effect.gen(function* () {
              const store = yield* RunStore.makeSqlite(file)
              const x = yield* store.get("x")
              assert.deepStrictEqual(x, folded("x"))
              assert.deepStrictEqual(
                x!.steps.map((s) => s.step),
                ["a", "b"]
              )
              assert.deepStrictEqual(yield* store.get("y"), folded("y"))
              assert.strictEqual((yield* store.get("y"))!.error, "boom")
              assert.deepStrictEqual(yield* store.getRouter("k"), { n: 1 })
              // Appending continues after the migrated boundaries (the run is looked up: this store did not save it).
              yield* store.append("x", {
                at: 6,
                status: "running",
                state: "done",
                outputs: { c: { v: "x3" } },
                steps: [step("c")]
              })
              yield* store.append("x", { at: 7, status: "succeeded", result: { v: "x3" } })
              const done = yield* store.get("x")
              assert.deepStrictEqual(
                done!.steps.map((s) => s.step),
                ["a", "b", "c"]
              )
              assert.deepStrictEqual(done!.outputs, { a: { v: "x1" }, b: { v: "x2" }, c: { v: "x3" } })
              assert.strictEqual(done!.status, "succeeded")
              // A new run takes a key of its own: its boundaries do not mix with the migrated ones.
              yield* store.save(record("z"))
              yield* store.append("z", {
                at: 8,
                status: "running",
                state: "b",
                outputs: { a: { v: "z1" } },
                steps: [step("a")]
              })
              assert.deepStrictEqual((yield* store.get("z"))!.outputs, { a: { v: "z1" } })
              assert.deepStrictEqual((yield* store.get("x"))!.steps.length, 3)
              assert.strictEqual(yield* store.remove(["x"]), 1)
              assert.strictEqual(yield* store.get("x"), undefined)
              assert.deepStrictEqual(yield* store.get("y"), folded("y"))
            })
          )
          const [version, tables] = yield* Effect.scoped(
            Effect.gen(function* () {
              const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
              const sql = Context.get(ctx, SqliteClient.SqliteClient)
              return [
                yield* sql.unsafe("PRAGMA user_version"),
                (
                  (yield* sql.unsafe(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                  )) as ReadonlyArray<{
                    name: string
                  }>
                ).map((t) => t.name)
              ] as const
            })
          )
          assert.deepStrictEqual(version, [{ user_version: 3 }])
          assert.deepStrictEqual(tables, ["workflow_boundaries", "workflow_routers", "workflow_runs"])
        })
      )
  )

  it.effect("appending to a run the store does not have is a typed error", () =>
    withTempDir((dir) =>
      Effect.scoped(
        Effect.gen(function* () {
          const store = yield* RunStore.makeSqlite(path.join(dir, "runs.db"))
          const error = yield* Effect.flip(store.append("nope", { at: 1, status: "running", state: "a" }))
          assert.strictEqual(error._tag, "RunStoreError")
          assert.include(error.message, "there is no run")
        })
      )
    )
  )

  it.effect("two stores on one SQLite file give their new runs distinct keys (one the other took is skipped)", () =>
    withTempDir((dir) =>
      Effect.scoped(
        Effect.gen(function* () {
          const file = path.join(dir, "runs.db")
          const a = yield* RunStore.makeSqlite(file)
          const b = yield* RunStore.makeSqlite(file)
          const run = (runId: string): RunRecord.RunRecord => ({
            schemaVersion: 1,
            runId,
            workflow: "w",
            file: "w.yaml",
            fingerprint: "f",
            status: "running",
            state: "s0",
            inputs: {},
            outputs: {},
            partials: {},
            steps: [],
            createdAt: 1,
            updatedAt: 1
          })
          // `a` expects the key after its first run's next; `b` takes that key first.
          yield* a.save(run("a1"))
          yield* b.save(run("b1"))
          yield* a.save(run("a2"))
          yield* b.save(run("b2"))
          for (const [store, runId] of [
            [a, "a1"],
            [b, "b1"],
            [a, "a2"],
            [b, "b2"]
          ] as const) {
            yield* store.append(runId, { at: 2, status: "running", state: "s1", outputs: { s0: { v: runId } } })
          }
          for (const runId of ["a1", "b1", "a2", "b2"]) {
            const got = yield* a.get(runId)
            // Each run reads its own boundary only: no two runs share a key (their boundaries' range).
            assert.deepStrictEqual([got?.state, got?.outputs], ["s1", { s0: { v: runId } }])
          }
          assert.strictEqual((yield* b.list("w")).length, 4)
        })
      )
    )
  )

  it.effect("a step boundary appends one row with its step (the last ends the run); the run's row is kept", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const file = path.join(dir, "runs.db")
        const w = yield* Workflow.parse(
          `
version: 1
name: three
inputs: { q: str }
steps:
  - id: a
    tool: { name: up, outputs: { v: str } }
    inputs: { v: "{inputs.q}" }
  - id: b
    tool: { name: up, outputs: { v: str } }
    inputs: { v: "{a.v}" }
  - id: c
    tool: { name: up, outputs: { v: str } }
    inputs: { v: "{b.v}" }
outputs: { v: "{c.v}" }
`,
          "three.yaml"
        )
        const result = yield* Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) =>
          e.run(w, { q: "x" }, { runId: "r3" })
        ).pipe(
          Effect.provide(
            Runtime.layer({ up: (i) => Effect.succeed({ v: `${String(i.v)}!` }) }, RunStore.layerSqlite(file))
          )
        )
        assert.deepStrictEqual(result.outputs, { v: "x!!!" })
        const [runs, boundaries] = yield* Effect.scoped(
          Effect.gen(function* () {
            const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
            const sql = Context.get(ctx, SqliteClient.SqliteClient)
            return [
              (yield* sql.unsafe("SELECT status, record FROM workflow_runs")) as ReadonlyArray<{
                status: string
                record: string
              }>,
              (yield* sql.unsafe("SELECT boundary FROM workflow_boundaries ORDER BY key")) as ReadonlyArray<{
                boundary: string
              }>
            ] as const
          })
        )
        assert.strictEqual(runs.length, 1)
        assert.strictEqual(runs[0]!.status, "succeeded")
        // The run's row is the record as it started: no step was written into it.
        assert.deepStrictEqual(JSON.parse(runs[0]!.record).steps, [])
        const parsed = boundaries.map((b) => JSON.parse(b.boundary))
        assert.deepStrictEqual(
          parsed.map((b) => [
            b.state,
            Object.keys(b.outputs ?? {}),
            (b.steps ?? []).map((r: { step: string }) => r.step)
          ]),
          [
            ["b", ["a"], ["a"]],
            ["c", ["b"], ["b"]],
            ["done", ["c"], ["c"]]
          ]
        )
        // The last step's boundary is the run's end: its status and result come with it.
        assert.deepStrictEqual([parsed[2].status, parsed[2].result], ["succeeded", { v: "x!!!" }])
        assert.deepStrictEqual(
          parsed.slice(0, 2).map((b) => [b.status, b.result]),
          [
            ["running", undefined],
            ["running", undefined]
          ]
        )
      })
    )
  )

  it.effect("a hybrid step's bandit keeps what it learnt across a restart (its state is in the run store)", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const file = path.join(dir, "runs.db")
        const w = yield* Workflow.parse(
          `
version: 1
name: learnt
inputs: { query: str }
steps:
  - id: route
    module: { signature: "query -> agent" }
    prompt: { template: "Which agent should handle: {query}", outputs: { agent: str } }
    inputs: { query: "{inputs.query}" }
    mode: hybrid
    traffic: { bandit: thompson }
outputs: { agent: "{route.agent}" }
`,
          "learnt.yaml"
        )
        const runs = (n: number, from: number) =>
          Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) =>
            Effect.forEach(
              Array.from({ length: n }, (_, i) => i + from),
              (i) =>
                e.run(
                  w,
                  { query: inputs.query },
                  { runId: `b${i}`, reward: (_step, out) => (typeof out["agent"] === "string" ? 1 : 0) }
                )
            )
          ).pipe(Effect.provide(Runtime.layer({}, RunStore.layerSqlite(file))))
        const pulls = Effect.scoped(
          Effect.gen(function* () {
            const ctx = yield* Layer.build(SqliteClient.layer({ filename: file }))
            const rows = (yield* Context.get(ctx, SqliteClient.SqliteClient).unsafe(
              "SELECT state FROM workflow_routers"
            )) as ReadonlyArray<{ state: string }>
            return rows.map((r) => {
              const state = JSON.parse(r.state) as { arms: Record<string, { n: number }>; generation: number }
              return {
                n: Object.values(state.arms).reduce((sum, a) => sum + a.n, 0),
                generation: state.generation
              }
            })
          })
        )
        yield* runs(5, 0)
        assert.deepStrictEqual(yield* pulls, [{ n: 5, generation: 0 }])
        // A new application on the same file: the router resumes with its 5 observations, not from nothing.
        yield* runs(3, 5)
        assert.deepStrictEqual(yield* pulls, [{ n: 8, generation: 1 }])
      })
    )
  )
})
