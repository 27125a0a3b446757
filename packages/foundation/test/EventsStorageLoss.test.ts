import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as Events from "../src/Events.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-events-loss-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let n = 0
const freshFile = () => path.join(dir, `events-${n++}.db`)

const removeWithSidecars = (filename: string) => {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(filename + suffix, { force: true })
}

/** Publishes one event after `sabotage` ran on the open store's file; returns the failure and what subscribers saw. */
const publishAfter = (filename: string, sabotage: () => void) =>
  Effect.scoped(
    Effect.gen(function* () {
      const events = yield* Events.Events
      yield* events.publish({ type: "before", data: { i: 0 } })
      const seen = yield* Effect.fork(Stream.runCollect(Stream.take(events.subscribe(["after"]), 1)))
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      sabotage()
      const error = yield* Effect.flip(events.publish({ type: "after", data: { i: 1 } }))
      const delivered = yield* Fiber.poll(seen)
      yield* Fiber.interrupt(seen)
      return { error, delivered }
    }).pipe(Effect.provide(Events.layerSqlite({ filename })))
  )

describe("Events (SQLite) when its file disappears", () => {
  it.effect("a deleted database file fails the next publish with a typed error, nothing is acknowledged", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const { error, delivered } = yield* publishAfter(filename, () => removeWithSidecars(filename))
      assert.strictEqual(error._tag, "EventStoreError")
      assert.strictEqual(error.operation, "publish")
      assert.strictEqual(error.reason, "io")
      assert.include(error.message, "deleted")
      assert.isTrue(Option.isNone(delivered), "a subscriber saw an event that was not stored")
      // After a restart nothing claims to have been written: the new file is empty.
      const count = yield* Effect.flatMap(Events.Events, (events) => events.count).pipe(
        Effect.provide(Events.layerSqlite({ filename }))
      )
      assert.strictEqual(count, 0)
    })
  )

  it.effect("a database file replaced by another file fails the next publish", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const { error, delivered } = yield* publishAfter(filename, () => {
        removeWithSidecars(filename)
        fs.writeFileSync(filename, "")
      })
      assert.strictEqual(error._tag, "EventStoreError")
      assert.include(error.message, "replaced")
      assert.isTrue(Option.isNone(delivered))
    })
  )

  it.effect("a database file made read-only fails the next publish", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const { error } = yield* publishAfter(filename, () => fs.chmodSync(filename, 0o444))
      fs.chmodSync(filename, 0o644)
      assert.strictEqual(error._tag, "EventStoreError")
      assert.include(error.message, "read-only")
    })
  )

  it.effect("publishOrLog logs the lost event instead of acknowledging it", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      const Note = Events.define("note", Schema.Struct({ text: Schema.String }))
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => {
        logs.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const recorded = yield* Effect.scoped(
        Effect.gen(function* () {
          const events = yield* Events.Events
          yield* events.publish({ type: "before" })
          removeWithSidecars(filename)
          return yield* Events.publishOrLog(Note, { text: "lost" })
        }).pipe(Effect.provide(Events.layerSqlite({ filename })))
      ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.isTrue(Option.isNone(recorded))
      assert.isTrue(logs.some((line) => line.includes("note") && line.includes("deleted")))
    })
  )
})

describe("Events (SQLite) when another connection locks its file", () => {
  it.effect("a publish fails typed within the busy timeout, the next ones at once, and recording resumes after", () =>
    Effect.gen(function* () {
      const filename = freshFile()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const events = yield* Events.Events
          yield* events.publish({ type: "before" })
          const other = Context.get(yield* Layer.build(SqliteClient.layer({ filename })), SqliteClient.SqliteClient)
          const conn = yield* other.reserve
          yield* conn.executeRaw("BEGIN EXCLUSIVE", [])
          const locked = yield* Effect.flip(events.publish({ type: "locked" }))
          assert.strictEqual(locked._tag, "EventStoreError")
          assert.strictEqual(locked.operation, "publish")
          assert.include(locked.message, "locked by another connection")
          // Within the back-off the store does not wait on the lock again: it fails at once, still typed.
          const again = yield* Effect.flip(events.publish({ type: "locked" }))
          assert.include(again.message, "locked by another connection")
          yield* conn.executeRaw("ROLLBACK", [])
          // Still in the back-off, even though the lock is gone: nothing acknowledged that was not written.
          yield* Effect.flip(events.publish({ type: "locked" }))
          yield* TestClock.adjust("1 second")
          yield* events.publish({ type: "after" })
          const types = (yield* events.query({})).map((e) => e.type)
          assert.deepStrictEqual(types, ["before", "after"])
        }).pipe(Effect.provide(Events.layerSqlite({ filename })))
      )
    })
  )
})
