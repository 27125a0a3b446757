/**
 * The simulated LM's calibration, measured with `Evaluate` through the real modules and adapters: accuracy on
 * 1,000 arithmetic dev examples of Predict, ChainOfThought, ChainOfThought with 4 correct demos, and with the
 * best instruction as well, against the ranges the simulated LM's design targets (35-45%, 50-55%, 70-75%,
 * 85-90%: the same range as DSPy's published gains with real LMs).
 */
import { ChainOfThought, Evaluate, Example, Module, Predict, Signature } from "@effect-dspy/core"
import { Arithmetic, SimLM, SimTask } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Bench } from "../Harness.js"

const BEST_INSTRUCTION =
  "Solve the word problem. Think step by step. Write down the intermediate values after each operation. Double-check each calculation before answering."

const bench: Bench = {
  name: "calibration",
  description: "simulated LM calibration on arithmetic, measured with Evaluate (1,000 dev examples)",
  run: async (report) => {
    const { train, dev } = SimTask.splits(Arithmetic.task, { seed: 1, train: 20, dev: 1000, test: 0 })
    const devset = dev.map((e) => Example.make(e).withInputs("question"))
    const signature = Signature.make("question -> answer: int")
    const demos = train
      .slice(0, 4)
      .map((e) => Example.make({ question: e.question, reasoning: "Work through each operation.", answer: e.answer }))
    const cot = ChainOfThought.make(signature)
    const withDemos = Either.getOrThrow(Module.withDemos(cot, { predict: demos }))
    const withInstruction = Either.getOrThrow(Module.withInstructions(withDemos, { predict: BEST_INSTRUCTION }))
    const configurations = [
      ["predict", Predict.make(signature), "35-45 %"],
      ["chain_of_thought", cot, "50-55 %"],
      ["chain_of_thought_4_demos", withDemos, "70-75 %"],
      ["chain_of_thought_4_demos_best_instruction", withInstruction, "85-90 %"]
    ] as const
    for (const [metric, program, target] of configurations) {
      const result = await Effect.runPromise(
        Evaluate.run({
          devset,
          program: (x: (typeof devset)[number]) =>
            (Module.call as (p: unknown, i: unknown) => Effect.Effect<Evaluate.AnyPrediction>)(
              program,
              x.inputs().toRecord()
            ),
          metric: Evaluate.answerExactMatch,
          concurrency: 32
        }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
      )
      report({ bench: "calibration", metric, value: result.score, unit: "%", target })
    }
  }
}

export default bench
