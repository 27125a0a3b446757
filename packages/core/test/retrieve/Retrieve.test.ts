import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Module from "../../src/primitives/Module.js"
import * as Embedder from "../../src/retrieve/Embedder.js"
import * as Retrieve from "../../src/retrieve/Retrieve.js"
import * as Retriever from "../../src/retrieve/Retriever.js"
import * as VectorIndex from "../../src/retrieve/VectorIndex.js"
import { bagOfWords, corpus } from "./support.js"

const embedderLayer = Layer.succeed(Embedder.Embedder, bagOfWords)
const retrieverLayer = Retriever.layer({ corpus }).pipe(Layer.provide(embedderLayer))

describe("Retrieve", () => {
  it.effect("returns the k best passages from the retriever in the context", () =>
    Effect.gen(function* () {
      const prediction = yield* Module.call(Retrieve.make({ k: 2 }), "Is Rome in Italy?")
      assert.deepStrictEqual(prediction.get("passages"), [corpus[1], corpus[0]])
      assert.deepStrictEqual(prediction.get("indices"), [1, 0])
      const more = yield* Module.call(Retrieve.make(), { query: "capital", k: 3 })
      assert.strictEqual(more.get("passages").length, 3)
      assert.strictEqual(Module.namedPredictors(Retrieve.make()).length, 0)
    }).pipe(Effect.provide(retrieverLayer))
  )

  it.effect("a bad k is a typed error saying what to fix", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Retriever.retrieve("x", 0))
      assert.strictEqual(error._tag, "RetrieveError")
      assert.match(error.message, /k must be a positive integer/)
      assert.throws(() => Retrieve.make({ k: 1.5 }), /positive integer/)
    }).pipe(Effect.provide(retrieverLayer))
  )

  it.effect("a query embedded with another model than the index fails typed", () =>
    Effect.gen(function* () {
      const index = yield* VectorIndex.build(corpus, { embedder: bagOfWords })
      const other = Embedder.make((texts) => Effect.succeed(texts.map(() => [1, 2])))
      const error = yield* Effect.flip(Retriever.fromIndex(index, other).retrieve("Paris", 1))
      assert.strictEqual(error._tag, "RetrieveError")
      assert.match(error.message, /embed queries with the model that built the index/)
    })
  )

  it.effect("a retriever from a search function (no embeddings)", () =>
    Effect.gen(function* () {
      const prediction = yield* Module.call(Retrieve.make({ k: 1 }), "France").pipe(
        Effect.provide(Retriever.layerSearch((q, k) => corpus.filter((p) => p.includes(q)).slice(0, k)))
      )
      assert.deepStrictEqual(prediction.get("passages"), [corpus[0]])
    })
  )
})
