/**
 * The simulated LM's calibration and its probes, measured with `Evaluate` through the real modules and
 * adapters on arithmetic: for each of 10 seeds (data split and LM seed), 300 dev examples; each figure is the
 * mean accuracy over the seeds (with `sd` and `n`). Configurations: Predict; ChainOfThought (the baseline);
 * ChainOfThought with 4 answer-only labelled demos, with 4 bootstrapped demos (worked reasoning), and with
 * those plus the task's canonical instruction; then the probes of docs/simulated-lm.md: nonsense containing
 * the rewarded phrases, negated strategies, a paraphrase the proposer never writes, trivial, duplicated and
 * wrong demos. Targets are those of the simulated LM's design (issue 11).
 */
import { ChainOfThought, Evaluate, Example, Module, Predict, Signature } from "@effect-dspy/core"
import { Arithmetic, Probes, SimLM, SimTask } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Bench } from "../Harness.js"

const SEEDS = Array.from({ length: 10 }, (_, i) => i + 1)
const DEV = 300

type DemoSet = "none" | "labeled" | "bootstrapped" | "trivial" | "duplicate" | "wrong"

const configurations: ReadonlyArray<
  readonly [metric: string, kind: "predict" | "cot", demos: DemoSet, instruction: string | undefined, target: string]
> = [
  ["predict", "predict", "none", undefined, "35-45 %"],
  ["chain_of_thought", "cot", "none", undefined, "50-55 %"],
  ["cot_4_labeled_demos", "cot", "labeled", undefined, "< cot_4_bootstrapped_demos"],
  ["cot_4_bootstrapped_demos", "cot", "bootstrapped", undefined, "68-76 %"],
  ["best_instruction", "cot", "bootstrapped", Probes.canonical, "82-90 %"],
  ["nonsense_keywords", "cot", "none", Probes.nonsense, "<= chain_of_thought + 2"],
  ["negated_instruction", "cot", "none", Probes.negated, "<= chain_of_thought + 1"],
  ["paraphrase_instruction", "cot", "none", Probes.paraphrase, ">= 80% of the canonical instruction's gain"],
  ["trivial_demos", "cot", "trivial", undefined, "<= cot_4_bootstrapped_demos - 5"],
  ["duplicate_demos", "cot", "duplicate", undefined, "<= cot_4_bootstrapped_demos - 5"],
  ["wrong_demos", "cot", "wrong", undefined, "< chain_of_thought"]
]

const toExample = (d: Probes.Demo) =>
  Example.make(d.reasoning === undefined ? { question: d.question, answer: d.answer } : { ...d })

const bench: Bench = {
  name: "calibration",
  description: `simulated LM calibration and probes on arithmetic, measured with Evaluate (${SEEDS.length} seeds x ${DEV} dev examples)`,
  run: async (report) => {
    const signature = Signature.make("question -> answer: int")
    const scores = new Map<string, Array<number>>()
    for (const seed of SEEDS) {
      const { train, dev } = SimTask.splits(Arithmetic.task, { seed, train: 20, dev: DEV, test: 0 })
      const devset = dev.map((e) => Example.make(e).withInputs("question"))
      const sets = Probes.demoSets(train)
      for (const [metric, kind, demoSet, instruction] of configurations) {
        let program = (kind === "predict" ? Predict.make(signature) : ChainOfThought.make(signature)) as Module.Any
        if (demoSet !== "none") {
          program = Either.getOrThrow(Module.withDemos(program, { predict: sets[demoSet].map(toExample) }))
        }
        if (instruction !== undefined) {
          program = Either.getOrThrow(Module.withInstructions(program, { predict: instruction }))
        }
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
          }).pipe(Effect.provide(SimLM.layer({ seed })))
        )
        scores.set(metric, [...(scores.get(metric) ?? []), result.score])
      }
    }
    for (const [metric, , , , target] of configurations) {
      const xs = scores.get(metric)!
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1))
      report({ bench: "calibration", metric, value: mean, unit: "%", target, sd, n: xs.length })
    }
  }
}

export default bench
