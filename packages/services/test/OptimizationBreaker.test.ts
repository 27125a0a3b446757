/**
 * The optimization breaker: while every LM provider's circuit is open, the OptimizationCoordinator holds its
 * queued jobs (an `optimization_paused` event says why) and dispatches them when a provider recovers.
 */
import { Example } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { ModuleManager, OptimizationCoordinator, ServicesEvents, TestRuntime } from "../src/index.js"

const trainset = [
  Example.make({ question: "What is 2 + 3?", answer: "5" }).withInputs("question"),
  Example.make({ question: "What is 4 + 4?", answer: "8" }).withInputs("question")
]

const config = {
  providers: { default: { kind: "simulated", maxRetries: 0 } },
  infrastructure: { circuitBreakers: { lm_provider_default: { failureThreshold: 2, recoveryTimeMs: 10_000 } } }
}

describe("Optimization breaker", () => {
  it.effect("holds queued jobs while every provider's circuit is open, and dispatches them once one recovers", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
      const sim = yield* TestRuntime.SimControl
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* sim.setFaults("default", { rates: { server_error: 1 } })
      for (let i = 0; i < 3; i++) yield* Effect.either(modules.execute("qa", { question: "What is 1 + 1?" }))

      const { id } = yield* coordinator.start({ moduleId: "qa", optimizer: "bootstrap_few_shot", trainset })
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* coordinator.status(id)).status, "queued")
      const [paused] = yield* Events.queryOf(ServicesEvents.OptimizationPaused, {})
      assert.include(paused!.data.reason, "circuit is open")
      assert.strictEqual(paused!.data.queued, 1)

      // The provider is back: after its recovery time, serving traffic's trial call closes the circuit.
      yield* sim.setFaults("default", TestRuntime.noFaults)
      yield* TestClock.adjust("10 seconds")
      yield* modules.execute("qa", { question: "What is 1 + 1?" })
      // The dispatcher checks again within a second.
      yield* TestClock.adjust("2 seconds")
      const job = yield* coordinator.await(id)
      assert.include(["swapped", "rejected"], job.status)
    }).pipe(Effect.provide(TestRuntime.layer({ config })))
  )
})
