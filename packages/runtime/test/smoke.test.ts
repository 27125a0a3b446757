import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as Fiber from "effect/Fiber"

it.effect("toolchain: TestClock drives sleeps", () =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(Effect.as(Effect.sleep("5 seconds"), 42))
    yield* TestClock.adjust("5 seconds")
    assert.strictEqual(yield* Fiber.join(fiber), 42)
  })
)
