import { ChatAdapter, Evaluate, Example, Module, Predict, Signature, TwoStepAdapter } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Prompt from "../src/Prompt.js"
import * as SimLM from "../src/SimLM.js"
import * as Task from "../src/Task.js"

const QA = Signature.make("question -> answer: int", { instructions: "Solve the word problem." })

describe("the simulated LM answers TwoStepAdapter calls", () => {
  it("reads the main call's fields, instructions, demos and request", () => {
    const demo = Example.make({ question: "What is 1 + 1?", answer: 2 }).withInputs("question")
    const parsed = Prompt.parse(TwoStepAdapter.format(QA, [demo], { question: "What is 2 + 3?" }).messages)
    assert.strictEqual(parsed.format, "twostep")
    assert.deepStrictEqual(
      parsed.inputs.map((f) => f.name),
      ["question"]
    )
    assert.deepStrictEqual(
      parsed.outputs.map((f) => [f.name, f.typeText]),
      [["answer", "int"]]
    )
    assert.strictEqual(parsed.instructions, "Solve the word problem.")
    assert.deepStrictEqual(parsed.request, { question: "What is 2 + 3?" })
    assert.deepStrictEqual(parsed.demos, [{ inputs: { question: "What is 1 + 1?" }, outputs: { answer: "2" } }])
  })

  it.effect("a free-text answer, then the extraction: scores as the ChatAdapter does", () =>
    Effect.gen(function* () {
      const devset = Task.generate(Arithmetic.task, 13, 40).map((e) => Example.make(e).withInputs("question"))
      const twoStep = Predict.make(QA, { adapter: TwoStepAdapter.make() })
      const one = yield* Module.call(twoStep, { question: devset[0]!.get("question") })
      assert.strictEqual(one.lmCalls, 2)
      assert.isNumber(one.get("answer"))
      const score = (program: typeof twoStep) =>
        Effect.map(
          Evaluate.run({
            devset,
            program: (e: (typeof devset)[number]) => Module.call(program, { question: e.get("question") }),
            metric: (e, p) => p.get("answer") === e.get("answer"),
            maxErrors: 1
          }),
          (r) => r.score
        )
      const viaTwoStep = yield* score(twoStep)
      const viaChat = yield* score(Predict.make(QA, { adapter: ChatAdapter.make({ jsonFallback: false }) }))
      assert.isAbove(viaTwoStep, 0)
      assert.isBelow(Math.abs(viaTwoStep - viaChat), 20, `two-step ${viaTwoStep}, chat ${viaChat}`)
    }).pipe(Effect.provide(SimLM.layer({ seed: 4 })))
  )
})
