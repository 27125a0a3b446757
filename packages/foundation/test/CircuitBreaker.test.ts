import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fc from "fast-check"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Events from "../src/Events.js"
import * as Metrics from "../src/Metrics.js"
import { BadRequest, makeEvents, Unavailable } from "./ProtectionSupport.js"

const fail = Effect.fail(new Unavailable({ message: "down" }))
const ok = Effect.succeed("ok")

const gauge = (key: string) =>
  Effect.map(Metric.value(Metric.tagged(Metrics.circuitBreakerState, "key", key)), (state) => state.value)

const errorOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

describe("CircuitBreaker", () => {
  it.effect("opens after failureThreshold failures within the window and rejects at once", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-count", { failureThreshold: 3, windowMs: 1_000 })
      for (let i = 0; i < 2; i++) yield* Effect.exit(breaker.execute(fail))
      assert.strictEqual(yield* breaker.state, "closed")
      yield* Effect.exit(breaker.execute(fail))
      assert.strictEqual(yield* breaker.state, "open")
      assert.strictEqual(yield* gauge("cb-count"), 2)

      const ran = yield* Ref.make(false)
      yield* TestClock.adjust(10_000)
      const exit = yield* Effect.exit(breaker.execute(Ref.set(ran, true)))
      const error = errorOf(exit)
      assert.instanceOf(error, CircuitBreaker.CircuitOpen)
      assert.strictEqual(error.key, "cb-count")
      assert.strictEqual(error.remainingMs, 20_000)
      assert.isFalse(yield* Ref.get(ran))
    })
  )

  it.effect("failures spread wider than the window do not open it", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-spread", { failureThreshold: 3, windowMs: 1_000 })
      for (let i = 0; i < 6; i++) {
        yield* Effect.exit(breaker.execute(fail))
        yield* TestClock.adjust(500)
      }
      assert.strictEqual(yield* breaker.state, "closed")
    })
  )

  it.effect("half-open after the recovery time: a trial success closes, a trial failure reopens", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-half", { failureThreshold: 1, recoveryTimeMs: 5_000 })
      yield* Effect.exit(breaker.execute(fail))
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust(4_999)
      assert.instanceOf(errorOf(yield* Effect.exit(breaker.execute(ok))), CircuitBreaker.CircuitOpen)
      yield* TestClock.adjust(1)
      // The trial fails: open again for a full recovery time.
      yield* Effect.exit(breaker.execute(fail))
      assert.strictEqual(yield* breaker.state, "open")
      assert.strictEqual(
        (errorOf(yield* Effect.exit(breaker.execute(ok))) as CircuitBreaker.CircuitOpen).remainingMs,
        5_000
      )
      yield* TestClock.adjust(5_000)
      assert.strictEqual(yield* breaker.execute(ok), "ok")
      assert.strictEqual(yield* breaker.state, "closed")
      assert.strictEqual(yield* gauge("cb-half"), 0)
    })
  )

  it.effect("half-open admits halfOpenMaxCalls trials and rejects the others", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-trials", {
        failureThreshold: 1,
        recoveryTimeMs: 100,
        halfOpenMaxCalls: 2
      })
      yield* Effect.exit(breaker.execute(fail))
      yield* TestClock.adjust(100)
      const trial = (ms: number) => breaker.execute(Effect.as(Effect.sleep(ms), "trial"))
      const first = yield* Effect.fork(trial(50))
      const second = yield* Effect.fork(trial(60))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* breaker.state, "half-open")
      assert.strictEqual(yield* gauge("cb-trials"), 1)
      const third = errorOf(yield* Effect.exit(breaker.execute(ok)))
      assert.instanceOf(third, CircuitBreaker.CircuitOpen)
      assert.strictEqual(third.remainingMs, 0)
      yield* TestClock.adjust(60)
      assert.strictEqual(yield* Fiber.join(first), "trial")
      assert.strictEqual(yield* Fiber.join(second), "trial")
      assert.strictEqual(yield* breaker.state, "closed")
    })
  )

  it.effect("an interrupted trial frees its slot", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-interrupt", { failureThreshold: 1, recoveryTimeMs: 100 })
      yield* Effect.exit(breaker.execute(fail))
      yield* TestClock.adjust(100)
      const trial = yield* Effect.fork(breaker.execute(Effect.never))
      yield* Effect.yieldNow()
      assert.instanceOf(errorOf(yield* Effect.exit(breaker.execute(ok))), CircuitBreaker.CircuitOpen)
      yield* Fiber.interrupt(trial)
      assert.strictEqual(yield* breaker.execute(ok), "ok")
      assert.strictEqual(yield* breaker.state, "closed")
    })
  )

  it.effect("a call over callTimeoutMs fails with CallTimeout and counts as a failure", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-timeout", { failureThreshold: 2, callTimeoutMs: 1_000 })
      for (let i = 0; i < 2; i++) {
        const fiber = yield* Effect.fork(breaker.execute(Effect.never))
        yield* TestClock.adjust(1_000)
        const error = errorOf(yield* Fiber.await(fiber))
        assert.instanceOf(error, CircuitBreaker.CallTimeout)
        assert.strictEqual(error.timeoutMs, 1_000)
      }
      assert.strictEqual(yield* breaker.state, "open")
    })
  )

  it.effect("non-retryable errors do not count; defects do; the predicate is configurable", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-predicate", { failureThreshold: 2 })
      for (let i = 0; i < 5; i++) yield* Effect.exit(breaker.execute(Effect.fail(new BadRequest({ message: "400" }))))
      assert.strictEqual(yield* breaker.state, "closed")
      for (let i = 0; i < 2; i++) yield* Effect.exit(breaker.execute(Effect.die("boom")))
      assert.strictEqual(yield* breaker.state, "open")

      const strict = yield* CircuitBreaker.make(
        "cb-predicate-custom",
        { failureThreshold: 2 },
        { isFailure: (failure) => failure._tag === "Fail" && failure.error instanceof BadRequest }
      )
      for (let i = 0; i < 3; i++) yield* Effect.exit(strict.execute(fail))
      assert.strictEqual(yield* strict.state, "closed")
      for (let i = 0; i < 2; i++) yield* Effect.exit(strict.execute(Effect.fail(new BadRequest({ message: "400" }))))
      assert.strictEqual(yield* strict.state, "open")
    })
  )

  it.effect("rate mode opens at the failure rate only with the minimum volume", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-rate", {
        failureRateThreshold: 0.5,
        minimumVolume: 6,
        windowMs: 10_000
      })
      // Four failures of four calls: rate 100% but volume 4 < 6.
      for (let i = 0; i < 4; i++) yield* Effect.exit(breaker.execute(fail))
      assert.strictEqual(yield* breaker.state, "closed")
      // The window rolls past them: they no longer count.
      yield* TestClock.adjust(10_000)
      for (let i = 0; i < 4; i++) yield* breaker.execute(ok)
      for (let i = 0; i < 3; i++) yield* Effect.exit(breaker.execute(fail))
      // 3 of 7 = 43% < 50%.
      assert.strictEqual(yield* breaker.state, "closed")
      yield* Effect.exit(breaker.execute(fail))
      // 4 of 8 = 50%.
      assert.strictEqual(yield* breaker.state, "open")
    })
  )

  it.effect("publishes every transition as an event when Events is in context", () =>
    Effect.gen(function* () {
      const events = yield* makeEvents
      const breaker = yield* CircuitBreaker.make("cb-events", { failureThreshold: 1, recoveryTimeMs: 10 }).pipe(
        Effect.provideService(Events.Events, events.service)
      )
      yield* Effect.exit(breaker.execute(fail))
      yield* TestClock.adjust(10)
      yield* breaker.execute(ok)
      const published = yield* events.published
      assert.deepStrictEqual(
        published.map((event) => [event.type, event.data]),
        [
          ["circuit_breaker_state_changed", { key: "cb-events", from: "closed", to: "open" }],
          ["circuit_breaker_state_changed", { key: "cb-events", from: "open", to: "half-open" }],
          ["circuit_breaker_state_changed", { key: "cb-events", from: "half-open", to: "closed" }]
        ]
      )
    })
  )

  it.effect("reconfigure takes effect on the next calls; invalid settings fail with a typed error", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make("cb-reconfigure", { failureThreshold: 5 })
      yield* Effect.exit(breaker.execute(fail))
      yield* breaker.reconfigure({ failureThreshold: 2 })
      yield* Effect.exit(breaker.execute(fail))
      assert.strictEqual(yield* breaker.state, "open")
      assert.strictEqual((yield* breaker.settings).failureThreshold, 2)
      const invalid = yield* Effect.flip(breaker.reconfigure({ failureThreshold: 0 }))
      assert.instanceOf(invalid, CircuitBreaker.ProtectionSettingsInvalid)
      assert.include(invalid.message, "failureThreshold")
      yield* breaker.reset
      assert.strictEqual(yield* breaker.state, "closed")
    })
  )
})

