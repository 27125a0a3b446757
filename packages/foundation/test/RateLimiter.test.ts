import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fc from "fast-check"
import * as Metrics from "../src/Metrics.js"
import * as RateLimiter from "../src/RateLimiter.js"

const rejectedCount = (limiter: string) =>
  Effect.map(Metric.value(Metric.tagged(Metrics.rateLimiterRejected, "limiter", limiter)), (state) => state.count)

describe("RateLimiter (token bucket)", () => {
  it.effect("admits a burst of limit, then rejects with the exact retryAfterMs, then refills", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make("rl-tb", { limit: 4, scaleMs: 1_000 })
      for (let i = 3; i >= 0; i--) assert.strictEqual((yield* limiter.hit("a")).remaining, i)
      const error = yield* Effect.flip(limiter.hit("a"))
      assert.instanceOf(error, RateLimiter.RateLimited)
      assert.strictEqual(error.key, "a")
      assert.strictEqual(error.retryAfterMs, 250)
      assert.strictEqual(yield* rejectedCount("rl-tb"), 1)
      yield* TestClock.adjust(249)
      assert.strictEqual((yield* Effect.flip(limiter.acquire("a"))).retryAfterMs, 1)
      yield* TestClock.adjust(1)
      yield* limiter.acquire("a")
      assert.strictEqual(yield* rejectedCount("rl-tb"), 2)
    })
  )

  it.effect("keys are independent", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make("rl-keys", { limit: 1, scaleMs: 1_000 })
      yield* limiter.acquire("a")
      yield* limiter.acquire("b")
      assert.instanceOf(yield* Effect.flip(limiter.acquire("a")), RateLimiter.RateLimited)
    })
  )
})

describe("RateLimiter (sliding window)", () => {
  it.effect("admits limit per window of scaleMs, and retryAfterMs points at the oldest admission leaving", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make("rl-sw", { limit: 3, scaleMs: 1_000, algorithm: "sliding-window" })
      yield* limiter.acquire("a")
      yield* TestClock.adjust(400)
      yield* limiter.acquire("a")
      yield* limiter.acquire("a")
      const error = yield* Effect.flip(limiter.acquire("a"))
      assert.strictEqual(error.retryAfterMs, 600)
      yield* TestClock.adjust(599)
      assert.strictEqual((yield* Effect.flip(limiter.acquire("a"))).retryAfterMs, 1)
      yield* TestClock.adjust(1)
      // The first admission (t=0) has left the window (t-1000, t]; the two at t=400 have not.
      assert.strictEqual((yield* limiter.hit("a")).remaining, 0)
    })
  )
})

describe("RateLimiter", () => {
  it.effect("waitFor sleeps through the Clock until admitted, and fails past maxWait", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make("rl-wait", { limit: 1, scaleMs: 1_000 })
      yield* limiter.acquire("a")
      const waiting = yield* Effect.fork(limiter.waitFor("a"))
      yield* TestClock.adjust(999)
      assert.isNull(yield* Fiber.poll(waiting).pipe(Effect.map((o) => (o._tag === "Some" ? "done" : null))))
      yield* TestClock.adjust(1)
      yield* Fiber.join(waiting)
      const tooLong = yield* Effect.flip(limiter.waitFor("a", { maxWait: "500 millis" }))
      assert.strictEqual(tooLong.retryAfterMs, 1_000)
    })
  )

  it.effect("idle keys expire after scaleMs without changing any decision", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make("rl-idle", { limit: 1, scaleMs: 100, algorithm: "sliding-window" })
      yield* limiter.acquire("a")
      yield* limiter.acquire("b")
      assert.strictEqual(yield* limiter.size, 2)
      yield* TestClock.adjust(100)
      yield* limiter.acquire("c")
      assert.strictEqual(yield* limiter.size, 1)
      yield* limiter.acquire("a")
    })
  )

  it.effect("reconfigure takes effect at once; invalid settings fail with a typed error", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make("rl-reconfigure", { limit: 2, scaleMs: 1_000 })
      yield* limiter.acquire("a")
      yield* limiter.acquire("a")
      assert.instanceOf(yield* Effect.flip(limiter.acquire("a")), RateLimiter.RateLimited)
      yield* limiter.reconfigure({ limit: 5, scaleMs: 1_000 })
      // The bucket keeps its (empty) level but refills at the new rate: 5 per second, one every 200 ms.
      yield* TestClock.adjust(200)
      yield* limiter.acquire("a")
      yield* limiter.reconfigure({ limit: 2, scaleMs: 1_000, algorithm: "sliding-window" })
      yield* limiter.acquire("a")
      yield* limiter.acquire("a")
      assert.instanceOf(yield* Effect.flip(limiter.acquire("a")), RateLimiter.RateLimited)
      const invalid = yield* Effect.flip(limiter.reconfigure({ limit: 0, scaleMs: 1_000 }))
      assert.instanceOf(invalid, RateLimiter.ProtectionSettingsInvalid)
      assert.include(invalid.message, "limit")
      const invalidMake = yield* Effect.flip(RateLimiter.make("rl-bad", { limit: 1, scaleMs: -5 }))
      assert.include(invalidMake.message, "scaleMs")
    })
  )
})

