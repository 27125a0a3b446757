/**
 * The experience store's end-user and tenant columns: a layout 1 file (written before them) opens, migrates
 * forward and keeps its rows; new rows keep their subject and tenant across a reopen; `remove` takes experiences out
 * of memory and the file.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ExperienceStore } from "../../src/index.js"

const experience = (i: number, extra: Partial<ExperienceStore.Experience> = {}): ExperienceStore.Experience => ({
  executionId: `ex_${i}`,
  correlationId: `req_${i}`,
  moduleId: "qa",
  version: 1,
  inputs: { question: `q${i}` },
  output: { answer: `a${i}` },
  ok: true,
  latencyMs: 10,
  lmCalls: 1,
  costUsd: 0.001,
  at: i,
  reward: undefined,
  outcome: undefined,
  feedbackAt: undefined,
  ...extra
})

const withDir = <A, E, R>(body: (dir: string) => Effect.Effect<A, E, R>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "experience-subjects-"))
  return Effect.ensuring(
    body(dir),
    Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
}

/** The layout 1 table, as the previous release wrote it. */
const layout1 = `CREATE TABLE dspy_loop_experiences (id TEXT PRIMARY KEY, correlation_id TEXT,
  module_id TEXT NOT NULL, version INTEGER NOT NULL, inputs TEXT, output TEXT, ok INTEGER NOT NULL,
  latency_ms REAL NOT NULL, lm_calls INTEGER NOT NULL, cost_usd REAL NOT NULL, at INTEGER NOT NULL, reward REAL, outcome TEXT,
  feedback_at INTEGER)`

describe("ExperienceStore subjects", () => {
  it.effect("opens a layout 1 file, migrates it to layout 2 and keeps its rows; subjects survive a reopen", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const filename = path.join(dir, "loop.db")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqliteClient.SqliteClient
            yield* sql.unsafe(layout1)
            yield* sql.unsafe(
              `INSERT INTO dspy_loop_experiences (id, correlation_id, module_id, version, inputs, output, ok, latency_ms, lm_calls, cost_usd, at)
               VALUES ('old_1', 'req_old', 'qa', 1, '{"question":"old"}', '{"answer":"x"}', 1, 3, 1, 0.001, 5)`
            )
            yield* sql.unsafe("PRAGMA user_version = 1")
          }).pipe(Effect.provide(Layer.orDie(SqliteClient.layer({ filename }))))
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* ExperienceStore.makeSqlite(filename)
            const old = store.get("old_1")
            assert.deepStrictEqual(old?.inputs, { question: "old" })
            assert.strictEqual(old?.subject, undefined)
            store.record(experience(10, { subject: "user-1", tenant: "acme" }))
            yield* store.flush
          })
        )
        const version = yield* Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqliteClient.SqliteClient
            return (yield* sql<{ user_version: number }>`PRAGMA user_version`)[0]!.user_version
          }).pipe(Effect.provide(Layer.orDie(SqliteClient.layer({ filename }))))
        )
        assert.strictEqual(version, ExperienceStore.layoutVersion)
        assert.strictEqual(ExperienceStore.layoutVersion, 2)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* ExperienceStore.makeSqlite(filename)
            const mine = yield* store.query({ subject: "user-1" })
            assert.deepStrictEqual(
              mine.map((e) => [e.executionId, e.subject, e.tenant]),
              [["ex_10", "user-1", "acme"]]
            )
            assert.strictEqual((yield* store.query({ tenant: "acme" })).length, 1)
            assert.strictEqual((yield* store.query()).length, 2)
          })
        )
      })
    )
  )

  it.effect("remove takes experiences out of memory and, once committed, out of the file", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const filename = path.join(dir, "loop.db")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* ExperienceStore.makeSqlite(filename, { maxCount: 10, recentShare: 0.5 })
            for (let i = 0; i < 8; i++) store.record(experience(i, { subject: i % 2 === 0 ? "a" : "b" }))
            yield* store.flush
            // Written before and in the reservoir (ex_0), written and in the recent window (ex_6), still pending (ex_8).
            store.record(experience(8, { subject: "a" }))
            const removed = yield* store.remove(["ex_0", "ex_6", "ex_8", "missing"])
            assert.strictEqual(removed, 3)
            assert.deepStrictEqual(
              (yield* store.query({ subject: "a" })).map((e) => e.executionId),
              ["ex_4", "ex_2"]
            )
            assert.strictEqual(store.get("ex_6"), undefined)
            assert.strictEqual(store.byCorrelation("req_0").length, 0)
          })
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* ExperienceStore.makeSqlite(filename)
            assert.deepStrictEqual((yield* store.query()).map((e) => e.executionId).sort(), [
              "ex_1",
              "ex_2",
              "ex_3",
              "ex_4",
              "ex_5",
              "ex_7"
            ])
          })
        )
      })
    )
  )
})
