/**
 * The traffic's early stop: `drain` stops sending, gives the requests in flight a grace period, and counts those
 * still running then as failed (`Interrupted`), so nothing is lost (on the TestClock; nothing here waits).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Traffic from "../src/Traffic.js"

const questions = [{ question: "1 + 1?", answer: 2 }]

describe("Traffic.drain", () => {
  it.scoped("lets requests in flight finish within the grace period", () =>
    Effect.gen(function* () {
      const traffic = yield* Traffic.start({
        execute: () => Effect.sleep("300 millis"),
        hot: [],
        fresh: questions,
        hotShare: 0,
        ratePerSecond: 10,
        initialPhase: "p"
      })
      yield* TestClock.adjust("250 millis")
      const drained = yield* Effect.fork(traffic.drain("1 second"))
      yield* TestClock.adjust("400 millis")
      yield* Fiber.join(drained)
      const { total } = yield* traffic.report
      assert.strictEqual(total.sent, 3)
      assert.strictEqual(total.answered, 3)
      assert.strictEqual(total.failed, 0)
      assert.strictEqual((yield* traffic.counts).inFlight, 0)
    })
  )

  it.scoped("interrupts what is still running after the grace period and counts it as failed, Interrupted", () =>
    Effect.gen(function* () {
      const traffic = yield* Traffic.start({
        execute: () => Effect.never,
        hot: [],
        fresh: questions,
        hotShare: 0,
        ratePerSecond: 10,
        initialPhase: "p"
      })
      yield* TestClock.adjust("250 millis")
      const drained = yield* Effect.fork(traffic.drain("1 second"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(drained)
      const { total } = yield* traffic.report
      assert.strictEqual(total.sent, 3)
      assert.strictEqual(total.answered, 0)
      assert.strictEqual(total.failed, 3)
      assert.deepStrictEqual(total.errors, { Interrupted: 3 })
      assert.strictEqual((yield* traffic.counts).inFlight, 0)
    })
  )
})