// ---------------------------------------------------------------------------------------------------------
// Property: under random arrival schedules, no window admits more than the algorithm allows.

interface Arrival {
  readonly gapMs: number
  readonly key: number
}

const arrivalArb: fc.Arbitrary<Arrival> = fc.record({
  gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 })),
  key: fc.integer({ min: 0, max: 2 })
})

const admittedTimes = (
  settings: { readonly limit: number; readonly scaleMs: number; readonly algorithm: "token-bucket" | "sliding-window" },
  arrivals: ReadonlyArray<Arrival>
) =>
  Effect.gen(function* () {
    const limiter = yield* RateLimiter.make("rl-property", settings)
    const admitted: Array<Array<number>> = [[], [], []]
    let now = 0
    for (const arrival of arrivals) {
      if (arrival.gapMs > 0) yield* TestClock.adjust(arrival.gapMs)
      now += arrival.gapMs
      const exit = yield* Effect.either(limiter.hit(`k${arrival.key}`))
      if (exit._tag === "Right") admitted[arrival.key]!.push(now)
      else if (!(exit.left.retryAfterMs > 0)) throw new Error(`retryAfterMs ${exit.left.retryAfterMs} is not positive`)
    }
    return admitted
  }).pipe(Effect.provide(TestContext.TestContext))

const settingsArb = fc.record({ limit: fc.integer({ min: 1, max: 6 }), scaleMs: fc.constantFrom(10, 50, 100, 250) })

describe("RateLimiter window invariant (property)", () => {
  it("sliding window: every window (t - scaleMs, t] holds at most limit admissions", async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, fc.array(arrivalArb, { maxLength: 80 }), async (s, arrivals) => {
        const admitted = await Effect.runPromise(admittedTimes({ ...s, algorithm: "sliding-window" }, arrivals))
        for (const times of admitted) {
          // The tightest windows end at an admission: the admission `limit` places later must be scaleMs on.
          for (let i = 0; i + s.limit < times.length; i++) {
            if (times[i + s.limit]! - times[i]! < s.scaleMs) {
              throw new Error(`${s.limit + 1} admissions within ${s.scaleMs} ms: ${times.slice(i, i + s.limit + 1)}`)
            }
          }
        }
      }),
      { numRuns: 100 }
    )
  }, 60_000)

  it("sliding window admits every hit that finds fewer than limit admissions in its window", async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, fc.array(arrivalArb, { maxLength: 60 }), async (s, arrivals) => {
        const admitted = await Effect.runPromise(admittedTimes({ ...s, algorithm: "sliding-window" }, arrivals))
        // Replay with a reference log to get the expected admissions exactly.
        const expected: Array<Array<number>> = [[], [], []]
        let now = 0
        for (const arrival of arrivals) {
          now += arrival.gapMs
          const log = expected[arrival.key]!
          if (log.filter((t) => t > now - s.scaleMs).length < s.limit) log.push(now)
        }
        assert.deepStrictEqual(admitted, expected)
      }),
      { numRuns: 60 }
    )
  }, 60_000)

  it("token bucket: any interval of length d holds at most limit + floor(d * limit / scaleMs) admissions", async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, fc.array(arrivalArb, { maxLength: 80 }), async (s, arrivals) => {
        const admitted = await Effect.runPromise(admittedTimes({ ...s, algorithm: "token-bucket" }, arrivals))
        for (const times of admitted) {
          for (let i = 0; i < times.length; i++) {
            for (let j = i; j < times.length; j++) {
              const allowed = s.limit + Math.floor(((times[j]! - times[i]!) * s.limit) / s.scaleMs)
              if (j - i + 1 > allowed) {
                throw new Error(`${j - i + 1} admissions in [${times[i]}, ${times[j]}], at most ${allowed} allowed`)
              }
            }
          }
        }
        // A first burst of hits at time 0 on one key gets exactly `limit` through.
        const burst = arrivals.findIndex((a) => a.gapMs > 0)
        const initial = (burst === -1 ? arrivals : arrivals.slice(0, burst)).filter((a) => a.key === 0).length
        const admittedAtZero = admitted[0]!.filter((t) => t === 0).length
        assert.strictEqual(admittedAtZero, Math.min(initial, s.limit))
      }),
      { numRuns: 100 }
    )
  }, 60_000)
})
