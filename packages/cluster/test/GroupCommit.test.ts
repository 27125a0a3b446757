/**
 * Group commit: the items submitted within the window go in one write, those submitted while a write is on its
 * way in the next one, and each submit answers its own write's outcome.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as GroupCommit from "../src/internal/groupCommit.js"

describe("group commit", () => {
  it.effect("one write for the items of a window; the next ones wait for it and go together", () =>
    Effect.gen(function* () {
      const writes: Array<ReadonlyArray<number>> = []
      const gate = yield* Deferred.make<void>()
      const submit = GroupCommit.make(
        (batch: ReadonlyArray<number>) =>
          Effect.suspend(() => {
            writes.push(batch)
            return writes.length === 1 ? Deferred.await(gate) : Effect.void
          }).pipe(Effect.as(batch.length)),
        1
      )
      const first = yield* Effect.fork(Effect.all([1, 2, 3].map(submit), { concurrency: "unbounded" }))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(writes, [], "the write waits for the window")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(writes, [[1, 2, 3]])
      // Submitted while the first write is on its way: the next write, together.
      const second = yield* Effect.fork(Effect.all([4, 5].map(submit), { concurrency: "unbounded" }))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      assert.strictEqual(writes.length, 1)
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(first), [3, 3, 3], "each answered by its own write")
      // Written as soon as the first write ended (no window of their own: the clock has not moved).
      assert.deepStrictEqual(yield* Fiber.join(second), [2, 2])
      assert.deepStrictEqual(writes, [
        [1, 2, 3],
        [4, 5]
      ])
    })
  )

  it.effect("a failed write fails the submits it held, and the next window writes again", () =>
    Effect.gen(function* () {
      let calls = 0
      const submit = GroupCommit.make(
        (batch: ReadonlyArray<string>) =>
          Effect.suspend(() => (++calls === 1 ? Effect.fail(`down (${batch.join(",")})`) : Effect.succeed("ok"))),
        1
      )
      const failed = yield* Effect.fork(Effect.flip(Effect.all(["a", "b"].map(submit), { concurrency: "unbounded" })))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(failed), "down (a,b)")
      const next = yield* Effect.fork(submit("c"))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(next), "ok")
      assert.strictEqual(calls, 2)
    })
  )
})
