import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Correlation from "../src/Correlation.js"
import * as Events from "../src/Events.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-events-"))
let n = 0
const freshFile = () => path.join(dir, `events-${n++}.db`)

describe("Events (SQLite)", () => {
  it.effect("publishes and queries by correlation id, types, time range, order, offset, limit", () =>
    Effect.gen(function* () {
      const events = yield* Events.Events
      for (let i = 0; i < 12; i++) {
        yield* TestClock.setTime(1_000 + i * 100)
        yield* events
          .publish({
            type: i % 2 === 0 ? "lm_request" : "module_execution_complete",
            data: { i, nested: { ok: true } }
          })
          .pipe(Correlation.withCorrelationId(`req_${i % 3}`), Correlation.withParentId("root"))
      }
      const byCorrelation = yield* events.query({ correlationId: "req_1" })
      assert.deepStrictEqual(
        byCorrelation.map((e) => e.data.i),
        [1, 4, 7, 10]
      )
      assert.strictEqual(byCorrelation[0]?.parentId, "root")
      assert.deepStrictEqual(byCorrelation[0]?.data, { i: 1, nested: { ok: true } })
      const typed = yield* events.query({ types: ["lm_request"], order: "desc", offset: 1, limit: 2 })
      assert.deepStrictEqual(
        typed.map((e) => e.data.i),
        [8, 6]
      )
      const ranged = yield* events.query({ from: 1_200, to: 1_500 })
      assert.deepStrictEqual(
        ranged.map((e) => e.data.i),
        [2, 3, 4, 5]
      )
      assert.strictEqual(yield* events.count, 12)
    }).pipe(Effect.provide(Events.layerSqlite({ filename: freshFile() })))
  )

  it.effect("survives a restart: write, close the layer, reopen the same file, query", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      yield* TestClock.setTime(10_000)
      const written = yield* Effect.scoped(
        Effect.gen(function* () {
          const events = yield* Events.Events
          const a = yield* events.publish({
            type: "optimization_iteration",
            correlationId: "opt_1",
            data: { score: 0.85 }
          })
          const b = yield* events.publish({
            type: "optimization_iteration",
            correlationId: "opt_1",
            data: { score: 0.9 }
          })
          return [a, b]
        }).pipe(Effect.provide(Events.layerSqlite({ filename })))
      )
      const reread = yield* Effect.scoped(
        Effect.gen(function* () {
          const events = yield* Events.Events
          const c = yield* events.publish({
            type: "optimization_iteration",
            correlationId: "opt_1",
            data: { score: 0.95 }
          })
          return { all: yield* events.query({ correlationId: "opt_1" }), c }
        }).pipe(Effect.provide(Events.layerSqlite({ filename })))
      )
      assert.deepStrictEqual(
        reread.all.map((e) => e.id),
        [...written.map((e) => e.id), reread.c.id]
      )
      assert.deepStrictEqual(reread.all[0], written[0])
      assert.deepStrictEqual(
        reread.all.map((e) => e.data.score),
        [0.85, 0.9, 0.95]
      )
    })
  )

  it.effect("retention by count and by age", () =>
    Effect.gen(function* () {
      const events = yield* Events.Events
      yield* TestClock.setTime(0)
      for (let i = 0; i < 5; i++) yield* events.publish({ type: "x", data: { i } })
      assert.strictEqual(yield* events.count, 3)
      assert.deepStrictEqual(
        (yield* events.query({})).map((e) => e.data.i),
        [2, 3, 4]
      )
      yield* TestClock.adjust(1_500)
      yield* events.publish({ type: "y" })
      // every event at t = 0 is now older than maxAgeMs
      assert.strictEqual(yield* events.count, 1)
      yield* TestClock.adjust(1_500)
      assert.deepStrictEqual(yield* events.query({}), [])
      assert.strictEqual(yield* events.prune, 1)
      assert.strictEqual(yield* events.count, 0)
    }).pipe(Effect.provide(Events.layerSqlite({ filename: freshFile(), maxEvents: 3, maxAgeMs: 1_000 })))
  )

  it.effect("subscribe works the same as in memory", () =>
    Effect.gen(function* () {
      const events = yield* Events.Events
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(events.subscribe(["b"]), 1)))
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      yield* events.publish({ type: "a" })
      yield* events.publish({ type: "b", data: { v: 1 } })
      const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.deepStrictEqual(got[0]?.data, { v: 1 })
    }).pipe(Effect.provide(Events.layerSqlite({ filename: freshFile() })))
  )

  it.effect("data that is not JSON and a bad path fail with clear errors", () =>
    Effect.gen(function* () {
      const circular: Record<string, unknown> = {}
      circular.self = circular
      const error = yield* Effect.flip(
        Effect.flatMap(Events.Events, (events) => events.publish({ type: "x", data: circular })).pipe(
          Effect.provide(Events.layerSqlite({ filename: freshFile() }))
        )
      )
      assert.strictEqual(error._tag, "EventStoreError")
      assert.include(error.message, "JSON")
      assert.isFalse(error.retryable)

      const missingDir = path.join(dir, "no", "such", "dir", "e.db")
      const open = yield* Effect.flip(
        Effect.flatMap(Events.Events, (events) => events.count).pipe(
          Effect.provide(Events.layerSqlite({ filename: missingDir }))
        )
      )
      assert.strictEqual(open.operation, "open")
      assert.include(open.message, missingDir)
    })
  )
})
