/**
 * The runner's job workers: at most `size` runs at once, the waiting ones served in arrival order, a finished
 * run's worker handed to the next waiting one, and a waiting run that is interrupted leaves the queue (or passes
 * on the worker it was just handed).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as WorkerPool from "../src/internal/workerPool.js"

/** Yields until `check` holds (bounded: the forked fibers need a few turns). */
const until = (check: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100 && !check(); i++) yield* Effect.yieldNow()
    assert.isTrue(check(), "condition reached")
  })

describe("worker pool", () => {
  it.effect("runs at most `size` at once and serves the waiting runs in arrival order", () =>
    Effect.gen(function* () {
      const pool = yield* WorkerPool.make(2)
      const started: Array<number> = []
      const gates = yield* Effect.all(Array.from({ length: 5 }, () => Deferred.make<void>()))
      const fibers = yield* Effect.forEach(gates, (gate, i) =>
        Effect.fork(
          pool.withWorker(
            Effect.zipRight(
              Effect.sync(() => started.push(i)),
              Deferred.await(gate)
            )
          )
        )
      )
      yield* until(() => started.length === 2 && pool.waiting() === 3)
      assert.deepStrictEqual(started, [0, 1])
      assert.strictEqual(pool.free(), 0)
      // No run may jump the queue while others wait.
      assert.isTrue(Option.isNone(yield* pool.withWorkerIfAvailable(Effect.succeed("jumped"))))
      yield* Deferred.succeed(gates[1]!, undefined)
      yield* until(() => started.length === 3)
      assert.deepStrictEqual(started, [0, 1, 2], "the first waiting run got the worker")
      for (const gate of gates) yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(started, [0, 1, 2, 3, 4])
      assert.strictEqual(pool.free(), 2)
      assert.strictEqual(pool.waiting(), 0)
      assert.deepStrictEqual(yield* pool.withWorkerIfAvailable(Effect.succeed("ran")), Option.some("ran"))
    })
  )

  it.effect("a failed run gives its worker back", () =>
    Effect.gen(function* () {
      const pool = yield* WorkerPool.make(1)
      const failed = yield* Effect.flip(pool.withWorker(Effect.fail("boom")))
      assert.strictEqual(failed, "boom")
      assert.strictEqual(pool.free(), 1)
    })
  )

  it.effect("an interrupted waiting run leaves the queue; an interrupted running one frees its worker", () =>
    Effect.gen(function* () {
      const pool = yield* WorkerPool.make(1)
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(pool.withWorker(Deferred.await(gate)))
      const waiting = yield* Effect.fork(pool.withWorker(Effect.void))
      const last = yield* Effect.fork(pool.withWorker(Effect.succeed("last")))
      yield* until(() => pool.waiting() === 2)
      yield* Fiber.interrupt(waiting)
      assert.strictEqual(pool.waiting(), 1, "the interrupted run left the queue")
      yield* Fiber.interrupt(running)
      assert.strictEqual(yield* Fiber.join(last), "last")
      assert.strictEqual(pool.free(), 1)
      assert.strictEqual(pool.waiting(), 0)
    })
  )

  it.effect("a worker handed to a run interrupted at that moment goes on to the next", () =>
    Effect.gen(function* () {
      const pool = yield* WorkerPool.make(1)
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(pool.withWorker(Deferred.await(gate)))
      const handed = yield* Effect.fork(pool.withWorker(Effect.never))
      const next = yield* Effect.fork(pool.withWorker(Effect.succeed("next")))
      yield* until(() => pool.waiting() === 2)
      // The running one ends (its worker is handed to `handed`), and `handed` is interrupted before it runs.
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(running)
      assert.strictEqual(pool.waiting(), 1)
      yield* Fiber.interrupt(handed)
      assert.strictEqual(yield* Fiber.join(next), "next")
      assert.strictEqual(pool.free(), 1)
    })
  )
})
