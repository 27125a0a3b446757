import { Majority, Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ensemble from "../../src/composite/Ensemble.js"
import * as LabeledFewShot from "../../src/few-shot/LabeledFewShot.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, recordingSim } from "../support/sim.js"

// The simulated LM draws common random numbers (one draw per example): members disagree only where their
// prompts move an example across its draw, so the members differ in how many demos they show (1, 4, 8).
const data = arithmetic({ seed: 21, train: 12, dev: 30 })

const members = Effect.forEach([1, 2, 3], (seed) =>
  Effect.map(
    Optimizer.compile(LabeledFewShot.make({ k: [1, 4, 8][seed - 1]! }), cot(), { trainset: data.train, metric, seed }),
    (c) => c.program
  )
)

describe("Ensemble", () => {
  it.effect("runs every program and returns the majority answer (ties to the earliest)", () =>
    Effect.gen(function* () {
      const programs = yield* members
      const ensemble = yield* Ensemble.make(programs)
      assert.deepStrictEqual(
        Module.namedPredictors(ensemble).map((p) => p.path),
        ["programs[0].predict", "programs[1].predict", "programs[2].predict"]
      )
      let disagreements = 0
      for (const example of data.dev) {
        const individual = yield* Effect.forEach(programs, (p) => Optimizer.callProgram(p, example))
        const expected = Majority.majority(individual.map((p) => p.fields)).get("answer")
        const combined = yield* Ensemble.call(ensemble, example)
        assert.strictEqual(combined.get("answer"), expected)
        assert.strictEqual(
          combined.lmCalls,
          individual.reduce((n, p) => n + p.lmCalls, 0)
        )
        if (new Set(individual.map((p) => String(p.get("answer")))).size > 1) disagreements++
      }
      const first = yield* Ensemble.make(programs, { reduceFn: (ps) => ps[0]! })
      const example = data.dev[0]!
      assert.deepStrictEqual(
        (yield* Ensemble.call(first, example)).toRecord(),
        (yield* Optimizer.callProgram(programs[0]!, example)).toRecord()
      )
      // Save/load keeps each member's demos.
      const reloaded = Module.loadState(yield* Ensemble.make([cot(), cot(), cot()]), Module.dumpState(ensemble))
      assert.isTrue(reloaded._tag === "Right")
      if (reloaded._tag === "Right")
        assert.deepStrictEqual(Module.dumpState(reloaded.right), Module.dumpState(ensemble))
      // The members do disagree on some inputs, so the majority is exercised.
      assert.isAbove(disagreements, 0)
    }).pipe(Effect.provide(recordingSim().layer))
  )

  it.effect("with size, each call runs that many programs, the same ones for the same inputs", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const programs = yield* members
      const ensemble = yield* Ensemble.make(programs, { size: 2, seed: 5 })
      const example = data.dev[1]!
      requests.length = 0
      const a = yield* Ensemble.call(ensemble, example)
      assert.strictEqual(requests.length, 2)
      const firstPrompts = requests.map((r) => JSON.stringify(r.messages))
      requests.length = 0
      const b = yield* Ensemble.call(ensemble, example)
      assert.deepStrictEqual(
        requests.map((r) => JSON.stringify(r.messages)),
        firstPrompts
      )
      assert.deepStrictEqual(a.toRecord(), b.toRecord())
      const tooBig = yield* Effect.flip(Ensemble.make(programs, { size: 4 }))
      assert.strictEqual(tooBig._tag, "OptimizerConfigError")
      const none = yield* Effect.flip(Ensemble.make([]))
      assert.strictEqual(none.option, "programs")
    }).pipe(Effect.provide(layer))
  })
})
