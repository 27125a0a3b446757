import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Pool from "../src/Pool.js"

/** A resource factory that numbers its resources and records acquisitions and releases. */
const makeFactory = Effect.gen(function* () {
  const log = yield* Ref.make<ReadonlyArray<string>>([])
  let next = 0
  const acquire = Effect.acquireRelease(
    Effect.sync(() => ({ id: ++next })).pipe(Effect.tap((r) => Ref.update(log, (l) => [...l, `+${r.id}`]))),
    (r) => Ref.update(log, (l) => [...l, `-${r.id}`])
  )
  return { acquire, log: Ref.get(log) }
})

describe("Pool", () => {
  it.scoped("makes resources on demand up to size and reuses returned ones", () =>
    Effect.gen(function* () {
      const factory = yield* makeFactory
      const pool = yield* Pool.make("pool", { size: 2 }, factory.acquire)
      assert.strictEqual(yield* pool.use((r) => Effect.succeed(r.id)), 1)
      assert.strictEqual(yield* pool.use((r) => Effect.succeed(r.id)), 1)
      const ids = yield* Effect.all(
        [pool.use((r) => Effect.as(Effect.sleep(10), r.id)), pool.use((r) => Effect.as(Effect.sleep(10), r.id))],
        {
          concurrency: "unbounded"
        }
      ).pipe(
        Effect.fork,
        Effect.tap(() => TestClock.adjust(10)),
        Effect.flatMap(Fiber.join)
      )
      assert.sameMembers([...ids], [1, 2])
      assert.deepStrictEqual(yield* factory.log, ["+1", "+2"])
      assert.deepStrictEqual(yield* pool.stats, { total: 2, idle: 2, inUse: 0, waiting: 0 })
    })
  )

  it.scoped("overflow resources are released when returned", () =>
    Effect.gen(function* () {
      const factory = yield* makeFactory
      const pool = yield* Pool.make("pool-overflow", { size: 1, overflow: 1 }, factory.acquire)
      const a = yield* Effect.fork(pool.use(() => Effect.sleep(10)))
      const b = yield* Effect.fork(pool.use(() => Effect.sleep(20)))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* pool.stats, { total: 2, idle: 0, inUse: 2, waiting: 0 })
      yield* TestClock.adjust(10)
      yield* Fiber.join(a)
      // Two were out, one over size: the first returned is the overflow one and is released.
      assert.deepStrictEqual(yield* factory.log, ["+1", "+2", "-1"])
      yield* TestClock.adjust(10)
      yield* Fiber.join(b)
      assert.deepStrictEqual(yield* pool.stats, { total: 1, idle: 1, inUse: 0, waiting: 0 })
    })
  )

  it.scoped("a checkout waits at most checkoutTimeoutMs, then fails with PoolTimeout and leaves the queue", () =>
    Effect.gen(function* () {
      const factory = yield* makeFactory
      const pool = yield* Pool.make("pool-timeout", { size: 1, checkoutTimeoutMs: 500 }, factory.acquire)
      const holder = yield* Effect.fork(pool.use(() => Effect.sleep(1_000)))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(pool.use((r) => Effect.succeed(r.id)))
      yield* Effect.yieldNow()
      assert.strictEqual((yield* pool.stats).waiting, 1)
      yield* TestClock.adjust(499)
      assert.isTrue((yield* Fiber.poll(waiter))._tag === "None")
      yield* TestClock.adjust(1)
      const error = yield* Effect.flip(Fiber.join(waiter))
      assert.instanceOf(error, Pool.PoolTimeout)
      assert.strictEqual(error.timeoutMs, 500)
      assert.strictEqual((yield* pool.stats).waiting, 0)
      // A waiter whose timeout ends after the holder returns gets the returned resource.
      yield* TestClock.adjust(100)
      const second = yield* Effect.fork(pool.use((r) => Effect.succeed(r.id)))
      yield* TestClock.adjust(400)
      assert.strictEqual(yield* Fiber.join(second), 1)
      yield* Fiber.join(holder)
    })
  )

  it.scoped("an interrupted waiter leaks nothing", () =>
    Effect.gen(function* () {
      const factory = yield* makeFactory
      const pool = yield* Pool.make("pool-interrupt", { size: 1 }, factory.acquire)
      const holder = yield* Effect.fork(pool.use(() => Effect.sleep(100)))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(pool.use(() => Effect.void))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiter)
      assert.strictEqual((yield* pool.stats).waiting, 0)
      yield* TestClock.adjust(100)
      yield* Fiber.join(holder)
      assert.deepStrictEqual(yield* pool.stats, { total: 1, idle: 1, inUse: 0, waiting: 0 })
    })
  )

  it.scoped("an invalidated resource is released on return and replaced by a fresh one", () =>
    Effect.gen(function* () {
      const factory = yield* makeFactory
      const pool = yield* Pool.make("pool-invalidate", { size: 1 }, factory.acquire)
      yield* pool.use((r) => pool.invalidate(r))
      assert.deepStrictEqual(yield* factory.log, ["+1", "-1"])
      assert.strictEqual(yield* pool.use((r) => Effect.succeed(r.id)), 2)
      const idle = yield* pool.use((r) => Effect.succeed(r))
      yield* pool.invalidate(idle)
      assert.deepStrictEqual(yield* factory.log, ["+1", "-1", "+2", "-2"])
      assert.strictEqual((yield* pool.stats).total, 0)
    })
  )

  it.scoped("a failed acquire fails the checkout with its error and gives the slot back", () =>
    Effect.gen(function* () {
      let attempts = 0
      const acquire = Effect.suspend(() =>
        ++attempts === 1 ? Effect.fail("connect refused" as const) : Effect.succeed(attempts)
      )
      const pool = yield* Pool.make("pool-fail", { size: 1 }, acquire)
      assert.strictEqual(yield* Effect.flip(pool.use(Effect.succeed)), "connect refused")
      assert.strictEqual((yield* pool.stats).total, 0)
      assert.strictEqual(yield* pool.use(Effect.succeed), 2)
    })
  )

  it.scoped("resize live: more capacity serves a waiter at once; less releases idle surplus", () =>
    Effect.gen(function* () {
      const factory = yield* makeFactory
      const pool = yield* Pool.make("pool-resize", { size: 1 }, factory.acquire)
      const holder = yield* Effect.fork(pool.use(() => Effect.sleep(100)))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(pool.use((r) => Effect.succeed(r.id)))
      yield* Effect.yieldNow()
      yield* pool.resize({ size: 2 })
      assert.strictEqual(yield* Fiber.join(waiter), 2)
      yield* TestClock.adjust(100)
      yield* Fiber.join(holder)
      assert.strictEqual((yield* pool.stats).idle, 2)
      yield* pool.resize({ size: 1 })
      assert.deepStrictEqual(yield* pool.stats, { total: 1, idle: 1, inUse: 0, waiting: 0 })
      assert.strictEqual((yield* factory.log).filter((e) => e.startsWith("-")).length, 1)
      const invalid = yield* Effect.flip(pool.resize({ size: 0 }))
      assert.instanceOf(invalid, Pool.ProtectionSettingsInvalid)
    })
  )

  it.effect("closing the pool's scope releases idle resources, and in-use ones when returned", () =>
    Effect.gen(function* () {
      const factory = yield* makeFactory
      const scope = yield* Scope.make()
      const pool = yield* Pool.make("pool-close", { size: 2 }, factory.acquire).pipe(Scope.extend(scope))
      yield* pool.use(() => Effect.void)
      const inUseScope = yield* Scope.make()
      yield* Effect.all([pool.get, pool.get]).pipe(Scope.extend(inUseScope))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* factory.log, ["+1", "+2"])
      yield* Scope.close(inUseScope, Exit.void)
      assert.sameMembers([...(yield* factory.log)], ["+1", "+2", "-1", "-2"])
    })
  )
})
