/**
 * The resource controller: capacity grows on queueing and shrinks when idle, a rate limit backs off on errors and
 * latency, every step within [min, max] and at most once per cooldown, applied through live Config with an event.
 */
import { Config, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { ResourceController, ServicesEvents } from "../../src/index.js"

const pool: ResourceController.Knob = {
  path: "providers.default.poolSize",
  kind: "capacity",
  min: 2,
  max: 10,
  step: 4,
  cooldownMs: 30_000
}

const busy: ResourceController.Signals = { queueing: 5, utilization: 1, latencyP95Ms: 100, errorRate: 0 }
const idle: ResourceController.Signals = { queueing: 0, utilization: 0.1, latencyP95Ms: 100, errorRate: 0 }

describe("ResourceController.decide", () => {
  it("grows capacity on queueing, never past max; shrinks it when idle, never under min", () => {
    assert.deepStrictEqual(ResourceController.decide(pool, 4, busy, undefined, 0)?.to, 8)
    assert.deepStrictEqual(ResourceController.decide(pool, 8, busy, undefined, 0)?.to, 10)
    assert.isUndefined(ResourceController.decide(pool, 10, busy, undefined, 0))
    assert.deepStrictEqual(ResourceController.decide(pool, 4, idle, undefined, 0)?.to, 2)
    assert.isUndefined(ResourceController.decide(pool, 2, idle, undefined, 0))
  })

  it("does not grow capacity against errors, and respects its cooldown", () => {
    assert.isUndefined(ResourceController.decide(pool, 4, { ...busy, errorRate: 0.5 }, undefined, 0))
    assert.isUndefined(ResourceController.decide(pool, 4, busy, 0, 29_999))
    assert.strictEqual(ResourceController.decide(pool, 4, busy, 0, 30_000)?.to, 8)
  })

  it("backs a rate limit off on errors or latency over target, opens it on queueing", () => {
    const limit: ResourceController.Knob = {
      path: "infrastructure.rateLimiters.lm_provider_default.limit",
      kind: "rate_limit",
      min: 5,
      max: 100,
      step: 10,
      cooldownMs: 0,
      latencyTargetMs: 1_000
    }
    assert.strictEqual(ResourceController.decide(limit, 50, { ...idle, errorRate: 0.5 }, undefined, 0)?.to, 40)
    assert.strictEqual(ResourceController.decide(limit, 50, { ...idle, latencyP95Ms: 5_000 }, undefined, 0)?.to, 40)
    assert.strictEqual(ResourceController.decide(limit, 8, { ...idle, errorRate: 0.5 }, undefined, 0)?.to, 5)
    assert.strictEqual(ResourceController.decide(limit, 50, busy, undefined, 0)?.to, 60)
    assert.isUndefined(ResourceController.decide(limit, 50, idle, undefined, 0))
  })
})

describe("ResourceController.make", () => {
  it.effect("applies steps through live Config, within bounds, once per cooldown, with an event", () =>
    Effect.gen(function* () {
      const config = yield* Config.Config
      const events = yield* Events.Events
      const controller = yield* ResourceController.make({
        config,
        events,
        knobs: [pool, { path: "optimization.workers", kind: "capacity", min: 1, max: 3, step: 1, cooldownMs: 10_000 }],
        signals: () => Effect.succeed(busy)
      })
      const first = yield* controller.step
      assert.deepStrictEqual(
        first.map((a) => [a.path, a.from, a.to]),
        [
          ["providers.default.poolSize", 4, 8],
          ["optimization.workers", 2, 3]
        ]
      )
      assert.strictEqual(yield* config.get("providers.default.poolSize"), 8)
      // Inside both cooldowns: nothing.
      assert.strictEqual((yield* controller.step).length, 0)
      yield* TestClock.adjust("30 seconds")
      const later = yield* controller.step
      // The pool reaches its max; the workers are at theirs already.
      assert.deepStrictEqual(
        later.map((a) => [a.path, a.to]),
        [["providers.default.poolSize", 10]]
      )
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* controller.step).length, 0)
      assert.strictEqual(yield* config.get("providers.default.poolSize"), 10)
      const adjusted = yield* Events.queryOf(ServicesEvents.ResourceAdjusted)
      assert.strictEqual(adjusted.length, 3)
      assert.include(adjusted[0]!.data.reason, "queueing")
    }).pipe(
      Effect.provide(Layer.merge(Config.layerTest({ providers: { default: { poolSize: 4 } } }), Events.layerTest))
    )
  )

  it.effect("an unusable knob is a typed error", () =>
    Effect.gen(function* () {
      const config = yield* Config.Config
      const error = yield* Effect.flip(
        ResourceController.make({ config, knobs: [{ ...pool, min: 5, max: 2 }], signals: () => Effect.succeed(busy) })
      )
      assert.strictEqual(error._tag, "ObserveInvalidInput")
      assert.include(error.message, "min <= max")
    }).pipe(Effect.provide(Config.layerTest({})))
  )
})
