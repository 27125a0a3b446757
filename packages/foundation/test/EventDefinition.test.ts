import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as Correlation from "../src/Correlation.js"
import * as Events from "../src/Events.js"
import * as FoundationEvents from "../src/FoundationEvents.js"

const JobFinished = Events.define(
  "job_finished",
  Schema.Struct({
    job_id: Schema.String,
    ok: Schema.Boolean,
    // Stored as epoch milliseconds, a Date in code: the store keeps the encoded form.
    finished_at: Schema.DateFromNumber
  })
)
const JobQueued = Events.define("job_queued", Schema.Struct({ job_id: Schema.String }))

/** A store whose publish always fails, as a full disk would. */
const failingStore = (base: Events.Service): Events.Service => ({
  ...base,
  publish: (input) =>
    Effect.fail(new Events.EventStoreError({ message: `disk full (${input.type})`, operation: "publish" }))
})

/** Runs an effect, collecting the messages it logs. */
const withLogs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => {
      logs.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    const result = yield* Effect.provide(self, Logger.replace(Logger.defaultLogger, logger))
    return { result, logs }
  })

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-eventdef-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("Events.define", () => {
  it("rejects a type that is not a snake_case name", () => {
    assert.throws(() => Events.define("Job Finished", Schema.Struct({})), /snake_case/)
    assert.throws(() => Events.define("", Schema.Struct({})), /snake_case/)
    assert.strictEqual(JobFinished.type, "job_finished")
    assert.isTrue(Events.isDefinition(JobFinished))
    assert.isFalse(Events.isDefinition({ type: "job_finished" }))
  })

  it.effect("emit stores the encoded data under the type; queryOf decodes it back, typed", () =>
    Effect.gen(function* () {
      const events = yield* Events.Events
      const at = new Date(1_700_000_000_000)
      const stored = yield* Events.emit(JobFinished, { job_id: "j1", ok: true, finished_at: at }).pipe(
        Correlation.withCorrelationId("req_1")
      )
      yield* Events.emit(JobQueued, { job_id: "j2" })
      assert.strictEqual(stored.type, "job_finished")
      assert.strictEqual(stored.correlationId, "req_1")
      assert.deepStrictEqual(stored.data, { job_id: "j1", ok: true, finished_at: 1_700_000_000_000 })
      const raw = yield* events.query({ types: ["job_finished"] })
      assert.deepStrictEqual(raw[0]?.data, stored.data)

      const typed = yield* Events.queryOf(JobFinished)
      assert.strictEqual(typed.length, 1)
      const finishedAt: Date = typed[0]!.data.finished_at
      assert.strictEqual(finishedAt.getTime(), at.getTime())
      assert.strictEqual(typed[0]!.id, stored.id)
      assert.deepStrictEqual(
        (yield* Events.queryOf(JobQueued)).map((e) => e.data.job_id),
        ["j2"]
      )
    }).pipe(Effect.provide(Events.layerMemory))
  )

  it.effect("data that does not match the definition fails typed, naming the event, and stores nothing", () =>
    Effect.gen(function* () {
      const events = yield* Events.Events
      const bad = { job_id: 42, ok: "yes", finished_at: new Date(0) } as unknown as Schema.Schema.Type<
        typeof JobFinished.schema
      >
      const error = yield* Effect.flip(Events.emit(JobFinished, bad))
      assert.instanceOf(error, Events.EventStoreError)
      assert.strictEqual(error.reason, "invalid_input")
      assert.isFalse(error.retryable)
      assert.include(error.message, "job_finished")
      assert.include(error.message, "job_id")
      // A field the definition does not declare is refused too, not silently dropped.
      const extra = yield* Effect.flip(
        Events.emit(JobQueued, { job_id: "j", secret: "x" } as unknown as { job_id: string })
      )
      assert.include(extra.message, "secret")
      // The same for a schema that is not a plain struct (a default makes it a transformation).
      const WithDefault = Events.define(
        "with_default",
        Schema.Struct({ n: Schema.optionalWith(Schema.Number, { default: () => 1 }) })
      )
      const extraToo = yield* Effect.flip(Events.emit(WithDefault, { n: 2, secret: "x" } as unknown as { n: number }))
      assert.include(extraToo.message, "secret")
      assert.strictEqual(yield* events.count, 0)
      assert.deepStrictEqual((yield* Events.emit(WithDefault, { n: 2 })).data, { n: 2 })
    }).pipe(Effect.provide(Events.layerMemory))
  )

  it("plain fields are encoded exactly as Schema encodes them; anything else is left to Schema", () => {
    const Call = Events.define(
      "test_call",
      Schema.Struct({
        provider: Schema.String,
        tokens: Schema.Number,
        hit: Schema.Boolean,
        status: Schema.Literal("ok", "error"),
        error: Schema.optional(Schema.String),
        media: Schema.optional(Schema.Array(Schema.Struct({ size: Schema.Number })))
      })
    )
    const encoded = (data: unknown) => Either.map(Events.input(Call, data as never), (input) => input.data)
    const bySchema = (data: unknown) => Schema.encodeUnknownSync(Call.schema)(data)
    // Given in another order: the encoded record has the declared order, as Schema's has.
    const data = { status: "ok", hit: true, tokens: 3, provider: "p" }
    const fast = encoded(data)
    assert.isTrue(Either.isRight(fast))
    assert.strictEqual(JSON.stringify(Either.getOrThrow(fast)), JSON.stringify(bySchema(data)))
    // Fields the fast path leaves to Schema (an array, an explicit undefined) encode as Schema does.
    for (const other of [
      { ...data, media: [{ size: 1 }] },
      { ...data, error: undefined },
      { ...data, error: "boom" }
    ]) {
      assert.deepStrictEqual(Either.getOrThrow(encoded(other)), bySchema(other))
    }
    // Wrong values still fail with Schema's explanation.
    for (const bad of [
      { ...data, tokens: "3" },
      { ...data, status: "maybe" },
      { status: "ok", hit: true, tokens: 3 }
    ]) {
      const result = encoded(bad)
      assert.isTrue(Either.isLeft(result))
    }
    const missing = Events.input(Call, { status: "ok", hit: true, tokens: 3 } as never)
    assert.include(Either.isLeft(missing) ? missing.left.message : "", "provider")
  })

  it.effect("decode rejects events of another type and events published without the definition", () =>
    Effect.gen(function* () {
      const events = yield* Events.Events
      const other = yield* Events.emit(JobQueued, { job_id: "j" })
      const wrongType = Events.decode(JobFinished, other)
      assert.isTrue(Either.isLeft(wrongType) && wrongType.left.message.includes("job_queued"))
      yield* events.publish({ type: "job_finished", data: { job_id: "j", ok: "maybe" } })
      const error = yield* Effect.flip(Events.queryOf(JobFinished))
      assert.strictEqual(error.reason, "invalid_input")
      assert.include(error.message, "published without it")
    }).pipe(Effect.provide(Events.layerMemory))
  )

  it.scoped("subscribeTo delivers only its type, with decoded data", () =>
    Effect.gen(function* () {
      const received = yield* Events.subscribeTo(JobFinished).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      // Let the subscriber start listening (as in the Events subscribe tests).
      yield* Effect.repeatN(Effect.yieldNow(), 4)
      yield* Events.emit(JobQueued, { job_id: "q" })
      yield* Events.emit(JobFinished, { job_id: "a", ok: true, finished_at: new Date(5) })
      yield* Events.emit(JobFinished, { job_id: "b", ok: false, finished_at: new Date(6) })
      const got = Chunk.toReadonlyArray(yield* Fiber.join(received))
      assert.deepStrictEqual(
        got.map((e) => [e.type, e.data.job_id, e.data.ok, e.data.finished_at.getTime()]),
        [
          ["job_finished", "a", true, 5],
          ["job_finished", "b", false, 6]
        ]
      )
    }).pipe(Effect.provide(Events.layerMemory))
  )

  it.effect("publishOrLog records to the given store, else the one in context, else does nothing", () =>
    Effect.gen(function* () {
      const given = yield* Events.makeMemory()
      const inContext = yield* Events.makeMemory()
      const data = { job_id: "j" }
      const none = yield* Events.publishOrLog(JobQueued, data)
      assert.isTrue(Option.isNone(none))
      const toGiven = yield* Events.publishOrLog(JobQueued, data, { events: given, parentId: "p1" }).pipe(
        Effect.provideService(Events.Events, inContext)
      )
      assert.isTrue(Option.isSome(toGiven) && toGiven.value.parentId === "p1")
      yield* Events.publishOrLog(JobQueued, data, { events: Option.none() }).pipe(
        Effect.provideService(Events.Events, inContext)
      )
      assert.strictEqual(yield* given.count, 1)
      assert.strictEqual(yield* inContext.count, 1)
    })
  )

  it.effect("publishOrLog logs a failure to record, naming the event, and never fails the work", () =>
    Effect.gen(function* () {
      const store = failingStore(yield* Events.makeMemory())
      const { result, logs } = yield* withLogs(Events.publishOrLog(JobQueued, { job_id: "j" }, { events: store }))
      assert.isTrue(Option.isNone(result))
      assert.strictEqual(logs.length, 1)
      assert.include(logs[0], "job_queued")
      assert.include(logs[0], "disk full")
      const bad = yield* withLogs(
        Events.publishOrLog(JobQueued, { job_id: 1 } as unknown as { job_id: string }, {
          events: yield* Events.makeMemory()
        })
      )
      assert.isTrue(Option.isNone(bad.result))
      assert.include(bad.logs[0], "does not match its definition")
    })
  )

  it.effect("typed events survive the SQLite store", () =>
    Effect.gen(function* () {
      const filename = path.join(dir, "typed.db")
      yield* Effect.scoped(
        Effect.provide(
          Events.emit(JobFinished, { job_id: "s1", ok: true, finished_at: new Date(123) }),
          Events.layerSqlite({ filename })
        )
      )
      const back = yield* Effect.scoped(Effect.provide(Events.queryOf(JobFinished), Events.layerSqlite({ filename })))
      assert.deepStrictEqual(
        back.map((e) => [e.data.job_id, e.data.ok, e.data.finished_at.getTime()]),
        [["s1", true, 123]]
      )
    })
  )

  it.effect("the foundation catalog's definitions validate what the breaker publishes", () =>
    Effect.gen(function* () {
      const ok = yield* Events.emit(FoundationEvents.CircuitBreakerStateChanged, {
        key: "k",
        from: "closed",
        to: "open"
      })
      assert.strictEqual(ok.type, "circuit_breaker_state_changed")
      const bad = yield* Effect.flip(
        Events.emit(FoundationEvents.CircuitBreakerStateChanged, {
          key: "k",
          from: "closed",
          to: "ajar" as "open"
        })
      )
      assert.strictEqual(bad.reason, "invalid_input")
    }).pipe(Effect.provide(Events.layerMemory))
  )
})
