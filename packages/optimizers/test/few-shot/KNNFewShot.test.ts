import { Embedder, LM, Module } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as KNNFewShot from "../../src/few-shot/KNNFewShot.js"
import { EmbedderError } from "../../src/OptimizerError.js"
import { arithmetic, cot, metric, promptText, recordingSim } from "../support/sim.js"

const data = arithmetic({ seed: 13, train: 20, dev: 3 })

describe("Embedder", () => {
  it.effect("embeds through the LM service in batches and finds the nearest texts", () =>
    Effect.gen(function* () {
      const embedder = Embedder.fromLM(yield* LM.LM, { batchSize: 2 })
      const texts = ["apples and pears", "the price of coins", "apples and more pears", "stamps"]
      const vectors = yield* embedder.embed(texts)
      assert.strictEqual(vectors.length, 4)
      const [query] = yield* embedder.embed(["apples and pears"])
      assert.deepStrictEqual(Embedder.nearest(vectors, query!, 2), [0, 2])
      assert.closeTo(Embedder.cosine(vectors[0]!, query!), 1, 1e-9)
      const broken = Embedder.make(() => Effect.succeed([[1, 0]]))
      const error = yield* Effect.flip(broken.embed(["a", "b"]))
      assert.instanceOf(error, EmbedderError)
      assert.strictEqual(error.reason, "shape")
    }).pipe(Effect.provide(recordingSim().layer))
  )
})

describe("KNNFewShot", () => {
  it.effect("each call bootstraps on the k nearest training examples and runs with them as demos", () => {
    const { layer, requests } = recordingSim()
    return Effect.gen(function* () {
      const k = 3
      const { program, report } = yield* KNNFewShot.compile(cot(), {
        trainset: data.train,
        metric,
        k,
        bootstrap: { maxBootstrappedDemos: 3, maxLabeledDemos: 3 }
      })
      assert.strictEqual(report.optimizer, "KNNFewShot")
      assert.strictEqual(report.details["embedded"], data.train.length)
      assert.strictEqual(requests.length, 0)
      assert.deepStrictEqual(
        Module.namedPredictors(program).map((p) => p.path),
        ["predict"]
      )
      const embedder = Embedder.fromLM(yield* LM.LM)
      const trainVectors = yield* embedder.embed(
        data.train.map((e) => KNNFewShot.inputText(e.toRecord(), ["question"]))
      )
      for (const example of data.dev) {
        requests.length = 0
        const inputs = { question: String(example.get("question")) }
        const prediction = yield* Module.call(program, inputs)
        assert.isDefined(prediction.get("answer"))
        const [query] = yield* embedder.embed([KNNFewShot.inputText(inputs, ["question"])])
        const near = new Set(Embedder.nearest(trainVectors, query!, k))
        // Teacher runs on the neighbours, then the student's own call.
        assert.isAtLeast(requests.length, 2)
        assert.isAtMost(requests.length, k + 1)
        const final = promptText(requests.at(-1)!)
        data.train.forEach((t, i) => {
          assert.strictEqual(final.includes(String(t.get("question"))), near.has(i), `train ${i}`)
        })
      }
      const bad = yield* Effect.flip(KNNFewShot.compile(cot(), { trainset: data.train, metric, k: 0 }))
      assert.strictEqual(bad._tag, "OptimizerConfigError")
    }).pipe(Effect.provide(layer))
  })
})
