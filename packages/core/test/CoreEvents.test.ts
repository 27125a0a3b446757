import { Correlation, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CoreEvents from "../src/CoreEvents.js"
import * as Predict from "../src/predict/Predict.js"
import * as Signature from "../src/signature/Signature.js"
import * as Fake from "./predict/FakeProvider.js"

const querySig = Signature.make("question -> query")

describe("CoreEvents", () => {
  it.effect("what a module call publishes decodes with the catalog's definitions, typed", () => {
    const ok = Fake.make(() => Fake.chat({ query: "q1" }))
    return Effect.gen(function* () {
      yield* Predict.forward(Predict.make(querySig), { question: "q" }).pipe(Correlation.withCorrelationId("req_ok"))
      const starts = yield* Events.queryOf(CoreEvents.ModuleExecutionStart, { correlationId: "req_ok" })
      const completes = yield* Events.queryOf(CoreEvents.ModuleExecutionComplete, { correlationId: "req_ok" })
      const requests = yield* Events.queryOf(CoreEvents.LMRequest, { correlationId: "req_ok" })
      assert.deepStrictEqual(
        starts.map((e) => e.data.module),
        ["Predict"]
      )
      const complete = completes[0]!
      const status: "ok" | "error" = complete.data.status
      assert.strictEqual(status, "ok")
      assert.strictEqual(complete.parentId, starts[0]!.id)
      assert.strictEqual(complete.data.lm_calls, 1)
      assert.isUndefined(complete.data.error)
      assert.strictEqual(requests.length, 1)
      assert.isFalse(requests[0]!.data.cache_hit)
      assert.isString(requests[0]!.data.model)
    }).pipe(Effect.provide(Layer.merge(ok.layer, Events.layerMemory)))
  })

  it.effect("a failed call's events decode too, with the error named", () => {
    const broken = Fake.make(() => "not parseable")
    return Effect.gen(function* () {
      yield* Effect.flip(
        Predict.forward(Predict.make(querySig), { question: "q" }).pipe(Correlation.withCorrelationId("req_bad"))
      )
      const [complete] = yield* Events.queryOf(CoreEvents.ModuleExecutionComplete, { correlationId: "req_bad" })
      assert.strictEqual(complete!.data.status, "error")
      assert.include(complete!.data.error ?? "", "AdapterParseError")
    }).pipe(Effect.provide(Layer.merge(broken.layer, Events.layerMemory)))
  })

  it("the step pairs are named <name>_start and <name>_complete", () => {
    for (const step of [CoreEvents.QuestionDecomposition, CoreEvents.SubQuestion, CoreEvents.Synthesis]) {
      assert.strictEqual(step.start.type, `${step.name}_start`)
      assert.strictEqual(step.complete.type, `${step.name}_complete`)
    }
  })
})
