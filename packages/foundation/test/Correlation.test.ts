import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Correlation from "../src/Correlation.js"

describe("Correlation", () => {
  it("makeId gives prefixed ids, unique over many calls", () => {
    const ids = new Set(Array.from({ length: 20_000 }, () => Correlation.makeId()))
    assert.strictEqual(ids.size, 20_000)
    assert.match(Correlation.makeId("opt"), /^opt_[0-9a-z]+$/)
  })

  it.effect("no id outside a request; the id of withCorrelationId inside (both call forms)", () =>
    Effect.gen(function* () {
      assert.isTrue(Option.isNone(yield* Correlation.current))
      assert.deepStrictEqual(yield* Correlation.withCorrelationId(Correlation.current, "req_a"), Option.some("req_a"))
      assert.deepStrictEqual(
        yield* Correlation.current.pipe(Correlation.withCorrelationId("req_b")),
        Option.some("req_b")
      )
      // The id is scoped: it does not leak out.
      assert.isTrue(Option.isNone(yield* Correlation.current))
    })
  )

  it.effect("propagates through nested effects, forked fibers and concurrent children", () =>
    Effect.gen(function* () {
      const seen = yield* Effect.gen(function* () {
        const nested = yield* Effect.flatMap(Effect.succeed(1), () => Correlation.current)
        const forked = yield* Effect.fork(Effect.flatMap(Effect.yieldNow(), () => Correlation.current))
        const daemon = yield* Effect.forkDaemon(Correlation.current)
        const all = yield* Effect.all([Correlation.current, Correlation.current], { concurrency: "unbounded" })
        const inner = yield* Correlation.current.pipe(Correlation.withCorrelationId("req_inner"))
        const afterInner = yield* Correlation.current
        return { nested, forked: yield* Fiber.join(forked), daemon: yield* Fiber.join(daemon), all, inner, afterInner }
      }).pipe(Correlation.withCorrelationId("req_outer"))
      assert.deepStrictEqual(seen.nested, Option.some("req_outer"))
      assert.deepStrictEqual(seen.forked, Option.some("req_outer"))
      assert.deepStrictEqual(seen.daemon, Option.some("req_outer"))
      assert.deepStrictEqual(seen.all, [Option.some("req_outer"), Option.some("req_outer")])
      assert.deepStrictEqual(seen.inner, Option.some("req_inner"))
      assert.deepStrictEqual(seen.afterInner, Option.some("req_outer"))
    })
  )

  it.effect("ensureCorrelationId keeps the current id, or makes one shared by everything inside", () =>
    Effect.gen(function* () {
      const kept = yield* Correlation.ensureCorrelationId(Correlation.current).pipe(
        Correlation.withCorrelationId("req_k")
      )
      assert.deepStrictEqual(kept, Option.some("req_k"))
      const [a, b] = yield* Correlation.ensureCorrelationId(
        Effect.all([Correlation.current, Effect.flatMap(Effect.fork(Correlation.current), Fiber.join)])
      )
      assert.isTrue(Option.isSome(a))
      assert.deepStrictEqual(a, b)
      const fresh1 = yield* Correlation.currentOrMake
      const fresh2 = yield* Correlation.currentOrMake
      assert.notStrictEqual(fresh1, fresh2)
    })
  )

  it.effect("withParentId sets the parent id for the effect and its forks", () =>
    Effect.gen(function* () {
      const [direct, forked] = yield* Effect.all([
        Effect.flatMap(Effect.succeed(0), () => Correlation.current).pipe(Effect.zipRight(getParent)),
        Effect.flatMap(Effect.fork(getParent), Fiber.join)
      ]).pipe(Correlation.withParentId("step_1"))
      assert.deepStrictEqual(direct, Option.some("step_1"))
      assert.deepStrictEqual(forked, Option.some("step_1"))
      assert.isTrue(Option.isNone(yield* getParent))
    })
  )
})

const getParent = FiberRef.get(Correlation.currentParentId)
