import { Evaluate, Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as BootstrapFewShot from "../../src/few-shot/BootstrapFewShot.js"
import * as RandomSearch from "../../src/few-shot/BootstrapFewShotWithRandomSearch.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, recordingSim } from "../support/sim.js"

// Fixed seeds: the dataset (seed 0), the simulated LM (seed 0), the optimizer (seed 0).
// The dev split is 400 examples so that a 15-point margin is far outside the noise (standard error ~2.4 points).
const data = arithmetic({ seed: 0, train: 90, dev: 400 })
const trainset = data.train.slice(0, 30)
const valset = data.train.slice(30)

const score = (program: Module.Program) =>
  Effect.map(
    Evaluate.run({ devset: data.dev, program: program as Module.Any, metric, concurrency: 16 }),
    (r) => r.score
  )

describe("BootstrapFewShot and random search raise ChainOfThought's score on arithmetic", () => {
  it.effect(
    "bootstrap: from about 50-55% to at least 70% on 400 dev examples; random search at least as good",
    () =>
      Effect.gen(function* () {
        const student = cot()
        const baseline = yield* score(student)
        const bootstrapped = yield* Optimizer.compile(BootstrapFewShot.make(), student, {
          trainset,
          metric,
          concurrency: 8
        })
        const after = yield* score(bootstrapped.program)
        const search = yield* Optimizer.compile(RandomSearch.make({ numCandidatePrograms: 4 }), student, {
          trainset,
          valset,
          metric,
          concurrency: 8
        })
        const searched = yield* score(search.program)
        // Plain bootstrap scored on the search's valset: the search includes it as a candidate (seed -1), so
        // its best valset score is at least that; on the dev split both are well above the baseline.
        const plainOnVal = yield* Effect.map(
          Evaluate.run({ devset: valset, program: bootstrapped.program as Module.Any, metric, concurrency: 16 }),
          (r) => r.score
        )
        assert.isAtLeast(baseline, 45)
        assert.isAtMost(baseline, 60)
        assert.isAtLeast(after, 70)
        assert.isAtLeast(search.report.bestScore!, plainOnVal)
        assert.isAtLeast(searched, 70)
        assert.strictEqual(search.report.trials.length, 4 + 3)
        assert.strictEqual(Module.demos(student)["predict"]!.length, 0)
      }).pipe(Effect.provide(recordingSim().layer)),
    60_000
  )
})
