import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fc from "fast-check"
import * as Bulkhead from "../src/Bulkhead.js"

describe("Bulkhead", () => {
  it.effect("runs maxConcurrent at once, queues maxQueued in FIFO order, rejects the rest", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make("bh", { maxConcurrent: 2, maxQueued: 2 })
      const order = yield* Ref.make<ReadonlyArray<number>>([])
      const task = (i: number) =>
        bulkhead.run(
          Effect.zipRight(
            Ref.update(order, (o) => [...o, i]),
            Effect.sleep(100)
          )
        )
      const fibers = yield* Effect.forEach([1, 2, 3, 4], (i) => Effect.fork(task(i)))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* bulkhead.stats, { running: 2, queued: 2 })
      const rejected = yield* Effect.flip(task(5))
      assert.instanceOf(rejected, Bulkhead.BulkheadFull)
      assert.strictEqual(rejected.maxConcurrent, 2)
      assert.deepStrictEqual(yield* Ref.get(order), [1, 2])
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(yield* Ref.get(order), [1, 2, 3, 4])
      yield* TestClock.adjust(100)
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(yield* bulkhead.stats, { running: 0, queued: 0 })
    })
  )

  it.effect("an interrupted waiter leaves the queue and leaks no slot", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make("bh-interrupt", { maxConcurrent: 1, maxQueued: 5 })
      const holder = yield* Effect.fork(bulkhead.run(Effect.sleep(100)))
      const waiter = yield* Effect.fork(bulkhead.run(Effect.succeed("never runs")))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* bulkhead.stats, { running: 1, queued: 1 })
      yield* Fiber.interrupt(waiter)
      assert.deepStrictEqual(yield* bulkhead.stats, { running: 1, queued: 0 })
      yield* Fiber.interrupt(holder)
      assert.deepStrictEqual(yield* bulkhead.stats, { running: 0, queued: 0 })
      assert.strictEqual(yield* bulkhead.run(Effect.succeed("runs")), "runs")
    })
  )

  it.effect("a failing or dying call gives its slot back", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make("bh-fail", { maxConcurrent: 1, maxQueued: 0 })
      yield* Effect.exit(bulkhead.run(Effect.fail("boom")))
      yield* Effect.exit(bulkhead.run(Effect.die("boom")))
      assert.strictEqual(yield* bulkhead.run(Effect.succeed(1)), 1)
    })
  )

  it.effect("reconfigure: a larger maxConcurrent starts waiters at once; invalid settings fail typed", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make("bh-reconfigure", { maxConcurrent: 1 })
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(bulkhead.run(Effect.sleep(100))))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* bulkhead.stats, { running: 1, queued: 2 })
      yield* bulkhead.reconfigure({ maxConcurrent: 3 })
      assert.deepStrictEqual(yield* bulkhead.stats, { running: 3, queued: 0 })
      yield* TestClock.adjust(100)
      yield* Effect.forEach(fibers, Fiber.join)
      const invalid = yield* Effect.flip(bulkhead.reconfigure({ maxConcurrent: 0 }))
      assert.instanceOf(invalid, Bulkhead.ProtectionSettingsInvalid)
      assert.include(invalid.message, "maxConcurrent")
    })
  )
})

interface Task {
  readonly startMs: number
  readonly durationMs: number
  readonly interruptAtMs: number | null
}

const taskArb: fc.Arbitrary<Task> = fc.record({
  startMs: fc.integer({ min: 0, max: 50 }),
  durationMs: fc.integer({ min: 1, max: 40 }),
  interruptAtMs: fc.option(fc.integer({ min: 0, max: 80 }), { nil: null })
})

describe("Bulkhead.tryRun", () => {
  it.effect("runs only when a slot is free and nobody waits, without queueing; the slot is given back", () =>
    Effect.gen(function* () {
      const b = yield* Bulkhead.make("try", { maxConcurrent: 1, maxQueued: 5 })
      assert.deepStrictEqual(yield* b.tryRun(Effect.succeed(1)), Option.some(1))
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(b.run(Deferred.await(gate)))
      const waiter = yield* Effect.fork(b.run(Effect.succeed("waited")))
      while (b.unsafeStats().queued < 1) yield* Effect.yieldNow()
      assert.isTrue(Option.isNone(yield* b.tryRun(Effect.succeed(2))))
      assert.deepStrictEqual(b.unsafeStats(), { running: 1, queued: 1 })
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(yield* Fiber.join(waiter), "waited")
      assert.strictEqual(yield* Effect.flip(b.tryRun(Effect.fail("boom"))), "boom")
      assert.deepStrictEqual(b.unsafeStats(), { running: 0, queued: 0 })
    })
  )
})

describe("Bulkhead (property)", () => {
  it("never runs more than maxConcurrent, and ends with nothing running or queued", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(taskArb, { minLength: 1, maxLength: 15 }),
        async (maxConcurrent, maxQueued, tasks) => {
          const program = Effect.gen(function* () {
            const bulkhead = yield* Bulkhead.make("bh-property", { maxConcurrent, maxQueued })
            let active = 0
            let peak = 0
            let completed = 0
            const body = (durationMs: number) =>
              Effect.acquireUseRelease(
                Effect.sync(() => {
                  active++
                  peak = Math.max(peak, active)
                }),
                () =>
                  Effect.zipRight(
                    Effect.sleep(durationMs),
                    Effect.sync(() => completed++)
                  ),
                () => Effect.sync(() => active--)
              )
            const fibers = yield* Effect.forEach(tasks, (task) =>
              Effect.fork(Effect.zipRight(Effect.sleep(task.startMs), Effect.exit(bulkhead.run(body(task.durationMs)))))
            )
            yield* Effect.forEach(tasks, (task, i) =>
              task.interruptAtMs === null
                ? Effect.void
                : Effect.fork(Effect.zipRight(Effect.sleep(task.interruptAtMs), Fiber.interrupt(fibers[i]!)))
            )
            yield* TestClock.adjust(2_000)
            yield* Effect.forEach(fibers, Fiber.await)
            const stats = yield* bulkhead.stats
            if (peak > maxConcurrent) throw new Error(`peak ${peak} over maxConcurrent ${maxConcurrent}`)
            if (stats.running !== 0 || stats.queued !== 0) throw new Error(`leaked: ${JSON.stringify(stats)}`)
            if (active !== 0) throw new Error(`${active} still active`)
            // Without interruptions, every task either completed or was rejected because the queue was full.
            if (
              tasks.every((t) => t.interruptAtMs === null) &&
              tasks.length <= maxConcurrent &&
              completed !== tasks.length
            ) {
              throw new Error(`only ${completed} of ${tasks.length} completed`)
            }
          })
          await Effect.runPromise(program.pipe(Effect.provide(TestContext.TestContext)))
        }
      ),
      { numRuns: 50 }
    )
  }, 60_000)
})
