import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Config from "../src/Config.js"
import * as Events from "../src/Events.js"
import * as Pool from "../src/Pool.js"
import * as Protection from "../src/Protection.js"
import * as RateLimiter from "../src/RateLimiter.js"
import { BadRequest, makeEvents, Unavailable } from "./ProtectionSupport.js"

const infrastructure = {
  circuitBreakers: { lm: { failureThreshold: 2, recoveryTimeMs: 1_000 } },
  rateLimiters: { api: { limit: 3, scaleMs: 1_000 } },
  bulkheads: { workers: { maxConcurrent: 1, maxQueued: 0 } },
  pools: { db: { size: 1, checkoutTimeoutMs: 100 } }
}

const layer = (events?: Events.Service) =>
  Layer.provideMerge(
    events === undefined ? Protection.layer : Layer.provide(Protection.layer, Layer.succeed(Events.Events, events)),
    Config.layerTest({ infrastructure })
  )

/** Lets the service's configuration watcher (a forked fiber) handle a change just published. */
const settle = Effect.repeatN(Effect.yieldNow(), 3)

const unavailable = Effect.fail(new Unavailable({ message: "503" }))

describe("Protection.executeProtected", () => {
  it.scoped("the rate limiter rejects first: a limited call never reaches the breaker", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const call = Effect.zipRight(
        Ref.update(calls, (n) => n + 1),
        unavailable
      )
      const options = { limiter: "api", breaker: "lm" }
      // Three calls through the limiter; the first two fail and open the breaker; the third is rejected by it.
      yield* Effect.exit(Protection.executeProtected("k", options, call))
      yield* Effect.exit(Protection.executeProtected("k", options, call))
      const third = yield* Effect.flip(Protection.executeProtected("k", options, call))
      assert.instanceOf(third, CircuitBreaker.CircuitOpen)
      const fourth = yield* Effect.flip(Protection.executeProtected("k", options, call))
      assert.instanceOf(fourth, RateLimiter.RateLimited)
      assert.strictEqual(fourth.key, "k")
      assert.strictEqual(yield* Ref.get(calls), 2)
    }).pipe(Effect.provide(layer()))
  )

  it.scoped("an open circuit rejects before the bulkhead; bulkhead rejections do not count as failures", () =>
    Effect.gen(function* () {
      const protection = yield* Protection.Protection
      const holder = yield* Effect.fork(
        protection.executeProtected("k", { bulkhead: "workers", breaker: "lm" }, Effect.sleep(100))
      )
      yield* Effect.yieldNow()
      for (let i = 0; i < 3; i++) {
        const error = yield* Effect.flip(
          protection.executeProtected("k", { bulkhead: "workers", breaker: "lm" }, Effect.void)
        )
        assert.instanceOf(error, Bulkhead.BulkheadFull)
      }
      assert.strictEqual(yield* (yield* protection.breaker("lm")).state, "closed")
      yield* TestClock.adjust(100)
      yield* Fiber.join(holder)
    }).pipe(Effect.provide(layer()))
  )

  it.scoped("the timeout runs inside the breaker: timeouts fail with CallTimeout and open it", () =>
    Effect.gen(function* () {
      const protection = yield* Protection.Protection
      for (let i = 0; i < 2; i++) {
        const fiber = yield* Effect.fork(
          protection.executeProtected("slow", { breaker: "lm", timeout: "50 millis" }, Effect.never)
        )
        yield* TestClock.adjust(50)
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(error, CircuitBreaker.CallTimeout)
        assert.strictEqual(error.key, "slow")
      }
      assert.strictEqual(yield* (yield* protection.breaker("lm")).state, "open")
    }).pipe(Effect.provide(layer()))
  )

  it.scoped("retry repeats retryable failures only, and stops at an open circuit", () =>
    Effect.gen(function* () {
      const protection = yield* Protection.Protection
      const attempts = yield* Ref.make(0)
      const flaky = Effect.flatMap(
        Ref.updateAndGet(attempts, (n) => n + 1),
        (n) => (n < 2 ? unavailable : Effect.succeed(n))
      )
      assert.strictEqual(yield* protection.executeProtected("r", { retry: Schedule.recurs(5) }, flaky), 2)

      yield* Ref.set(attempts, 0)
      const bad = Effect.zipRight(
        Ref.update(attempts, (n) => n + 1),
        Effect.fail(new BadRequest({ message: "400" }))
      )
      assert.instanceOf(
        yield* Effect.flip(protection.executeProtected("r", { retry: Schedule.recurs(5) }, bad)),
        BadRequest
      )
      assert.strictEqual(yield* Ref.get(attempts), 1)

      yield* Ref.set(attempts, 0)
      const down = Effect.zipRight(
        Ref.update(attempts, (n) => n + 1),
        unavailable
      )
      const error = yield* Effect.flip(
        protection.executeProtected("r", { breaker: "lm", retry: Schedule.recurs(5) }, down)
      )
      // Two attempts open the breaker (threshold 2); the third attempt is rejected and ends the retries.
      assert.instanceOf(error, CircuitBreaker.CircuitOpen)
      assert.strictEqual(yield* Ref.get(attempts), 2)
    }).pipe(Effect.provide(layer()))
  )

  it.scoped("a pool hands the call its resource; names without settings fail with ProtectionNotConfigured", () =>
    Effect.gen(function* () {
      const protection = yield* Protection.Protection
      const pool = yield* protection.pool("db", Effect.succeed({ connection: "db-1" }))
      const result = yield* protection.executeProtected("q", { pool, breaker: "lm" }, (resource) =>
        Effect.succeed(resource.connection)
      )
      assert.strictEqual(result, "db-1")
      const missing = yield* Effect.flip(protection.executeProtected("q", { breaker: "nope" }, Effect.void))
      assert.instanceOf(missing, Protection.ProtectionNotConfigured)
      assert.strictEqual(missing.kind, "circuitBreakers")
      assert.include(missing.message, "infrastructure.circuitBreakers.nope")
      assert.instanceOf(yield* Effect.flip(protection.pool("nope", Effect.void)), Protection.ProtectionNotConfigured)
    }).pipe(Effect.provide(layer()))
  )

  it.scoped("breaker transitions are published to Events", () =>
    Effect.gen(function* () {
      const events = yield* makeEvents
      yield* Effect.gen(function* () {
        for (let i = 0; i < 2; i++) yield* Effect.exit(Protection.executeProtected("k", { breaker: "lm" }, unavailable))
      }).pipe(Effect.provide(layer(events.service)))
      const published = yield* events.published
      assert.deepStrictEqual(
        published.map((event) => event.data),
        [{ key: "lm", from: "closed", to: "open" }]
      )
    })
  )
})

