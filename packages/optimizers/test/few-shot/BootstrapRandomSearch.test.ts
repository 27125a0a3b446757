import { Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as RandomSearch from "../../src/few-shot/BootstrapFewShotWithRandomSearch.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, recordingSim } from "../support/sim.js"

const data = arithmetic({ seed: 9, train: 10, dev: 8 })
const settings = { numCandidatePrograms: 3, maxBootstrappedDemos: 3, maxLabeledDemos: 4 }

interface CandidateDetails {
  readonly seed: number
  readonly kind: string
  readonly maxBootstrappedDemos: number | null
  readonly demos: { readonly predict: number }
}

describe("BootstrapFewShotWithRandomSearch", () => {
  it.effect(
    "builds zero-shot, labeled, unshuffled bootstrap, then N seeded candidates; the best on the valset wins",
    () =>
      Effect.gen(function* () {
        const { program, report } = yield* Optimizer.compile(RandomSearch.make(settings), cot(), {
          trainset: data.train,
          valset: data.dev,
          metric,
          concurrency: 4
        })
        assert.deepStrictEqual(
          report.trials.map((t) => t.id),
          ["seed -3", "seed -2", "seed -1", "seed 0", "seed 1", "seed 2"]
        )
        const details = report.trials.map((t) => t.details as unknown as CandidateDetails)
        assert.deepStrictEqual(
          details.map((d) => d.kind),
          ["zero-shot", "labeled", "bootstrap", "bootstrap-shuffled", "bootstrap-shuffled", "bootstrap-shuffled"]
        )
        assert.strictEqual(details[0]!.demos.predict, 0)
        assert.strictEqual(details[1]!.demos.predict, 4)
        assert.strictEqual(details[2]!.maxBootstrappedDemos, 3)
        for (const d of details.slice(3)) {
          assert.isTrue(d.maxBootstrappedDemos! >= 1 && d.maxBootstrappedDemos! <= 3)
          assert.strictEqual(d.demos.predict, 4)
        }
        const scores = report.trials.map((t) => t.score)
        const best = Math.max(...scores)
        assert.strictEqual(report.bestScore, best)
        assert.strictEqual(report.baselineScore, scores[0])
        // Ties go to the first candidate with the best score (strictly greater replaces).
        const winner = details[scores.indexOf(best)]!
        assert.strictEqual(Module.demos(program)["predict"]!.length, winner.demos.predict)
        const rescored = yield* Effect.map(
          Optimizer.compile(RandomSearch.make({ ...settings, numCandidatePrograms: 0 }), cot(), {
            trainset: data.train,
            valset: data.dev,
            metric
          }),
          (c) => c.report.trials.map((t) => t.score)
        )
        assert.deepStrictEqual(rescored, scores.slice(0, 3))
      }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("with a budget, candidates run in order and the first one cut short ends the search", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const { program, report } = yield* Optimizer.compile(RandomSearch.make(settings), cot(), {
        trainset: data.train,
        metric,
        concurrency: 2,
        budget: { maxLmCalls: 25 }
      })
      assert.isTrue(report.budgetExhausted)
      // Zero-shot and labeled are scored in full (10 calls each); the unshuffled bootstrap runs out.
      assert.deepStrictEqual(
        report.trials.map((t) => t.id),
        ["seed -3", "seed -2"]
      )
      assert.isAtMost(requests.length, 25 + 2 - 1)
      const best = Math.max(...report.trials.map((t) => t.score))
      assert.strictEqual(report.bestScore, best)
      const winner = report.trials.find((t) => t.score === best)!
      assert.strictEqual(Module.demos(program)["predict"]!.length, winner.id === "seed -3" ? 0 : 4)
    }).pipe(Effect.provide(layer))
  })

  it.effect("candidates run at once but LM work stays within the run's concurrency bound", () => {
    const { layer, flight } = recordingSim()
    return Effect.gen(function* () {
      yield* Optimizer.compile(RandomSearch.make(settings), cot(), { trainset: data.train, metric, concurrency: 3 })
      assert.isAtMost(flight.max, 3)
      assert.isAtLeast(flight.max, 2)
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "scores on the trainset without a valset; stopAtScore stops early; same result for concurrency 1 and 8",
    () => {
      const { layer, requests } = recordingSim()
      return Effect.gen(function* () {
        const stopped = yield* Optimizer.compile(RandomSearch.make({ ...settings, stopAtScore: 0 }), cot(), {
          trainset: data.train,
          metric,
          concurrency: 8
        })
        assert.strictEqual(stopped.report.trials.length, 1)
        // Zero-shot: one evaluation over the trainset (the default valset), one call per example.
        assert.strictEqual(requests.length, data.train.length)
        const run = (concurrency: number) =>
          Optimizer.compile(RandomSearch.make(settings), cot(), { trainset: data.train, metric, seed: 4, concurrency })
        const one = yield* run(1)
        const eight = yield* run(8)
        assert.deepStrictEqual(Module.dumpState(one.program), Module.dumpState(eight.program))
        assert.deepStrictEqual(
          one.report.trials.map((t) => t.score),
          eight.report.trials.map((t) => t.score)
        )
        const bad = yield* Effect.flip(
          Optimizer.compile(RandomSearch.make({ ...settings, minNumSamples: 9 }), cot(), {
            trainset: data.train,
            metric
          })
        )
        assert.strictEqual(bad._tag, "OptimizerConfigError")
      }).pipe(Effect.provide(layer))
    }
  )
})
