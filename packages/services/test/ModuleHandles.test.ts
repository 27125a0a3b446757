import { ChainOfThought, Module, Predict, Prediction } from "@effect-dspy/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ModuleManager, TestRuntime } from "../src/index.js"

describe("ModuleManager typed handles", () => {
  it.effect("a spec module's handle types execute's inputs and output by its signature", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const qa = yield* modules.create({ id: "qa", kind: "chain_of_thought", signature: "question -> answer: int" })
      const { output, version } = yield* modules.execute(qa, { question: "What is 2 + 3?" })
      // Before: `output: unknown`, to be cast by hand.
      expectTypeOf(output.get("answer")).toEqualTypeOf<number>()
      expectTypeOf(output.get("reasoning")).toEqualTypeOf<string>()
      assert.strictEqual(version, 1)
      assert.isTrue(Prediction.isPrediction(output))
      assert.strictEqual(typeof output.get("answer"), "number")
      assert.strictEqual(typeof output.get("reasoning"), "string")
      const plain = yield* modules.create({ id: "plain", kind: "predict", signature: "question -> answer" })
      const direct = yield* ModuleManager.execute(plain, { question: "Who?" })
      expectTypeOf(direct.output.get("answer")).toEqualTypeOf<string>()
      // @ts-expect-error: the handle checks the inputs
      yield* Effect.flip(modules.execute(qa, { prompt: "What is 2 + 3?" }))
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("a registered program's handle types its output; ids still work, untyped", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      const qa = ChainOfThought.make("question -> answer: int")
      const custom = Module.make({
        name: "Doubled",
        parameters: { qa },
        forward: (p, inputs: { readonly n: number }) =>
          Effect.map(p.qa({ question: `What is ${inputs.n} + ${inputs.n}?` }), (prediction) =>
            prediction.extend({ n: inputs.n })
          )
      })
      const registered = yield* modules.register("doubled", custom)
      const execution = yield* modules.execute(registered, { n: 4 })
      expectTypeOf(execution.output.get("n")).toEqualTypeOf<number>()
      expectTypeOf(execution.output.get("answer")).toEqualTypeOf<number>()
      assert.strictEqual(execution.output.get("n"), 4)
      assert.strictEqual(typeof execution.output.get("answer"), "number")
      // A handle made from an id and the program's type, as a service that did not register it would.
      const later = ModuleManager.handle<typeof custom>("doubled")
      const again = yield* modules.execute(later, { n: 5 })
      assert.strictEqual(again.output.get("n"), 5)
      const bare = yield* modules.register("bare", Predict.make("question -> answer: float"))
      expectTypeOf(
        (yield* modules.execute(bare, { question: "1.5 + 1?" })).output.get("answer")
      ).toEqualTypeOf<number>()
      // Backwards compatible: an id gives an untyped execution.
      const untyped = yield* modules.execute("doubled", { n: 6 })
      expectTypeOf(untyped.output).toEqualTypeOf<unknown>()
      assert.strictEqual((untyped.output as Prediction.AnyPrediction).get("n"), 6)
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
