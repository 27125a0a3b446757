/**
 * The experience store: bounded by count (recent window + seeded reservoir) and age, quality filters, seeded
 * replay sampling (uniform and prioritised by reward error), export to examples, batched SQLite persistence, and
 * a file of a newer layout refused.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ExperienceStore } from "../../src/index.js"

const experience = (i: number, extra: Partial<ExperienceStore.Experience> = {}): ExperienceStore.Experience => ({
  executionId: `ex_${i}`,
  correlationId: `req_${i}`,
  moduleId: i % 2 === 0 ? "a" : "b",
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

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "experiences-"))

describe("ExperienceStore", () => {
  it.scoped("keeps the recent half whole and a seeded reservoir of older ones, within the count bound", () =>
    Effect.gen(function* () {
      const run = (seed: number) =>
        Effect.gen(function* () {
          const store = yield* ExperienceStore.makeMemory({ maxCount: 100, seed })
          for (let i = 0; i < 1000; i++) store.record(experience(i))
          const all = yield* store.query()
          return all.map((e) => e.at)
        })
      const kept = yield* run(1)
      assert.strictEqual(kept.length, 100)
      // The 50 most recent are all there.
      for (let i = 950; i < 1000; i++) assert.include(kept, i)
      // The reservoir samples the older 950 across their range, not only the last ones.
      const old = kept.filter((at) => at < 950)
      assert.strictEqual(old.length, 50)
      assert.isBelow(Math.min(...old), 300)
      assert.deepStrictEqual(yield* run(1), kept)
      assert.notDeepEqual(yield* run(2), kept)
    })
  )

  it.scoped("drops experiences past the age bound at the next batch", () =>
    Effect.gen(function* () {
      const store = yield* ExperienceStore.makeMemory({ maxAgeMs: 1000 })
      store.record(experience(0, { at: 0 }))
      yield* TestClock.adjust("2 seconds")
      store.record(experience(1, { at: 2000 }))
      yield* store.flush
      assert.deepStrictEqual(
        (yield* store.query()).map((e) => e.executionId),
        ["ex_1"]
      )
      assert.strictEqual((yield* store.stats).evicted, 1)
      assert.isUndefined(store.get("ex_0"))
    })
  )

  it.scoped("quality filters, seeded sampling (uniform, prioritised by reward error) and export as examples", () =>
    Effect.gen(function* () {
      const store = yield* ExperienceStore.makeMemory()
      for (let i = 0; i < 200; i++) {
        const e = experience(i)
        store.record(e)
        // Most rewards near 0.9; every tenth far off (0).
        const reward = i % 10 === 0 ? 0 : 0.9
        yield* store.attach(
          [e],
          i % 3 === 0 ? { metric: reward, corrected: { answer: `c${i}` }, confidence: 0.5 } : { metric: reward },
          reward,
          i
        )
      }
      assert.strictEqual((yield* store.query({ moduleId: "a" })).length, 100)
      assert.strictEqual((yield* store.query({ labelled: true })).length, 67)
      assert.strictEqual((yield* store.query({ minReward: 0.5 })).length, 180)
      assert.strictEqual((yield* store.query({ minConfidence: 0.8 })).length, 133)
      assert.deepStrictEqual(
        (yield* store.query({ since: 195 })).map((e) => e.at),
        [199, 198, 197, 196, 195]
      )
      const uniform = yield* store.sample({ n: 20, seed: 4 })
      assert.strictEqual(new Set(uniform.map((e) => e.executionId)).size, 20)
      assert.deepStrictEqual(yield* store.sample({ n: 20, seed: 4 }), uniform)
      const prioritised = yield* store.sample({ n: 20, seed: 4, mode: "prioritised" })
      const far = (xs: ReadonlyArray<ExperienceStore.Experience>) => xs.filter((e) => e.reward === 0).length
      // 10% of the pool is far from the mean; prioritised replay draws them far more often.
      assert.isAbove(far(prioritised), far(uniform) + 5)
      const examples = ExperienceStore.toExamples(yield* store.query({ since: 190 }))
      // Corrected answers are labels; other rewarded outputs of reward < 1 are left out.
      assert.deepStrictEqual(
        examples.map((x) => x.toRecord()),
        [198, 195, 192].map((i) => ({ answer: `c${i}`, question: `q${i}` }))
      )
      assert.deepStrictEqual(examples[0]!.inputs().toRecord(), { question: "q198" })
    })
  )

  it.effect(
    "commits concurrent feedback in shared batches (multi-row upserts), each acknowledged after its commit",
    () => {
      const dir = tempDir()
      const filename = path.join(dir, "loop.db")
      const n = 600
      const rating = (i: number) => (i % 5) / 4
      return Effect.gen(function* () {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* ExperienceStore.makeSqlite(filename, { batchSize: 4096 })
            for (let i = 0; i < n; i++) store.record(experience(i))
            yield* store.flush
            const before = yield* store.stats
            assert.strictEqual(before.written, n)
            // Every call waits for its batch's commit: when all have returned, all rows are written.
            yield* Effect.forEach(
              Array.from({ length: n }, (_, i) => i),
              (i) => store.attach([store.get(`ex_${i}`)!], { rating: rating(i) }, rating(i), 1_000 + i),
              { concurrency: "unbounded", discard: true }
            )
            const after = yield* store.stats
            assert.strictEqual(after.pending, 0)
            assert.strictEqual(after.written - before.written, n)
            // Shared batches, not one commit per feedback.
            assert.isAtMost(after.batches - before.batches, 3)
          })
        )
        const back = yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* ExperienceStore.makeSqlite(filename)
            return Array.from({ length: n }, (_, i) => store.get(`ex_${i}`))
          })
        )
        back.forEach((e, i) => {
          assert.strictEqual(e?.reward, rating(i))
          assert.deepStrictEqual(e?.outcome, { rating: rating(i) })
          assert.strictEqual(e?.feedbackAt, 1_000 + i)
          assert.deepStrictEqual(e?.inputs, { question: `q${i}` })
        })
        const mode = yield* Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqliteClient.SqliteClient
            return yield* sql.unsafe<{ journal_mode: string }>("PRAGMA journal_mode")
          }).pipe(Effect.provide(Layer.orDie(SqliteClient.layer({ filename, disableWAL: true }))))
        )
        assert.strictEqual(mode[0]?.journal_mode, "wal")
      }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
    }
  )

  it.effect("persists records and feedback in batches and reads them back; refuses a newer layout", () => {
    const dir = tempDir()
    const filename = path.join(dir, "loop.db")
    return Effect.gen(function* () {
      yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* ExperienceStore.makeSqlite(filename, { batchSize: 64 })
          for (let i = 0; i < 300; i++) store.record(experience(i))
          yield* store.attach([store.get("ex_7")!], { rating: 0.25 }, 0.25, 500)
          const stats = yield* store.stats
          assert.strictEqual(stats.pending, 0)
          assert.isAtLeast(stats.written, 300)
        })
      )
      const back = yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* ExperienceStore.makeSqlite(filename)
          return { count: (yield* store.stats).count, seven: store.get("ex_7") }
        })
      )
      assert.strictEqual(back.count, 300)
      assert.strictEqual(back.seven?.reward, 0.25)
      assert.deepStrictEqual(back.seven?.outcome, { rating: 0.25 })
      assert.deepStrictEqual(back.seven?.inputs, { question: "q7" })
      // A file written by a newer layout is refused with a message saying so.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const sql = yield* SqliteClient.SqliteClient
          yield* sql.unsafe(`PRAGMA user_version = ${ExperienceStore.layoutVersion + 1}`)
        }).pipe(Effect.provide(Layer.orDie(SqliteClient.layer({ filename }))))
      )
      const error = yield* Effect.flip(Effect.scoped(ExperienceStore.makeSqlite(filename)))
      assert.strictEqual(error._tag, "ExperienceStoreError")
      assert.match(error.message, /newer version/)
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
  })
})
