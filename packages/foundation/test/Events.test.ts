import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as Config from "../src/Config.js"
import * as Correlation from "../src/Correlation.js"
import * as Events from "../src/Events.js"

/** The reference model: filter, order, offset, limit over every stored event. */
const model = (all: ReadonlyArray<Events.Event>, q: Events.Query): Array<Events.Event> => {
  const matching = all.filter(
    (e) =>
      (q.types === undefined || q.types.includes(e.type)) &&
      (q.correlationId === undefined || e.correlationId === q.correlationId) &&
      (q.from === undefined || e.timestamp >= q.from) &&
      (q.to === undefined || e.timestamp <= q.to)
  )
  const ordered = q.order === "desc" ? [...matching].reverse() : matching
  const offset = q.offset ?? 0
  return ordered.slice(offset, q.limit === undefined ? undefined : offset + q.limit)
}

const ids = (events: ReadonlyArray<Events.Event>) => events.map((e) => e.id)

describe("Events (memory)", () => {
  it.effect("publish stamps id and Clock time, and fills correlation and parent ids from the fiber", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      yield* TestClock.setTime(1_000)
      const a = yield* events.publish({ type: "module_execution_start", data: { module: "cot" } })
      assert.strictEqual(a.timestamp, 1_000)
      assert.strictEqual(a.correlationId, undefined)
      assert.deepStrictEqual(a.data, { module: "cot" })

      const b = yield* events
        .publish({ type: "lm_request" })
        .pipe(Correlation.withParentId("step_1"), Correlation.withCorrelationId("req_abc"))
      assert.strictEqual(b.correlationId, "req_abc")
      assert.strictEqual(b.parentId, "step_1")
      assert.notStrictEqual(a.id, b.id)

      const c = yield* events
        .publish({ type: "lm_request", correlationId: "req_given", parentId: "p" })
        .pipe(Correlation.withCorrelationId("req_abc"))
      assert.strictEqual(c.correlationId, "req_given")
      assert.strictEqual(c.parentId, "p")
      assert.strictEqual(yield* events.count, 3)
    })
  )

  it.effect("queries by correlation id, types, time range, with order, offset and limit", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const published: Array<Events.Event> = []
      for (let i = 0; i < 30; i++) {
        yield* TestClock.setTime(i * 10)
        const type = ["start", "complete", "lm_request"][i % 3] as string
        published.push(yield* events.publish({ type, data: { i } }).pipe(Correlation.withCorrelationId(`req_${i % 4}`)))
      }
      const byCorrelation = yield* events.query({ correlationId: "req_1" })
      assert.deepStrictEqual(ids(byCorrelation), ids(published.filter((e) => e.correlationId === "req_1")))
      const byTypes = yield* events.query({ types: ["start", "lm_request"], order: "desc", limit: 4, offset: 1 })
      assert.deepStrictEqual(
        ids(byTypes),
        ids(model(published, { types: ["start", "lm_request"], order: "desc", limit: 4, offset: 1 }))
      )
      const ranged = yield* events.query({ from: 50, to: 120, correlationId: "req_2", types: ["complete"] })
      assert.deepStrictEqual(
        ids(ranged),
        ids(model(published, { from: 50, to: 120, correlationId: "req_2", types: ["complete"] }))
      )
      assert.isAbove(ranged.length, 0)
      assert.deepStrictEqual(yield* events.query({ correlationId: "nobody" }), [])
      assert.deepStrictEqual(yield* events.query({ types: [] }), [])
      assert.strictEqual((yield* events.query({ limit: 0 })).length, 0)
    })
  )

  it.effect("property: every query agrees with the reference model (with count retention)", () =>
    Effect.gen(function* () {
      const queryArb = fc.record(
        {
          types: fc.subarray(["a", "b", "c", "d"]),
          correlationId: fc.constantFrom("r0", "r1", "r2", "none"),
          from: fc.integer({ min: 0, max: 400 }),
          to: fc.integer({ min: 0, max: 400 }),
          limit: fc.integer({ min: 0, max: 20 }),
          offset: fc.integer({ min: 0, max: 20 }),
          order: fc.constantFrom("asc" as const, "desc" as const)
        },
        { requiredKeys: [] }
      )
      const scenario = fc.record({
        maxEvents: fc.integer({ min: 1, max: 60 }),
        steps: fc.array(
          fc.record({
            type: fc.constantFrom("a", "b", "c"),
            corr: fc.constantFrom("r0", "r1", "r2", ""),
            dt: fc.nat(5)
          }),
          { maxLength: 80 }
        ),
        queries: fc.array(queryArb, { minLength: 1, maxLength: 6 })
      })
      for (const { maxEvents, steps, queries } of fc.sample(scenario, 40)) {
        const events = yield* Events.makeMemory({ maxEvents })
        yield* TestClock.setTime(0)
        const all: Array<Events.Event> = []
        for (const step of steps) {
          yield* TestClock.adjust(step.dt)
          const input = step.corr === "" ? { type: step.type } : { type: step.type, correlationId: step.corr }
          all.push(yield* events.publish(input))
        }
        const kept = all.slice(Math.max(0, all.length - maxEvents))
        assert.strictEqual(yield* events.count, kept.length)
        for (const q of queries) {
          assert.deepStrictEqual(ids(yield* events.query(q)), ids(model(kept, q)), JSON.stringify(q))
        }
      }
    })
  )

  it.effect("retention by count keeps the newest events and the indexes consistent across compactions", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory({ maxEvents: 1_500 })
      const all: Array<Events.Event> = []
      for (let i = 0; i < 6_000; i++) {
        all.push(yield* events.publish({ type: `t${i % 3}`, correlationId: `req_${i % 7}` }))
      }
      const kept = all.slice(-1_500)
      assert.strictEqual(yield* events.count, 1_500)
      for (let r = 0; r < 7; r++) {
        assert.deepStrictEqual(
          ids(yield* events.query({ correlationId: `req_${r}` })),
          ids(model(kept, { correlationId: `req_${r}` }))
        )
      }
      assert.deepStrictEqual(
        ids(yield* events.query({ types: ["t1"], limit: 5, order: "desc" })),
        ids(model(kept, { types: ["t1"], limit: 5, order: "desc" }))
      )
      assert.deepStrictEqual(ids(yield* events.query({})), ids(kept))
    })
  )

  it.effect("retention by age: old events leave on append, on query and through prune", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory({ maxAgeMs: 1_000 })
      yield* TestClock.setTime(0)
      yield* events.publish({ type: "old", correlationId: "r" })
      yield* events.publish({ type: "old", correlationId: "r" })
      yield* TestClock.adjust(600)
      yield* events.publish({ type: "mid", correlationId: "r" })
      yield* TestClock.adjust(600)
      // t = 1200: the two at t = 0 are expired; a publish removes them.
      yield* events.publish({ type: "new" })
      assert.strictEqual(yield* events.count, 2)
      assert.deepStrictEqual(
        (yield* events.query({ correlationId: "r" })).map((e) => e.type),
        ["mid"]
      )
      yield* TestClock.adjust(500)
      // t = 1700: "mid" (t = 600) is expired; prune removes it.
      assert.strictEqual(yield* events.prune, 1)
      assert.strictEqual(yield* events.prune, 0)
      assert.deepStrictEqual(
        (yield* events.query({})).map((e) => e.type),
        ["new"]
      )
      yield* TestClock.adjust(2_000)
      assert.deepStrictEqual(yield* events.query({}), [])
    })
  )

  it.effect("timestamps never go backwards when the clock steps back", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      yield* TestClock.setTime(5_000)
      yield* events.publish({ type: "a" })
      yield* TestClock.setTime(4_000)
      const b = yield* events.publish({ type: "b" })
      assert.strictEqual(b.timestamp, 5_000)
      assert.deepStrictEqual(
        (yield* events.query({ from: 5_000 })).map((e) => e.type),
        ["a", "b"]
      )
    })
  )

  it.effect("subscribe delivers the events published after subscription, filtered by type", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      yield* events.publish({ type: "before" })
      const all = yield* Effect.fork(Stream.runCollect(Stream.take(events.subscribe(), 3)))
      const onlyLm = yield* Effect.fork(Stream.runCollect(Stream.take(events.subscribe(["lm_request"]), 2)))
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      yield* events.publish({ type: "lm_request", data: { n: 1 } })
      yield* events.publish({ type: "module_execution_start" })
      yield* events.publish({ type: "lm_request", data: { n: 2 } })
      const got = Chunk.toReadonlyArray(yield* Fiber.join(all))
      assert.deepStrictEqual(
        got.map((e) => e.type),
        ["lm_request", "module_execution_start", "lm_request"]
      )
      const lm = Chunk.toReadonlyArray(yield* Fiber.join(onlyLm))
      assert.deepStrictEqual(
        lm.map((e) => e.data.n),
        [1, 2]
      )
    })
  )

  it.effect("bad input fails with a typed, non-retryable error", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const badQuery = yield* Effect.flip(events.query({ limit: -1 }))
      assert.strictEqual(badQuery._tag, "EventStoreError")
      assert.include(badQuery.message, "limit")
      assert.isFalse(badQuery.retryable)
      const badType = yield* Effect.flip(events.publish({ type: "" }))
      assert.include(badType.message, "type")
      const badRetention = yield* Effect.flip(Events.makeMemory({ maxEvents: 0 }))
      assert.include(badRetention.message, "maxEvents")
    })
  )

  it.effect("layerConfig takes retention from Config and follows its updates", () =>
    Effect.gen(function* () {
      const events = yield* Events.Events
      const config = yield* Config.Config
      for (let i = 0; i < 5; i++) yield* events.publish({ type: "x" })
      assert.strictEqual(yield* events.count, 3)
      yield* Effect.yieldNow()
      yield* config.update("events.maxEvents", 1)
      yield* Effect.yieldNow()
      yield* events.publish({ type: "y" })
      assert.strictEqual(yield* events.count, 1)
      assert.deepStrictEqual(
        (yield* events.query({})).map((e) => e.type),
        ["y"]
      )
    }).pipe(Effect.provide(Events.layerConfig.pipe(Layer.provideMerge(Config.layerTest({ events: { maxEvents: 3 } })))))
  )

  it.effect("accessors and layerTest", () =>
    Effect.gen(function* () {
      yield* Events.publish({ type: "a", correlationId: "r" })
      assert.strictEqual((yield* Events.query({ correlationId: "r" })).length, 1)
    }).pipe(Effect.provide(Events.layerTest))
  )
})