// ---------------------------------------------------------------------------------------------------------
// Model-based property test: the breaker against a small reference model written from the specification.

type Op =
  | { readonly op: "ok" }
  | { readonly op: "fail" }
  | { readonly op: "bad" }
  | { readonly op: "timeout" }
  | { readonly op: "wait"; readonly ms: number }

interface ModelSettings {
  readonly failureThreshold: number
  readonly windowMs: number
  readonly failureRateThreshold?: number
  readonly minimumVolume: number
  readonly recoveryTimeMs: number
  readonly callTimeoutMs: number
}

/** The reference model: a full log of outcomes since the circuit last closed, filtered on demand. */
class Model {
  state: "closed" | "open" | "half-open" = "closed"
  openedAt = 0
  log: Array<{ readonly t: number; readonly failed: boolean }> = []
  now = 0
  constructor(readonly s: ModelSettings) {}

  private inWindow(t: number): boolean {
    if (this.s.failureRateThreshold === undefined) return t > this.now - this.s.windowMs
    const bucket = (x: number) => Math.floor(x / (this.s.windowMs / 10))
    return bucket(t) > bucket(this.now) - 10
  }

  private trips(): boolean {
    const recent = this.log.filter((entry) => this.inWindow(entry.t))
    const failures = recent.filter((entry) => entry.failed).length
    if (this.s.failureRateThreshold === undefined) return failures >= this.s.failureThreshold
    return recent.length >= this.s.minimumVolume && failures / recent.length >= this.s.failureRateThreshold
  }

