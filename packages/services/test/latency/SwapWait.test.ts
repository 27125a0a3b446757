import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { ModuleManager, TestRuntime } from "../../src/index.js"

/** Requests a swap, lets it reach the actor (not yet applied), then executes the module: which version served? */
const executeWhileSwapLands = Effect.gen(function* () {
  const modules = yield* ModuleManager.ModuleManager
  yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
  const swap = yield* Effect.fork(modules.swap("qa", { instructions: { self: "Answer briefly." } }))
  yield* Effect.yieldNow()
  const execution = yield* modules.execute("qa", { question: "What is 2 + 2?" })
  const swapped = yield* Fiber.join(swap)
  return { served: execution.version, swapped: swapped.version }
})

describe("a bounded wait for a swap about to land (latency.swapWaitMs)", () => {
  it.effect("an execution arriving while a swap is in flight is served by the new version", () =>
    Effect.gen(function* () {
      const { served, swapped } = yield* executeWhileSwapLands
      assert.strictEqual(swapped, 2)
      assert.strictEqual(served, 2)
    }).pipe(Effect.provide(TestRuntime.layer({ config: { latency: { swapWaitMs: 500 } } })))
  )

  it.effect("without it (the default), the version being replaced serves", () =>
    Effect.gen(function* () {
      const { served, swapped } = yield* executeWhileSwapLands
      assert.strictEqual(swapped, 2)
      assert.strictEqual(served, 1)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
