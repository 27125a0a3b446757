import { Evaluate, type Example } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Feedback from "../../src/Feedback.js"
import * as GEPA from "../../src/evolutionary/GEPA.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric } from "../support/sim.js"

/** Exact match with the feedback a person would write: right, or what was expected instead of what came. */
const feedbackMetric: Feedback.Metric<Example.Any, Evaluate.AnyPrediction> = (example, prediction) =>
  metric(example, prediction)
    ? { score: 1, feedback: "Correct." }
    : {
        score: 0,
        feedback: `Wrong answer: expected ${String(example.get("answer"))}, got ${String(prediction.get("answer"))}.`
      }

/**
 * A random-mutation proposer: the same reflection LM, temperature and prompt, shown the current instruction
 * and the examples' inputs (so it knows the task) but neither the outputs nor the feedback: its rewrites
 * are mutations blind to what went wrong.
 */
const blind: GEPA.InstructionProposer = (input) =>
  GEPA.reflect({ ...input, records: input.records.map((r) => ({ inputs: r.inputs, outputs: {}, feedback: "" })) })

const SEEDS = Array.from({ length: 10 }, (_, i) => i)
const BUDGET = 300

describe("GEPA's reflection reads the feedback", () => {
  it.effect(
    "reflection beats a random-mutation proposer by >= 3 points on the same metric-call budget (mean over 10 LM seeds)",
    () =>
      Effect.gen(function* () {
        const data = arithmetic({ seed: 11, train: 60, dev: 200 })
        const valset = data.train.slice(30)
        const trainset = data.train.slice(0, 30)
        const runOnce = (seed: number, proposer: GEPA.InstructionProposer | undefined) =>
          Effect.gen(function* () {
            const { program, report } = yield* Optimizer.compile(
              GEPA.make({
                maxMetricCalls: BUDGET,
                metric: feedbackMetric,
                ...(proposer === undefined ? {} : { instructionProposer: proposer })
              }),
              cot(),
              { trainset, valset, metric, seed, concurrency: 16 }
            )
            const details = report.details as unknown as GEPA.Details
            assert.isAtMost(details.metricCalls, BUDGET)
            const dev = yield* Evaluate.run({ devset: data.dev, program, metric, concurrency: 16 })
            return dev.score
          }).pipe(Effect.provide(SimLM.layer({ seed })))
        const reflective: Array<number> = []
        const random: Array<number> = []
        for (const seed of SEEDS) {
          reflective.push(yield* runOnce(seed, undefined))
          random.push(yield* runOnce(seed, blind))
        }
        const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
        console.log(JSON.stringify({ reflective, random, gain: mean(reflective) - mean(random) }))
        assert.isAtLeast(mean(reflective), mean(random) + 3)
      }),
    300_000
  )
})
