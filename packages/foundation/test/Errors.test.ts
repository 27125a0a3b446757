import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Config from "../src/Config.js"
import * as Correlation from "../src/Correlation.js"
import * as Errors from "../src/Errors.js"
import * as Events from "../src/Events.js"

/** Encodes to JSON text and back, as when an error crosses a process boundary. */
const roundTrip = <A, I>(schema: Schema.Schema<A, I>, value: A): A =>
  Schema.decodeUnknownSync(schema)(JSON.parse(JSON.stringify(Schema.encodeSync(schema)(value))))

describe("Errors", () => {
  it.effect("annotate fills the correlation id of a family error from the fiber", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Errors.annotate(Effect.fail(new Errors.UnexpectedError({ message: "boom" }))).pipe(
          Correlation.withCorrelationId("req_err")
        )
      )
      assert.strictEqual(error.correlationId, "req_err")
      assert.instanceOf(error, Errors.UnexpectedError)
      assert.strictEqual(error.code, "unexpected")
      assert.strictEqual(error.message, "boom")
      // The copy is still a proper member of the family: it encodes and decodes with the id.
      assert.strictEqual(roundTrip(Errors.UnexpectedError, error).correlationId, "req_err")
    })
  )

  it.effect("annotate keeps an existing id, and leaves other errors and runs without an id alone", () =>
    Effect.gen(function* () {
      const kept = yield* Effect.flip(
        Errors.annotate(Effect.fail(new Errors.UnexpectedError({ message: "x", correlationId: "req_own" }))).pipe(
          Correlation.withCorrelationId("req_other")
        )
      )
      assert.strictEqual(kept.correlationId, "req_own")
      const plain = yield* Effect.flip(
        Errors.annotate(Effect.fail({ reason: "not ours" })).pipe(Correlation.withCorrelationId("req_x"))
      )
      assert.deepStrictEqual(plain, { reason: "not ours" })
      const noId = yield* Effect.flip(Errors.annotate(Effect.fail(new Errors.UnexpectedError({ message: "y" }))))
      assert.strictEqual(noId.correlationId, undefined)
    })
  )

  it("family errors round-trip through Schema encode/decode (serialisable)", () => {
    const unexpected = new Errors.UnexpectedError({
      message: "the LM returned garbage; check the adapter",
      correlationId: "req_1",
      context: { module: "cot", attempt: 2 }
    })
    const back = roundTrip(Errors.UnexpectedError, unexpected)
    assert.instanceOf(back, Errors.UnexpectedError)
    assert.strictEqual(back._tag, "UnexpectedError")
    assert.strictEqual(back.message, unexpected.message)
    assert.strictEqual(back.correlationId, "req_1")
    assert.deepStrictEqual(back.context, { module: "cot", attempt: 2 })
    assert.strictEqual(back.code, "unexpected")

    const invalid = new Config.ConfigInvalid({ message: "bad", source: "environment", issues: ["a: b"] })
    const invalidBack = roundTrip(Config.ConfigInvalid, invalid)
    assert.deepStrictEqual(invalidBack.issues, ["a: b"])
    assert.strictEqual(invalidBack.code, "config_invalid")
    assert.isFalse(invalidBack.retryable)

    const store = new Events.EventStoreError({ message: "disk full", operation: "publish", reason: "io" })
    const storeBack = roundTrip(Events.EventStoreError, store)
    assert.strictEqual(storeBack.operation, "publish")
    assert.isTrue(storeBack.retryable)

    // A union of the family decodes each member to its own class by tag.
    const Family = Schema.Union(Errors.UnexpectedError, Config.ConfigInvalid, Events.EventStoreError)
    const decoded = roundTrip(Family, store)
    assert.instanceOf(decoded, Events.EventStoreError)
  })

  it("isDSPyError and isRetryable recognise the family", () => {
    assert.isTrue(Errors.isDSPyError(new Errors.UnexpectedError({ message: "m" })))
    assert.isFalse(Errors.isDSPyError(new Error("plain")))
    assert.isFalse(Errors.isDSPyError(null))
    assert.isTrue(Errors.isRetryable(new Events.EventStoreError({ message: "m", operation: "query" })))
    assert.isFalse(
      Errors.isRetryable(new Events.EventStoreError({ message: "m", operation: "query", reason: "invalid_input" }))
    )
    assert.isFalse(Errors.isRetryable(new Config.ConfigUpdateForbidden({ message: "m", path: "a" })))
  })
})