  /** Returns what the call yields: "ok" | "Unavailable" | "BadRequest" | "CallTimeout" | "open:<ms>". */
  call(kind: "ok" | "fail" | "bad" | "timeout"): string {
    if (this.state === "open") {
      const remaining = this.openedAt + this.s.recoveryTimeMs - this.now
      if (remaining > 0) {
        if (kind === "timeout") this.now += this.s.callTimeoutMs
        return `open:${remaining}`
      }
      this.state = "half-open"
    }
    if (kind === "timeout") this.now += this.s.callTimeoutMs
    const failed = kind === "fail" || kind === "timeout"
    const result =
      kind === "ok" ? "ok" : kind === "fail" ? "Unavailable" : kind === "bad" ? "BadRequest" : "CallTimeout"
    if (this.state === "half-open") {
      if (failed) this.open()
      else this.close()
      return result
    }
    if (this.s.failureRateThreshold !== undefined || failed) this.log.push({ t: this.now, failed })
    if (failed && this.trips()) this.open()
    return result
  }

  private open() {
    this.state = "open"
    this.openedAt = this.now
    this.log = []
  }
  private close() {
    this.state = "closed"
    this.log = []
  }
}

const settingsArb: fc.Arbitrary<ModelSettings> = fc.record(
  {
    failureThreshold: fc.integer({ min: 1, max: 4 }),
    // Round numbers, so that calls often land exactly on window, bucket and recovery boundaries.
    windowMs: fc.constantFrom(10, 20, 50, 100),
    failureRateThreshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
    minimumVolume: fc.integer({ min: 1, max: 6 }),
    recoveryTimeMs: fc.constantFrom(10, 20, 50),
    callTimeoutMs: fc.constantFrom(5, 10)
  },
  { requiredKeys: ["failureThreshold", "windowMs", "minimumVolume", "recoveryTimeMs", "callTimeoutMs"] }
)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ op: "ok" as const }) },
  { weight: 4, arbitrary: fc.constant({ op: "fail" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "bad" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "timeout" as const }) },
  { weight: 3, arbitrary: fc.constantFrom(1, 5, 10, 20, 50).map((ms) => ({ op: "wait" as const, ms })) }
)

const runAgainstModel = (settings: ModelSettings, ops: ReadonlyArray<Op>) =>
  Effect.gen(function* () {
    const breaker = yield* CircuitBreaker.make("cb-model", settings)
    const model = new Model(settings)
    for (const [i, op] of ops.entries()) {
      let actual: string
      if (op.op === "wait") {
        yield* TestClock.adjust(op.ms)
        model.now += op.ms
        actual = "waited"
      } else {
        const effect: Effect.Effect<string, Unavailable | BadRequest> =
          op.op === "ok"
            ? ok
            : op.op === "fail"
              ? fail
              : op.op === "bad"
                ? Effect.fail(new BadRequest({ message: "400" }))
                : Effect.never
        let exit: Exit.Exit<string, unknown>
        if (op.op === "timeout") {
          const fiber = yield* Effect.fork(breaker.execute(effect))
          yield* TestClock.adjust(settings.callTimeoutMs)
          exit = yield* Fiber.await(fiber)
        } else {
          exit = yield* Effect.exit(breaker.execute(effect))
        }
        const error = errorOf(exit)
        actual =
          error === undefined
            ? "ok"
            : error instanceof CircuitBreaker.CircuitOpen
              ? `open:${error.remainingMs}`
              : (error as { _tag: string })._tag
        const expected = model.call(op.op)
        if (actual !== expected) return `step ${i} (${op.op}): breaker gave ${actual}, model ${expected}`
      }
      const state = yield* breaker.state
      if (state !== model.state) return `step ${i} (${op.op}): breaker is ${state}, model ${model.state}`
    }
    return undefined
  })

describe("CircuitBreaker against a reference model", () => {
  for (const mode of ["count", "rate"] as const) {
    it(`matches the model under random call/fail/timeout/wait sequences (${mode} mode)`, async () => {
      await fc.assert(
        fc.asyncProperty(settingsArb, fc.array(opArb, { minLength: 1, maxLength: 60 }), async (drawn, ops) => {
          const { failureRateThreshold, ...rest } = drawn
          const settings: ModelSettings = mode === "rate" ? drawn : rest
          void failureRateThreshold
          const mismatch = await Effect.runPromise(
            runAgainstModel(settings, ops).pipe(Effect.provide(TestContext.TestContext))
          )
          if (mismatch !== undefined) throw new Error(mismatch)
        }),
        { numRuns: 100 }
      )
    }, 60_000)
  }
})
