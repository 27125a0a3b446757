import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Config from "../src/Config.js"
import * as Correlation from "../src/Correlation.js"
import * as Errors from "../src/Errors.js"
import * as Events from "../src/Events.js"
import * as Pool from "../src/Pool.js"
import * as Protection from "../src/Protection.js"
import * as RateLimiter from "../src/RateLimiter.js"

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
      assert.isTrue(Errors.isDSPyError(error))
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

  it("the guard recognises every foundation error and rejects look-alikes", () => {
    const members: ReadonlyArray<Errors.DSPyError> = [
      new Errors.UnexpectedError({ message: "m" }),
      new Config.ConfigPathNotFound({ message: "m", path: "a" }),
      new Config.ConfigUpdateForbidden({ message: "m", path: "a" }),
      new Config.ConfigInvalid({ message: "m", source: "s", issues: [] }),
      new Events.EventStoreError({ message: "m", operation: "publish" }),
      new CircuitBreaker.CircuitOpen({ message: "m", key: "k", remainingMs: 1 }),
      new CircuitBreaker.CallTimeout({ message: "m", key: "k", timeoutMs: 1 }),
      new RateLimiter.RateLimited({ message: "m", limiter: "l", key: "k", retryAfterMs: 1 }),
      new Bulkhead.BulkheadFull({ message: "m", name: "b", maxConcurrent: 1, maxQueued: 0 }),
      new Pool.PoolTimeout({ message: "m", name: "p", timeoutMs: 1 }),
      new Protection.ProtectionNotConfigured({ message: "m", kind: "pools", name: "p" })
    ]
    for (const error of members) {
      assert.isTrue(Errors.isDSPyError(error), error._tag)
      assert.match(error.code, /^[a-z_]+$/, error._tag)
      assert.isBoolean(error.retryable, error._tag)
    }
    // A plain tagged error, or an object that copies every visible member, is not a member of the family.
    class LookAlike extends Schema.TaggedError<LookAlike>()("LookAlike", { ...Errors.fields }) {
      get code(): string {
        return "look_alike"
      }
      get retryable(): boolean {
        return true
      }
    }
    const lookAlike = new LookAlike({ message: "m" })
    assert.isFalse(Errors.isDSPyError(lookAlike))
    assert.isFalse(Errors.isRetryable(lookAlike))
    assert.isFalse(Errors.isDSPyError({ ...members[0], _tag: "UnexpectedError", code: "unexpected", retryable: false }))
    assert.isFalse(Errors.isDSPyError("UnexpectedError"))
    assert.isFalse(Errors.isDSPyError(undefined))
  })

  it("code and retryable come from the one declaration, constant or computed from the instance", () => {
    class Flaky extends Errors.TaggedError<Flaky>()(
      "Flaky",
      { attempts: Schema.Number },
      { code: (self) => (self.attempts > 3 ? "flaky_exhausted" : "flaky"), retryable: (self) => self.attempts <= 3 }
    ) {}
    class Fixed extends Errors.TaggedError<Fixed>("@test/Fixed")("Fixed", {}, { code: "fixed", retryable: false }) {}
    const early = new Flaky({ message: "m", attempts: 1 })
    const late = new Flaky({ message: "m", attempts: 4 })
    assert.strictEqual(early.code, "flaky")
    assert.isTrue(early.retryable)
    assert.strictEqual(late.code, "flaky_exhausted")
    assert.isFalse(late.retryable)
    assert.strictEqual(new Fixed({ message: "m" }).code, "fixed")
    assert.isFalse(new Fixed({ message: "m" }).retryable)
    // Declared on the prototype, once: no instance carries its own copy, and the encoded form holds only fields.
    assert.isFalse(Object.hasOwn(early, "code") || Object.hasOwn(early, "retryable"))
    assert.deepStrictEqual(Schema.encodeSync(Flaky)(early), { _tag: "Flaky", message: "m", attempts: 1 })
    // The instance is a real error with the tag and the instance fields typed.
    assert.instanceOf(early, Error)
    assert.strictEqual(early._tag, "Flaky")
    const attempts: number = early.attempts
    assert.strictEqual(attempts, 1)
    assert.strictEqual(Fixed.identifier, "@test/Fixed")
    assert.strictEqual(Flaky.identifier, "@effect-dspy/Flaky")
  })

  it("a declared member round-trips through encode/decode with its code, retryable and brand", () => {
    class Flaky extends Errors.TaggedError<Flaky>()(
      "Flaky",
      { attempts: Schema.Number },
      { code: "flaky", retryable: (self) => self.attempts <= 3 }
    ) {}
    const error = new Flaky({ message: "m", attempts: 5, correlationId: "req_9", context: { a: 1 } })
    const back = roundTrip(Flaky, error)
    assert.instanceOf(back, Flaky)
    assert.isTrue(Errors.isDSPyError(back))
    assert.strictEqual(back.code, "flaky")
    assert.isFalse(back.retryable)
    assert.strictEqual(back.correlationId, "req_9")
    assert.deepStrictEqual(back.context, { a: 1 })
    // Yielding it fails the effect with the same value.
    const exit = Effect.runSyncExit(
      Effect.gen(function* () {
        return yield* error
      })
    )
    assert.isTrue(Exit.isFailure(exit) && Cause.squash(exit.cause) === error)
  })
})
