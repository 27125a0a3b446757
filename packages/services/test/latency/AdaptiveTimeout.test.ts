import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { AdaptiveTimeout } from "../../src/index.js"

const settings = { minSamples: 4, windowSize: 10, floorMs: 50, capMs: 1_000 }
const p95x2 = { quantile: 0.95, multiplier: 2 }

describe("AdaptiveTimeout", () => {
  it("has no deadline before minSamples, then clamp(quantile * k, floor, cap) over the newest window", () => {
    const t = AdaptiveTimeout.make(settings)
    for (const ms of [100, 100, 100]) t.record("a", ms)
    assert.isUndefined(t.deadline("a", p95x2))
    t.record("a", 200)
    assert.strictEqual(t.quantile("a", 0.95), 200)
    assert.strictEqual(t.deadline("a", p95x2), 400)
    assert.strictEqual(t.deadline("a", { quantile: 0.5, multiplier: 2 }), 200)
    // The floor and the cap.
    for (let i = 0; i < 10; i++) t.record("fast", 1)
    assert.strictEqual(t.deadline("fast", p95x2), 50)
    for (let i = 0; i < 10; i++) t.record("slow", 900)
    assert.strictEqual(t.deadline("slow", p95x2), 1_000)
    // The window keeps the newest 10: ten fast samples push the slow ones out.
    for (let i = 0; i < 10; i++) t.record("slow", 100)
    assert.strictEqual(t.deadline("slow", p95x2), 200)
    assert.strictEqual(t.samples("slow"), 10)
    // Keys are independent; bad samples are ignored.
    t.record("b", Number.NaN)
    t.record("b", -1)
    assert.strictEqual(t.samples("b"), 0)
    // A smaller window keeps the newest samples.
    t.reconfigure({ ...settings, windowSize: 4 })
    t.record("a", 300)
    assert.strictEqual(t.samples("a"), 4)
    assert.strictEqual(t.quantile("a", 0), 100)
  })

  it.effect("timeout records latencies through the Clock and fails past the adaptive deadline", () =>
    Effect.gen(function* () {
      const t = AdaptiveTimeout.make({ ...settings, floorMs: 1 })
      const call = (ms: number) =>
        AdaptiveTimeout.timeout(t, "m", p95x2, Effect.as(Effect.sleep(`${ms} millis`), ms), {
          onTimeout: (deadline) => `timed out at ${deadline}`
        })
      for (let i = 0; i < 4; i++) {
        const fiber = yield* Effect.fork(call(100))
        yield* TestClock.adjust("100 millis")
        assert.strictEqual(yield* Fiber.join(fiber), 100)
      }
      assert.strictEqual(t.quantile("m", 0.95), 100)
      const late = yield* Effect.fork(Effect.flip(call(500)))
      yield* TestClock.adjust("200 millis")
      assert.strictEqual(yield* Fiber.join(late), "timed out at 200")
      // A fallback applies while the key is too new.
      const fresh = yield* Effect.fork(
        Effect.flip(
          AdaptiveTimeout.timeout(t, "new", p95x2, Effect.sleep("1 second"), {
            fallbackMs: 300,
            onTimeout: (deadline) => deadline
          })
        )
      )
      yield* TestClock.adjust("300 millis")
      assert.strictEqual(yield* Fiber.join(fresh), 300)
    })
  )
})
