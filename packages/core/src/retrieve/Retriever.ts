/**
 * The retriever service (DSPy's retrieval model, `rm`): a query and `k` in, the `k` best passages out. The
 * {@link Retrieve} module calls the one in the context. {@link embeddings} is DSPy's `dspy.retrievers.Embeddings`
 * (an in-memory vector index over the {@link Embedder.Embedder}); {@link make} wraps any search function.
 *
 * @example
 * ```ts
 * import { Embedder, Retriever } from "@effect-dspy/core"
 * import * as Layer from "effect/Layer"
 *
 * const corpus = ["Paris is in France.", "Rome is in Italy.", "Bern is in Switzerland."]
 * // a Retriever over the corpus, embedded by the LM in the context (the simulated LM's embeddings, or OpenAI's)
 * const retrieverLayer = Retriever.layer({ corpus }).pipe(Layer.provide(Embedder.layerLM()))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { EmbedderError, RetrieveError } from "../CoreError.js"
import * as Embedder from "./Embedder.js"
import * as VectorIndex from "./VectorIndex.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { EmbedderError, RetrieveError }

/**
 * A retrieved passage: its text, its position in the corpus (for {@link layerSearch}, its rank) and its score
 * (higher is better).
 *
 * @since 0.1.0
 * @category models
 */
export interface Passage {
  readonly text: string
  readonly index: number
  readonly score: number
}

/**
 * The retriever service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The `k` best passages for the query, best first. */
  readonly retrieve: (query: string, k: number) => Effect.Effect<ReadonlyArray<Passage>, RetrieveError | EmbedderError>
}

/**
 * The retriever tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Retriever extends Context.Tag("@effect-dspy/core/Retriever")<Retriever, Service>() {}

const checkK = (k: number): RetrieveError | undefined =>
  Number.isInteger(k) && k >= 1
    ? undefined
    : new RetrieveError({ reason: "config", message: `k must be a positive integer, got ${k}` })

/**
 * A retriever from a search function (BM25, a remote search API, a knowledge base's own search); `k` is checked
 * and the results cut to `k`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  search: (query: string, k: number) => Effect.Effect<ReadonlyArray<Passage>, RetrieveError | EmbedderError>
): Service => ({
  retrieve: (query, k) => {
    const bad = checkK(k)
    return bad !== undefined ? Effect.fail(bad) : Effect.map(search(query, k), (hits) => hits.slice(0, k))
  }
})

/**
 * A retriever over a vector index: the query is embedded with `embedder`, then the index is searched (cosine).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromIndex = (index: VectorIndex.VectorIndex, embedder: Embedder.Service): Service =>
  make((query, k) =>
    Effect.flatMap(embedder.embed([query]), ([vector]) => {
      if (vector === undefined || (index.texts.length > 0 && vector.length !== index.dimensions)) {
        return Effect.fail(
          new RetrieveError({
            reason: "shape",
            message: `The query's embedding has ${vector?.length ?? 0} numbers but the index's vectors have ${index.dimensions}: embed queries with the model that built the index.`
          })
        )
      }
      return Effect.succeed(VectorIndex.search(index, vector, k))
    })
  )

/**
 * DSPy's `Embeddings` retriever: embeds the corpus once with the embedder in the context (or the one given)
 * and searches it in memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const embeddings = (options: {
  readonly corpus: ReadonlyArray<string>
  readonly embedder?: Embedder.Service
}): Effect.Effect<Service, EmbedderError | RetrieveError, Embedder.Embedder> =>
  Effect.gen(function* () {
    const embedder = options.embedder ?? (yield* Embedder.Embedder)
    const index = yield* VectorIndex.build(options.corpus, { embedder })
    return fromIndex(index, embedder)
  })

/**
 * The retriever as a layer: over a corpus (embedded when the layer is built), a built index, or an index file
 * saved with `VectorIndex.save`. Queries are embedded with the {@link Embedder.Embedder} in the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  source:
    | { readonly corpus: ReadonlyArray<string> }
    | { readonly index: VectorIndex.VectorIndex }
    | { readonly file: string }
): Layer.Layer<Retriever, EmbedderError | RetrieveError, Embedder.Embedder> =>
  Layer.effect(
    Retriever,
    Effect.gen(function* () {
      const embedder = yield* Embedder.Embedder
      if ("corpus" in source) return yield* embeddings({ corpus: source.corpus, embedder })
      const index = "index" in source ? source.index : yield* VectorIndex.load(source.file)
      return fromIndex(index, embedder)
    })
  )

/**
 * A retriever over fixed passages by search function, as a layer (tests; retrieval without embeddings).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSearch = (search: (query: string, k: number) => ReadonlyArray<string>): Layer.Layer<Retriever> =>
  Layer.succeed(
    Retriever,
    make((query, k) =>
      Effect.sync(() => search(query, k).map((text, index) => ({ text, index, score: 1 / (index + 1) })))
    )
  )

/**
 * Calls the retriever in the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const retrieve = (
  query: string,
  k: number
): Effect.Effect<ReadonlyArray<Passage>, RetrieveError | EmbedderError, Retriever> =>
  Effect.flatMap(Retriever, (r) => r.retrieve(query, k))
