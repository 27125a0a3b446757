import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { Module, Predict, Signature } from "@effect-dspy/core"
import { ModuleManager } from "@effect-dspy/services"
import { Routing } from "@effect-dspy/sim"
import { Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const route = (mode: string, extra = "") => `
version: 1
name: modes
inputs: { query: str }
steps:
  - id: route
    module: { signature: "query -> agent" }
    prompt: { template: "Which agent should handle: {query}", outputs: { agent: str } }
    inputs: { query: "{inputs.query}" }
    mode: ${mode}
${extra}
outputs: { agent: "{route.agent}" }
`

const agents: ReadonlyArray<unknown> = Routing.agents

const runOnce = (text: string, options: WorkflowEngine.RunOptions = {}) =>
  Effect.gen(function* () {
    const w = yield* Workflow.parse(text, "modes.yaml")
    const engine = yield* WorkflowEngine.WorkflowEngine
    return yield* engine.run(w, { query: "show me videos of volcanoes" }, options)
  })

describe("modes", () => {
  it.effect("traditional runs the prompt as written (a plain LM call); optimized runs the module", () =>
    Effect.gen(function* () {
      const traditional = yield* runOnce(route("traditional"))
      const t = traditional.steps[0]!
      assert.strictEqual(t.arm, "traditional")
      assert.strictEqual(t.mode, "traditional")
      assert.strictEqual(t.lmCalls, 1)
      // The simulated LM does not solve routing from a plain prompt: the reply is not an agent name.
      assert.notInclude(agents, traditional.outputs["agent"])
      const optimized = yield* runOnce(route("optimized"))
      assert.strictEqual(optimized.steps[0]!.arm, "optimized")
      assert.include(agents, optimized.outputs["agent"])
    }).pipe(Effect.provide(Runtime.layer()))
  )

  it.effect("the run's mode overrides the steps'", () =>
    Effect.gen(function* () {
      const result = yield* runOnce(route("traditional"), { mode: "optimized" })
      assert.strictEqual(result.steps[0]!.arm, "optimized")
    }).pipe(Effect.provide(Runtime.layer()))
  )

  it.effect("hybrid routes by the step's traffic policy: a split, a canary, a bandit", () =>
    Effect.gen(function* () {
      const all = yield* runOnce(route("hybrid", "    traffic: { split: 1 }"))
      assert.strictEqual(all.steps[0]!.arm, "optimized")
      assert.strictEqual(all.steps[0]!.reason, "weighted")
      const none = yield* runOnce(route("hybrid", "    traffic: { split: 0 }"))
      assert.strictEqual(none.steps[0]!.arm, "traditional")
      const canary = yield* runOnce(route("hybrid", "    traffic: { canary: 1, minSamples: 5 }"))
      assert.strictEqual(canary.steps[0]!.reason, "canary")
      assert.strictEqual(canary.steps[0]!.arm, "optimized")
      // A bandit learns from rewards: the optimized arm earns 1, the traditional 0.
      const arms: Array<string> = []
      for (let i = 0; i < 30; i++) {
        const r = yield* runOnce(route("hybrid", "    traffic: { bandit: thompson }"), {
          runId: `bandit-${i}`,
          // A valid agent name earns 1 (the module's answers), the plain prompt's free text 0.
          reward: (_step, outputs) => (agents.includes(outputs["agent"]) ? 1 : 0)
        })
        assert.strictEqual(r.steps[0]!.reason, "bandit")
        arms.push(r.steps[0]!.arm!)
      }
      const lastTen = arms.slice(-10).filter((a) => a === "optimized").length
      assert.isAtLeast(lastTen, 8)
    }).pipe(Effect.provide(Runtime.layer()))
  )

  it.effect("evaluation serves one arm and records both; past the cost cap the shadow is skipped", () =>
    Effect.gen(function* () {
      const text = `
version: 1
name: evaluation
inputs: { query: str }
steps:
  - id: first
    module: { signature: "query -> agent" }
    prompt: { template: "Which agent should handle: {query}", outputs: { agent: str } }
    inputs: { query: "{inputs.query}" }
    mode: evaluation
    evaluation: { maxCostUsd: 0.0000001 }
  - id: second
    module: { signature: "query -> agent" }
    prompt: { template: "Which agent, again: {query}", outputs: { agent: str } }
    inputs: { query: "{inputs.query}" }
    mode: evaluation
    evaluation: { maxCostUsd: 0.0000001 }
outputs: { agent: "{first.agent}" }
`
      const result = yield* runOnce(text)
      const [first, second] = result.steps
      assert.strictEqual(first!.arm, "traditional")
      assert.strictEqual(first!.reason, "shadow")
      assert.strictEqual(first!.shadow!.arm, "optimized")
      assert.isTrue(first!.shadow!.success)
      assert.include(agents, first!.shadow!.outputs!["agent"])
      assert.isAbove(first!.shadow!.costUsd, 0)
      // Served: the traditional arm's output.
      assert.strictEqual(result.outputs["agent"], first!.outputs!["agent"])
      assert.strictEqual(second!.shadow!.skipped, "cost_cap")
      assert.isUndefined(second!.shadow!.outputs)
    }).pipe(Effect.provide(Runtime.layer()))
  )

  it.effect("evaluation runs the shadow alongside the served arm; a failing shadow never fails the step", () =>
    Effect.gen(function* () {
      // Each arm takes 1 s on the (test) clock: run one after the other the step would take 2 s.
      const slow = Module.make({
        name: "slow",
        parameters: { p: Predict.make(Signature.make("query -> agent")) },
        forward: (_p, given: { readonly query: string }) =>
          Effect.as(Effect.sleep("1 second"), { agent: `seen: ${given.query}` })
      })
      yield* Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("slow", slow))
      const text = (shadowFails: boolean) => `
version: 1
name: concurrent
inputs: { query: str }
steps:
  - id: s
    module: { ref: slow }
${shadowFails ? '    prompt: { template: "Count: {query}", outputs: { agent: "list[int]" } }\n' : ""}    inputs: { query: "{inputs.query}" }
    mode: evaluation
    evaluation: { serve: optimized }
outputs: { agent: "{s.agent}" }
`
      const fiber = yield* Effect.fork(runOnce(text(false)))
      yield* TestClock.adjust("5 seconds")
      const result = yield* Fiber.join(fiber)
      const step = result.steps[0]!
      assert.strictEqual(step.arm, "optimized")
      assert.strictEqual(step.shadow!.arm, "traditional")
      assert.isTrue(step.shadow!.success)
      assert.deepStrictEqual(step.shadow!.outputs, { agent: "seen: show me videos of volcanoes" })
      assert.strictEqual(step.shadow!.timeMs, 1000)
      // Concurrent: the step took as long as one arm.
      assert.strictEqual(step.timeMs, 1000)

      // The shadow (the traditional prompt) fails to parse; the served arm's result stands.
      const failing = yield* Effect.fork(runOnce(text(true)))
      yield* TestClock.adjust("5 seconds")
      const served = yield* Fiber.join(failing)
      const s = served.steps[0]!
      assert.isTrue(s.success)
      assert.strictEqual(served.outputs["agent"], "seen: show me videos of volcanoes")
      assert.isFalse(s.shadow!.success)
      assert.isString(s.shadow!.error)
      assert.strictEqual(s.attempts, 1)
    }).pipe(Effect.provide(Runtime.layer()))
  )
})
