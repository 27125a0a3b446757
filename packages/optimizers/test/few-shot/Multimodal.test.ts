import { type Evaluate, Evaluate as Eval, Example, Media, Module, Predict, Signature } from "@effect-dspy/core"
import { SimTask, Vision } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as BootstrapFewShot from "../../src/few-shot/BootstrapFewShot.js"
import * as Optimizer from "../../src/Optimizer.js"
import { recordingSim } from "../support/sim.js"

// A multimodal program: the picture goes to the simulated LM as an image content part (a PNG data URI), which
// its vision task decodes and counts from the pixels. Bootstrapped demos carry their pictures too.
const signature = Signature.make("image: Image -> count: int")

const splits = (seed: number) => {
  const s = SimTask.splits(Vision.task, { seed, train: 24, dev: 150, test: 0 })
  const toExample = (e: Vision.Example) => Example.make({ image: e.image, count: e.count }).withInputs("image")
  return { train: s.train.map(toExample), dev: s.dev.map(toExample) }
}

const metric: Evaluate.Metric<Example.Any, Evaluate.AnyPrediction> = (example, prediction) =>
  Number(example.get("count")) === Number(prediction.get("count"))

const score = (program: Module.Program, devset: ReadonlyArray<Example.Any>) =>
  Effect.map(Eval.run({ devset, program: program as Module.Any, metric, concurrency: 16 }), (r) => r.score)

describe("BootstrapFewShot on a multimodal program (counting shapes in pictures)", () => {
  it.effect(
    "raises the score over three seeds: demos with pictures reach the simulated LM and help it",
    () =>
      Effect.gen(function* () {
        const gains: Array<number> = []
        const baselines: Array<number> = []
        for (const seed of [0, 1, 2]) {
          const data = splits(seed)
          const student = Predict.make(signature)
          const baseline = yield* score(student, data.dev)
          const compiled = yield* Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 4 }), student, {
            trainset: data.train,
            metric,
            concurrency: 8
          })
          // The bootstrapped demos keep their pictures (Media.Image values), which the demo turns send as parts.
          const demos = Object.values(Module.demos(compiled.program)).flat()
          assert.isAbove(demos.length, 0)
          assert.isTrue(demos.every((d) => Example.toRecord(d)["image"] instanceof Media.Image))
          const after = yield* score(compiled.program, data.dev)
          baselines.push(baseline)
          gains.push(after - baseline)
        }
        const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
        assert.isAtLeast(mean(baselines), 30)
        assert.isAtMost(mean(baselines), 65)
        assert.isAtLeast(mean(gains), 10)
        for (const g of gains) assert.isAbove(g, 0)
      }).pipe(Effect.provide(recordingSim().layer)),
    120_000
  )
})
