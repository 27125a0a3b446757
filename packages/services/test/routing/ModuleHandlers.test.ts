import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ModuleHandlers, ModuleManager, Router, TestRuntime } from "../../src/index.js"

/** The `answer` field of a module's output (a prediction). */
const answerOf = (output: unknown): unknown => (output as { readonly get: (field: string) => unknown }).get("answer")

describe("ModuleHandlers (a router over managed modules)", () => {
  it.scoped("routes to modules by id and to versions of one module, learning from rewards", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "terse", kind: "predict", signature: "question -> answer" })
      yield* modules.create({ id: "chatty", kind: "chain_of_thought", signature: "question -> answer" })
      const byModule = yield* Router.make({
        id: "by-module",
        handlers: ModuleHandlers.modules(modules, ["terse", "chatty"]),
        segment: () => "all",
        algorithm: { _tag: "EpsilonGreedy", epsilon: 0.5, decay: 0.95, floor: 0.02 },
        seed: 4
      })
      const served: Array<string> = []
      for (let i = 0; i < 60; i++) {
        const routed = yield* byModule.route({ question: `What is ${i} + 1?` })
        // Each handler really executed its module.
        assert.strictEqual(routed.output.moduleId, routed.handler)
        assert.isString(answerOf(routed.output.output))
        served.push(routed.handler)
        yield* byModule.reward(routed.id, routed.handler === "chatty" ? 1 : 0)
      }
      assert.isAbove(served.slice(-20).filter((h) => h === "chatty").length, 15)

      yield* modules.swap("terse", { instructions: { self: "Answer with a number only." } })
      const handlers = ModuleHandlers.versions(modules, "terse", [1, 2])
      assert.deepStrictEqual(Object.keys(handlers), ["v1", "v2"])
      const byVersion = yield* Router.make({ id: "by-version", handlers, segment: () => "all", seed: 2 })
      const routed = yield* byVersion.route({ question: "What is 2 + 2?" })
      assert.include(["v1", "v2"], routed.handler)
      assert.isString(answerOf(routed.output))
      const missing = ModuleHandlers.versions(modules, "terse", [9])
      const error = yield* Effect.flip(missing.v9!({ question: "?" }))
      assert.strictEqual((error as { readonly _tag: string })._tag, "ModuleVersionNotFound")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
