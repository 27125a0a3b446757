/**
 * Router <-> the real-time loop: a routed execution's feedback, given only through `Loop.feedback`, rewards the
 * router's decision (once: duplicate and updated feedback add nothing), and the router learns the better handler.
 */
import { Correlation } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Loop, ModuleHandlers, ModuleManager, Router, TestRuntime } from "../../src/index.js"

describe("Router rewarded by Loop.feedback", () => {
  it.scoped("learns the better of two modules from the loop's feedback alone", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const loop = yield* Loop.Loop
      yield* modules.create({ id: "terse", kind: "predict", signature: "question -> answer" })
      yield* modules.create({ id: "chatty", kind: "chain_of_thought", signature: "question -> answer" })
      const router = yield* Router.make({
        id: "by-feedback",
        handlers: ModuleHandlers.modules(modules, ["terse", "chatty"]),
        segment: () => "all",
        algorithm: { _tag: "EpsilonGreedy", epsilon: 0.5, decay: 0.95, floor: 0.02 },
        seed: 4
      })
      const served: Array<string> = []
      for (let i = 0; i < 60; i++) {
        const routed = yield* router.route({ question: `What is ${i} + 1?` })
        served.push(routed.handler)
        // The users like chatty's answers; the router hears it only through the loop.
        yield* loop.feedback({
          executionId: routed.output.executionId,
          outcome: { rating: routed.handler === "chatty" ? 1 : 0 }
        })
      }
      assert.isAbove(served.slice(-20).filter((h) => h === "chatty").length, 15)
      const rewardsOf = (stats: ReadonlyArray<Router.HandlerStats>) => stats.reduce((n, s) => n + s.rewards, 0)
      const before = (yield* router.stats)["all"]!
      assert.strictEqual(rewardsOf(before), 60)

      // Duplicate and updated feedback reward nothing more; feedback by correlation id rewards too.
      const routed = yield* router.route({ question: "What is 9 + 9?" }).pipe(Correlation.withCorrelationId("req_9"))
      const first = yield* loop.feedback({ correlationId: "req_9", outcome: { rating: 1 } })
      assert.strictEqual(first.status, "recorded")
      const again = yield* loop.feedback({ executionId: routed.output.executionId, outcome: { rating: 1 } })
      assert.strictEqual(again.status, "duplicate")
      const changed = yield* loop.feedback({ executionId: routed.output.executionId, outcome: { rating: 0 } })
      assert.strictEqual(changed.status, "updated")
      const after = (yield* router.stats)["all"]!
      assert.strictEqual(rewardsOf(after), 61)
      const handler = after.find((s) => s.handler === routed.handler)!
      const prior = before.find((s) => s.handler === routed.handler)!
      // The one reward is the first feedback's (1), not the update's (0).
      assert.closeTo(handler.meanReward! * handler.rewards, (prior.meanReward ?? 0) * prior.rewards + 1, 1e-9)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.scoped("a router restarted before the feedback came keeps its link: the loop's feedback still rewards it", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const loop = yield* Loop.Loop
      yield* modules.create({ id: "terse", kind: "predict", signature: "question -> answer" })
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "router-links-"))),
        (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
      )
      const make = Router.make({
        id: "links",
        handlers: ModuleHandlers.modules(modules, ["terse"]),
        segment: () => "all",
        filename: path.join(dir, "router.db")
      })
      const routed = yield* Effect.scoped(Effect.flatMap(make, (r) => r.route({ question: "What is 1 + 1?" })))
      // The router is gone (its in-memory link too); a new one on the same file takes the feedback.
      const router = yield* make
      yield* loop.feedback({ executionId: routed.output.executionId, outcome: { rating: 1 } })
      const [stats] = (yield* router.stats)["all"]!
      assert.deepStrictEqual([stats!.decisions, stats!.rewards, stats!.meanReward], [1, 1, 1])
      // Rewarded once: the decision's reward is stored, so a further restart links nothing.
      yield* Effect.scoped(Effect.flatMap(make, (r) => r.reward(routed.id, 1).pipe(Effect.flip)))
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
