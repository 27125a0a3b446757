import { ChainOfThought, Evaluate, Example, Signature } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Multihop from "../src/Multihop.js"
import * as SimLM from "../src/SimLM.js"
import * as Task from "../src/Task.js"

describe("Evaluate with modules on the simulated LM", () => {
  it.effect("evaluates a module on examples' inputs with the simulated LM", () =>
    Effect.gen(function* () {
      const devset = Task.generate(Multihop.task, 5, 20).map((e) => Example.make(e).withInputs("question"))
      const cot = ChainOfThought.make(Signature.make("question -> answer"))
      const result = yield* Evaluate.run({
        devset,
        program: cot,
        metric: Evaluate.answerExactMatch,
        concurrency: 4
      })
      const correct = result.results.filter((r) => r.score === 1).length
      assert.strictEqual(result.score, Evaluate.roundHalfEven((100 * correct) / 20))
      assert.isTrue(correct > 0 && correct < 20, `correct ${correct}`)
      assert.strictEqual(result.errors, 0)
      const noInputs = yield* Evaluate.run({
        devset: [Example.make({ question: "q", answer: "a" })],
        program: cot,
        metric: Evaluate.answerExactMatch
      })
      assert.strictEqual(noInputs.errors, 1)
      assert.include(noInputs.results[0]!.error ?? "", "withInputs")
    }).pipe(Effect.provide(SimLM.layer({ seed: 2 })))
  )
})