describe("Protection live reconfiguration", () => {
  it.scoped("a Config change takes effect on existing protections", () =>
    Effect.gen(function* () {
      const protection = yield* Protection.Protection
      const admitted = (n: number) =>
        Effect.forEach(Array.from({ length: n }), () =>
          Effect.either(protection.executeProtected("live", { limiter: "api" }, Effect.void))
        ).pipe(Effect.map((results) => results.filter((r) => r._tag === "Right").length))
      assert.strictEqual(yield* admitted(10), 3)

      yield* Config.update("infrastructure.rateLimiters.api", { limit: 8, scaleMs: 1_000 })
      yield* settle
      yield* TestClock.adjust(1_000)
      assert.strictEqual(yield* admitted(20), 8)
      assert.strictEqual((yield* (yield* protection.limiter("api")).settings).limit, 8)

      yield* Config.update("infrastructure.bulkheads.workers", { maxConcurrent: 2, maxQueued: 0 })
      yield* settle
      const holders = yield* Effect.forEach([1, 2], () =>
        Effect.fork(protection.executeProtected("b", { bulkhead: "workers" }, Effect.sleep(10)))
      )
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* (yield* protection.bulkhead("workers")).stats, { running: 2, queued: 0 })
      yield* TestClock.adjust(10)
      yield* Effect.forEach(holders, Fiber.join)

      const pool = yield* protection.pool("db", Effect.succeed("conn"))
      yield* Config.update("infrastructure.pools.db", { size: 3 })
      yield* settle
      assert.strictEqual((yield* pool.settings).size, 3)

      // Removing a breaker's settings forgets it.
      yield* protection.breaker("lm")
      yield* Config.update("infrastructure.circuitBreakers", {})
      yield* settle
      assert.instanceOf(yield* Effect.flip(protection.breaker("lm")), Protection.ProtectionNotConfigured)
    }).pipe(Effect.provide(layer()))
  )
})

describe("Protection.protect", () => {
  it.effect("composes instances without the service and refuses names", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make("protect-limiter", { limit: 1, scaleMs: 1_000 })
      const breaker = yield* CircuitBreaker.make("protect-breaker", { failureThreshold: 1 })
      assert.strictEqual(
        yield* Protection.protect("p", { limiter: { limiter, key: "shared" }, breaker }, Effect.succeed(1)),
        1
      )
      assert.instanceOf(
        yield* Effect.flip(Protection.protect("other", { limiter: { limiter, key: "shared" } }, Effect.succeed(1))),
        RateLimiter.RateLimited
      )
      const named = yield* Effect.flip(Protection.protect("p", { breaker: "lm" }, Effect.void))
      assert.instanceOf(named, Protection.ProtectionNotConfigured)
      const bulkhead = yield* Bulkhead.make("protect-bulkhead", { maxConcurrent: 1 })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const pool = yield* Pool.make("protect-pool", { size: 1 }, Effect.succeed(41))
          assert.strictEqual(yield* Protection.protect("p", { pool, bulkhead }, (n) => Effect.succeed(n + 1)), 42)
        })
      )
    })
  )
})
