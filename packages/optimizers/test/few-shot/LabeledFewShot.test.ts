import { Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as LabeledFewShot from "../../src/few-shot/LabeledFewShot.js"
import * as Optimizer from "../../src/Optimizer.js"
import { arithmetic, cot, metric, recordingSim } from "../support/sim.js"

const data = arithmetic({ seed: 5, train: 10, dev: 0 })

describe("LabeledFewShot", () => {
  it.effect("gives every predictor a seeded sample of k training examples, with no LM call", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const student = cot()
      const a = yield* Optimizer.compile(LabeledFewShot.make({ k: 4 }), student, {
        trainset: data.train,
        metric,
        seed: 1
      })
      const b = yield* Optimizer.compile(LabeledFewShot.make({ k: 4 }), student, {
        trainset: data.train,
        metric,
        seed: 1
      })
      const c = yield* Optimizer.compile(LabeledFewShot.make({ k: 4 }), student, {
        trainset: data.train,
        metric,
        seed: 2
      })
      const demos = Module.demos(a.program)["predict"]!
      assert.strictEqual(demos.length, 4)
      assert.isTrue(demos.every((d) => data.train.some((t) => Equal.equals(t, d))))
      assert.strictEqual(new Set(demos.map((d) => String(d.get("question")))).size, 4)
      assert.deepStrictEqual(Module.dumpState(a.program), Module.dumpState(b.program))
      assert.notDeepEqual(Module.dumpState(a.program), Module.dumpState(c.program))
      assert.strictEqual(Module.demos(student)["predict"]!.length, 0)
      assert.strictEqual(requests.length, 0)
      assert.strictEqual(a.report.lmCalls, 0)
      const all = yield* Optimizer.compile(LabeledFewShot.make({ k: 50 }), student, { trainset: data.train, metric })
      assert.strictEqual(Module.demos(all.program)["predict"]!.length, data.train.length)
      const first = yield* Optimizer.compile(LabeledFewShot.make({ k: 3, sample: false }), student, {
        trainset: data.train,
        metric
      })
      assert.isTrue(Module.demos(first.program)["predict"]!.every((d, i) => Equal.equals(d, data.train[i]!)))
      const bad = yield* Effect.flip(
        Optimizer.compile(LabeledFewShot.make({ k: -1 }), student, { trainset: data.train, metric })
      )
      assert.strictEqual(bad._tag, "OptimizerConfigError")
    }).pipe(Effect.provide(layer))
  })
})
