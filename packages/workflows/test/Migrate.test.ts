import { Extraction, Routing, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Migrate, Workflow, WorkflowEngine } from "../src/index.js"
import * as Runtime from "./support/runtime.js"

const fixture = path.join(__dirname, "fixtures", "seed001-pipeline.yaml")
const request = "summarize the key points of the quarterly report"
const example = SimTask.generate(Extraction.task, 3, 1)[0]!

describe("Migrate", () => {
  it("proposes a module spec from a template: fields from its variables, outputs from what it parses", () => {
    const p = Migrate.propose(
      "route",
      {
        template: "Route {inputs.request} (from {who}) to {inputs.request}",
        outputs: { agent: "str", score: "float" }
      },
      { who: "{inputs.user}" }
    )
    assert.strictEqual(p.signature, "request, who -> agent, score: float")
    assert.deepStrictEqual(p.inputs, { request: "{inputs.request}", who: "{inputs.user}" })
    assert.strictEqual(p.template, "Route {request} (from {who}) to {request}")
    assert.strictEqual(p.instructions, "Route the request (from the who) to the request")
  })

  it("a line diff marks removed and added lines", () => {
    assert.strictEqual(Migrate.diff("a\nb\nc", "a\nx\nc"), "  a\n+ x\n- b\n  c")
  })

  it.effect("turns the seed-001 fixture into a runnable workflow whose evaluation mode records both outputs", () =>
    Effect.gen(function* () {
      const migration = yield* Migrate.fromFile(fixture)
      assert.deepStrictEqual(
        migration.proposals.map((p) => [p.step, p.signature]),
        [
          ["route_request", "query -> agent"],
          ["extract_order", "note -> customer"]
        ]
      )
      assert.include(migration.diff, "+     mode: evaluation")
      assert.include(migration.diff, "+     module:")
      const migrated = yield* Workflow.parse(migration.text, "migrated.yaml")
      const engine = yield* WorkflowEngine.WorkflowEngine
      const inputs = { query: request, note: String(example["text"]) }

      // Evaluation: the prompt serves, the module runs in the shadow; both outputs recorded.
      const evaluated = yield* engine.run(migrated, inputs)
      for (const step of evaluated.steps) {
        assert.strictEqual(step.mode, "evaluation")
        assert.strictEqual(step.arm, "traditional")
        assert.isDefined(step.outputs)
        assert.strictEqual(step.shadow!.arm, "optimized")
        assert.isTrue(step.shadow!.success)
        assert.isDefined(step.shadow!.outputs)
      }
      const route = evaluated.steps.find((s) => s.step === "route_request")!
      assert.include(Routing.agents as ReadonlyArray<unknown>, route.shadow!.outputs!["agent"])

      // Optimized: the module steps serve.
      const optimized = yield* engine.run(migrated, inputs, { mode: "optimized" })
      assert.include(Routing.agents as ReadonlyArray<unknown>, optimized.outputs["agent"])
      // The simulated LM reads the note's customer (right or, with its error model, a plausible wrong name).
      assert.isString(optimized.outputs["customer"])
      assert.include(String(example["text"]), String(optimized.outputs["customer"]).split(" ")[0])
      assert.isTrue(optimized.steps.every((s) => s.arm === "optimized"))
    }).pipe(Effect.provide(Runtime.layer()))
  )

  it.effect("reads a folder of prompt templates as a workflow and migrates it", () =>
    Effect.gen(function* () {
      const migration = yield* Migrate.fromTemplates(path.join(__dirname, "fixtures", "templates"), "support")
      assert.deepStrictEqual(
        migration.proposals.map((p) => p.signature),
        ["request -> agent", "agent, request -> summary"]
      )
      const w = yield* Workflow.parse(migration.text, "support.yaml")
      assert.deepStrictEqual(Object.keys(w.inputs), ["request"])
      assert.strictEqual(w.nodes.get("summary")!.kind, "module")
      assert.isFalse(fs.existsSync(path.join(__dirname, "fixtures", "templates", "support.yaml")))
    })
  )
})
