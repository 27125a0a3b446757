/**
 * DSPy's RAG tutorial through the public API only, on the simulated LM: a corpus embedded into an in-memory
 * vector index (`Retriever.layer` over `Embedder.layerLM`), a RAG module = `Retrieve` + ChainOfThought
 * ("context, question -> answer"), scored with `Evaluate` against the same ChainOfThought without retrieval.
 */
import {
  AnswerMatch,
  ChainOfThought,
  Embedder,
  Evaluate,
  Example,
  Module,
  Retrieve,
  Retriever,
  Signature,
  VectorIndex
} from "@effect-dspy/core"
import { Multihop, SimLM, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const corpus = Multihop.knowledgeBase(0).documents
const devset = SimTask.generate(Multihop.task, 5, 30).map((e) =>
  Example.make({ question: e.question, answer: e.answer }).withInputs("question")
)

const rag = Module.make({
  name: "RAG",
  parameters: {
    retrieve: Retrieve.make({ k: 6 }),
    respond: ChainOfThought.make(Signature.make("context: list[str], question -> answer"))
  },
  forward: (p, { question }: { readonly question: string }) =>
    Effect.gen(function* () {
      const { passages } = (yield* p.retrieve(question)).fields
      return yield* p.respond({ context: passages, question })
    })
})

const closedBook = ChainOfThought.make(Signature.make("question -> answer"))

type Item = (typeof devset)[number]

const metric = (example: Item, prediction: { readonly get: (k: "answer") => string }) =>
  AnswerMatch.exactMatch(prediction.get("answer"), example.get("answer"))

const lm = SimLM.layer()
const retrieval = Retriever.layer({ corpus }).pipe(Layer.provide(Embedder.layerLM()), Layer.provide(lm))

describe("RAG (DSPy's tutorial pattern)", () => {
  it.effect("Retrieve + ChainOfThought beats the closed-book ChainOfThought on multi-hop questions", () =>
    Effect.gen(function* () {
      const withRag = yield* Evaluate.run({
        devset,
        program: (e: Item) => Module.call(rag, { question: e.get("question") }),
        metric
      })
      const without = yield* Evaluate.run({
        devset,
        program: (e: Item) => Module.call(closedBook, { question: e.get("question") }),
        metric
      })
      assert.isAbove(withRag.score, without.score + 10, `RAG ${withRag.score} vs closed book ${without.score}`)
      // only the answering predictor is learnable; the retriever has no parameters
      assert.deepStrictEqual(
        Module.namedPredictors(rag).map((p) => p.path),
        ["respond.predict"]
      )
    }).pipe(Effect.provide(Layer.merge(lm, retrieval)))
  )

  it.effect("an index saved to disk serves the same passages when loaded", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rag-index-"))
      try {
        const file = path.join(dir, "corpus.json")
        const index = yield* VectorIndex.build(corpus)
        yield* VectorIndex.save(index, file)
        const question = devset[0]!.get("question")
        const fresh = yield* Module.call(Retrieve.make({ k: 3 }), question)
        const fromFile = yield* Module.call(Retrieve.make({ k: 3 }), question).pipe(
          Effect.provide(Retriever.layer({ file }))
        )
        assert.deepStrictEqual(fromFile.get("passages"), fresh.get("passages"))
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }).pipe(Effect.provide(Layer.mergeAll(lm, retrieval, Embedder.layerLM().pipe(Layer.provide(lm)))))
  )
})
