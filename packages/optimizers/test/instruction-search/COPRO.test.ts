import { Evaluate, LM, Module, Predict, type Provider } from "@effect-dspy/core"
import { Arithmetic, SimConcepts, SimLM } from "@effect-dspy/sim"
import { Config } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as COPRO from "../../src/instruction-search/COPRO.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, predict, promptText, recordingSim, signature } from "../support/sim.js"

const isProposal = (text: string) => text.includes("proposed_instruction")
const helpful = (text: string) => SimConcepts.read(Arithmetic.inventory, text).helpful.size > 0

const scoresIn = (text: string): Array<number> =>
  [...text.matchAll(/Resulting Score #(\d+): (-?\d+(?:\.\d+)?)/g)].map((m) => Number(m[2]))

/** A prompt model answering `content` to every request. */
const fixedPromptModel = (content: string) =>
  LM.make({
    provider: {
      ...SimLM.make(),
      name: "fixed",
      complete: (request) =>
        Effect.succeed({
          id: "fixed",
          model: request.model,
          choices: Array.from({ length: request.n ?? 1 }, (_, index) => ({
            index,
            content,
            finishReason: "stop" as const
          })),
          usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
          costUsd: 0,
          cacheHit: false
        })
    },
    model: "fixed-1"
  })

/** A prompt model that always proposes the same instruction and prefix (for dedup). */
const constantPromptModel = Effect.gen(function* () {
  const sim = SimLM.make()
  const provider: Provider.Provider = {
    ...sim,
    name: "constant",
    complete: (request) =>
      Effect.succeed({
        id: "constant",
        model: request.model,
        choices: Array.from({ length: request.n ?? 1 }, (_, index) => ({
          index,
          content:
            "[[ ## proposed_instruction ## ]]\nThink step by step.\n\n[[ ## proposed_prefix_for_output_field ## ]]\nAnswer:\n\n[[ ## completed ## ]]",
          finishReason: "stop" as const
        })),
        usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
        costUsd: 0,
        cacheHit: false
      })
  }
  return yield* LM.make({ provider, model: "constant-1" })
})

describe("COPRO", () => {
  it.effect(
    "raises ChainOfThought beyond its zero-shot score by finding helpful instructions",
    () =>
      Effect.gen(function* () {
        const data = arithmetic({ seed: 5, train: 150, dev: 150 })
        // The student says what its task is, as a user's signature does: the prompt model sees only the
        // instructions (no examples), and the simulated LM, like a real one, cannot tell an arithmetic task
        // from "Given the fields `question`, produce the fields `answer`."
        const student = Either.getOrThrow(
          Module.withInstructions(cot(), { predict: "Solve the arithmetic word problem." })
        )
        const { program, report } = yield* Optimizer.compile(COPRO.make({ breadth: 6, depth: 3 }), student, {
          trainset: data.train,
          metric,
          concurrency: 16
        })
        const chosen = program.parameters.predict.signature.instructions
        assert.isTrue(helpful(chosen), chosen)
        assert.isAbove(report.bestScore!, report.baselineScore! + 10)
        // The chosen instruction also helps on held-out examples.
        const before = yield* Evaluate.run({ devset: data.dev, program: student, metric, concurrency: 16 })
        const after = yield* Evaluate.run({ devset: data.dev, program, metric, concurrency: 16 })
        assert.isAbove(after.score, before.score + 5, `${before.score} -> ${after.score}`)
        // DSPy's call count for breadth 6, depth 3, one predictor: 3 proposal calls + 3 x 6 x 150 evaluations.
        assert.strictEqual(report.lmCalls, 3 + 3 * 6 * 150)
      }).pipe(Effect.provide(SimLM.layer({ seed: 1 }))),
    60_000
  )

  it.effect("proposes breadth-1 candidates first, then breadth per level; prompts show attempts worst to best", () => {
    const { layer, requests } = recordingSim({ seed: 2 })
    return Effect.gen(function* () {
      const data = arithmetic({ seed: 1, train: 5, dev: 0 })
      const { report } = yield* Optimizer.compile(COPRO.make({ breadth: 4, depth: 3 }), predict(), {
        trainset: data.train,
        metric,
        concurrency: 4
      })
      const proposals = requests.filter((r) => isProposal(promptText(r)))
      assert.deepStrictEqual(
        proposals.map((r) => r.n),
        [3, 4, 4]
      )
      assert.isTrue(proposals.every((r) => r.temperature === 1.4))
      // One predictor: each level scores only its newest candidates (3 + original, then 4, then 4).
      assert.strictEqual(report.trials.length, 4 + 4 + 4)
      assert.strictEqual(report.lmCalls, 3 + 12 * 5)
      assert.deepStrictEqual(
        report.trials.map((t) => t.details["depth"]),
        [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
      )
      // The original instruction is the last candidate of level 0, and the baseline.
      assert.strictEqual(report.trials[3]!.details["instruction"], signature.instructions)
      assert.strictEqual(report.baselineScore, report.trials[3]!.score)
      // Level 1's prompt: the level-0 candidates, worst to best, with their scores.
      const second = promptText(proposals[1]!)
      const shown = scoresIn(second)
      const level0 = report.trials.slice(0, 4).map((t) => t.score)
      assert.isTrue(shown.length >= 1 && shown.length <= 4)
      assert.deepStrictEqual(
        shown,
        [...shown].sort((a, b) => a - b)
      )
      assert.strictEqual(shown[shown.length - 1], Math.max(...level0))
      assert.include(second, "Instruction #1:")
      assert.include(second, "Prefix #1:")
      // Every evaluated candidate is reported once, best first.
      const candidates = report.details["candidates"] as ReadonlyArray<COPRO.Candidate>
      const scores = candidates.map((c) => c.score)
      assert.deepStrictEqual(
        scores,
        [...scores].sort((a, b) => b - a)
      )
      assert.strictEqual(report.bestScore, scores[0])
    }).pipe(Effect.provide(layer))
  })

  it.effect("does coordinate ascent over predictors, fixing each at its best before the next", () =>
    Effect.gen(function* () {
      const two = Module.make({
        name: "Two",
        parameters: { first: Predict.make(signature), second: Predict.make(signature) },
        forward: (p, inputs: { question: string }) => Effect.flatMap(p.first(inputs), () => p.second(inputs))
      })
      const data = arithmetic({ seed: 1, train: 4, dev: 0 })
      const { program, report } = yield* Optimizer.compile(COPRO.make({ breadth: 3, depth: 2 }), two, {
        trainset: data.train,
        metric,
        concurrency: 4
      })
      const ids = report.trials.map((t) => t.id)
      // Depth 0: 3 candidates for each predictor in order; depth 1: all 3 + 3 candidates so far, again in order.
      assert.deepStrictEqual(ids.slice(0, 6), ["d0/p0/c0", "d0/p0/c1", "d0/p0/c2", "d0/p1/c0", "d0/p1/c1", "d0/p1/c2"])
      assert.strictEqual(ids.length, 6 + 12)
      assert.isTrue(ids.slice(6, 12).every((id) => id.startsWith("d1/p0/")))
      const first = report.trials.slice(0, 3)
      const bestFirst = first.reduce((a, b) => (b.score > a.score ? b : a))
      // While predictor 1 is scored, predictor 0 is fixed at its best level-0 candidate.
      for (const t of report.trials.slice(3, 6)) {
        const instructions = t.details["instructions"] as Record<string, string>
        assert.strictEqual(instructions["first"], bestFirst.details["instruction"])
      }
      const best = report.trials.reduce((a, b) => (b.score > a.score ? b : a))
      assert.strictEqual(report.bestScore, best.score)
      assert.deepStrictEqual(Module.instructions(program), best.details["instructions"])
    }).pipe(Effect.provide(SimLM.layer({ seed: 3 })))
  )

  it.effect("deduplicates repeated candidates", () =>
    Effect.gen(function* () {
      const promptModel = yield* constantPromptModel
      const data = arithmetic({ seed: 1, train: 4, dev: 0 })
      const { report } = yield* Optimizer.compile(COPRO.make({ breadth: 4, depth: 2, promptModel }), predict(), {
        trainset: data.train,
        metric,
        concurrency: 4
      })
      const candidates = report.details["candidates"] as ReadonlyArray<COPRO.Candidate>
      assert.strictEqual(candidates.length, 2)
      assert.sameMembers(
        candidates.map((c) => c.instruction),
        ["Think step by step.", signature.instructions]
      )
      // The prompt model's calls are not the task model's: 2 levels x 4 candidates x 4 examples on the task LM.
      assert.strictEqual(report.trials.length, 8)
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it("renders attempts worst to best, keeping the top breadth", () => {
    const c = (instruction: string, score: number): COPRO.Candidate => ({
      path: "self",
      instruction,
      prefix: "Answer:",
      score,
      depth: 0
    })
    const lines = COPRO.attempts([c("a", 10), c("b", 30), c("c", 20), c("d", 5)], 3)
    assert.deepStrictEqual(lines, [
      "Instruction #1: a",
      "Prefix #1: Answer:",
      "Resulting Score #1: 10",
      "Instruction #2: c",
      "Prefix #2: Answer:",
      "Resulting Score #2: 20",
      "Instruction #3: b",
      "Prefix #3: Answer:",
      "Resulting Score #3: 30"
    ])
  })

  it.effect("rejects breadth <= 1 with a typed error and reads its defaults from Config", () =>
    Effect.gen(function* () {
      const data = arithmetic({ seed: 1, train: 3, dev: 0 })
      const exit = yield* Effect.exit(
        Optimizer.compile(COPRO.make({ breadth: 1 }), predict(), { trainset: data.train, metric })
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "OptimizerConfigError")
      const configured = yield* COPRO.fromConfig({ depth: 2 }).pipe(
        Effect.provide(Config.layerTest({ optimization: { copro: { breadth: 3, depth: 5, initTemperature: 0.9 } } }))
      )
      assert.deepStrictEqual(
        { ...configured.settings },
        { breadth: 3, depth: 2, initTemperature: 0.9, promptModel: "task" }
      )
      const plain = yield* COPRO.fromConfig()
      assert.strictEqual(plain.settings["breadth"], 10)
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it.effect("stops at the budget and returns the best candidate scored so far", () =>
    Effect.gen(function* () {
      const data = arithmetic({ seed: 1, train: 6, dev: 0 })
      const { program, report } = yield* Optimizer.compile(COPRO.make({ breadth: 4, depth: 3 }), predict(), {
        trainset: data.train,
        metric,
        concurrency: 4,
        budget: { maxLmCalls: 40 }
      })
      assert.isTrue(report.budgetExhausted)
      assert.isTrue(report.details["stoppedByBudget"] as boolean)
      assert.isAtMost(report.lmCalls, 40 + 4)
      // Level 0 (4 candidates x 6 examples) finished, level 1 was cut short: only fully scored candidates count.
      const candidates = report.details["candidates"] as ReadonlyArray<COPRO.Candidate>
      assert.isAtLeast(candidates.length, 1)
      assert.isBelow(report.trials.length, 12)
      assert.isAtLeast(report.trials.length, 4)
      assert.isTrue(candidates.every((c) => c.depth <= 1))
      assert.strictEqual(program.signature.instructions, candidates[0]!.instruction)
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )

  it.effect("a prompt model whose answers cannot be read fails the run with a typed error", () =>
    Effect.gen(function* () {
      const promptModel = yield* fixedPromptModel("I would rather not say.")
      const data = arithmetic({ seed: 1, train: 3, dev: 0 })
      const exit = yield* Effect.exit(
        Optimizer.compile(COPRO.make({ breadth: 3, depth: 1, promptModel }), predict(), {
          trainset: data.train,
          metric
        })
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.strictEqual(error?._tag, "TooManyErrors")
      assert.include(error?.message ?? "", "COPRO's first proposal failed")
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  )
})
