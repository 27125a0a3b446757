/**
 * Every event the application publishes has a typed definition in ServicesEvents and decodes with it.
 */
import { Example } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ModuleManager, OptimizationCoordinator, ServicesEvents, TestRuntime } from "../src/index.js"

const trainset = [
  Example.make({ question: "What is 2 + 3?", answer: "5" }).withInputs("question"),
  Example.make({ question: "What is 4 + 4?", answer: "8" }).withInputs("question")
]

describe("ServicesEvents", () => {
  it.effect("what a module's life and an optimization publish is typed: each event decodes with its definition", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
      yield* modules.rollback("qa")
      yield* coordinator.await(
        (yield* coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", trainset })).id
      )
      yield* modules.remove("qa")

      const defined = new Set<string>(ServicesEvents.all.map((d) => d.type))
      const recorded = yield* Events.query({})
      const ours = recorded.filter((e) => defined.has(e.type))
      for (const type of [
        "service_started",
        "application_started",
        "module_created",
        "module_swapped",
        "module_rolled_back",
        "module_removed",
        "optimization_queued"
      ]) {
        assert.isTrue(
          ours.some((e) => e.type === type),
          `a ${type} event`
        )
      }
      assert.isTrue(ours.some((e) => e.type === "optimization_swapped" || e.type === "optimization_rejected"))
      // Decoding checks each event's data against its definition (a field missing or mistyped fails).
      for (const definition of ServicesEvents.all) {
        yield* Events.queryOf(definition as unknown as Events.Definition<string, unknown, Events.Data>)
      }
      const [swapped] = yield* Events.queryOf(ServicesEvents.ModuleSwapped)
      assert.deepStrictEqual(swapped!.data, { module_id: "qa", from_version: 1, to_version: 2 })
      const [rolledBack] = yield* Events.queryOf(ServicesEvents.ModuleRolledBack)
      assert.strictEqual(rolledBack!.data.restored_version, 1)
    }).pipe(Effect.provide(TestRuntime.layer({ config: { optimization: { swapMargin: 0 } } })))
  )
})
