import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Trace from "../../src/primitives/Trace.js"

const call = (path: string, x: number) => Trace.record({ predictorPath: path, inputs: { x }, outputs: { y: x * 2 } })

describe("Trace", () => {
  it.effect("collects calls made inside, including forked fibers", () =>
    Effect.gen(function* () {
      const { trace, value } = yield* Trace.traced(
        Effect.gen(function* () {
          yield* call("a", 1)
          yield* Effect.forEach([2, 3, 4], (x) => call("b", x), { concurrency: 3 })
          const fiber = yield* Effect.fork(call("c", 5))
          yield* fiber.await
          return "done"
        })
      )
      assert.strictEqual(value, "done")
      assert.deepStrictEqual(
        trace.map((e) => e.predictorPath),
        ["a", "b", "b", "b", "c"]
      )
      assert.deepStrictEqual(trace[0]!.outputs, { y: 2 })
    })
  )

  it.effect("is isolated: nested traces do not leak outward; record passes entries up", () =>
    Effect.gen(function* () {
      const outer = yield* Trace.traced(
        Effect.gen(function* () {
          yield* call("outer", 1)
          const inner = yield* Trace.traced(call("inner", 2))
          assert.deepStrictEqual(
            inner.trace.map((e) => e.predictorPath),
            ["inner"]
          )
          yield* Trace.record(...inner.trace)
          yield* Trace.untraced(call("hidden", 3))
        })
      )
      assert.deepStrictEqual(
        outer.trace.map((e) => e.predictorPath),
        ["outer", "inner"]
      )
    })
  )

  it.effect("records nothing outside a traced run; tracedExit keeps calls made before a failure", () =>
    Effect.gen(function* () {
      assert.isFalse(yield* Trace.isTracing)
      yield* call("nowhere", 1)
      const result = yield* Trace.tracedExit(Effect.zipRight(call("a", 1), Effect.fail("boom")))
      assert.isTrue(Exit.isFailure(result.exit))
      assert.strictEqual(result.trace.length, 1)
      const concurrent = yield* Effect.all([Trace.traced(call("x", 1)), Trace.traced(call("y", 1))], {
        concurrency: 2
      })
      assert.deepStrictEqual(
        concurrent.map((t) => t.trace.map((e) => e.predictorPath)),
        [["x"], ["y"]]
      )
    })
  )
})
