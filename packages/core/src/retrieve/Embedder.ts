/**
 * Embedders: texts to vectors, for retrieval (the `VectorIndex`, KNNFewShot). {@link fromLM} uses the LM service's `embed`
 * (the simulated LM's hashed n-gram embeddings, or an OpenAI-compatible `/embeddings` endpoint), in
 * batches; {@link make} wraps any function. Vectors are checked: one per text, all of one size.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LM from "../lm/LM.js"
import { EmbedderError } from "../CoreError.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { EmbedderError }

/**
 * The embedder service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError>
}

/**
 * The embedder tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Embedder extends Context.Tag("@effect-dspy/core/Embedder")<Embedder, Service>() {}

const checkShape = (
  texts: ReadonlyArray<string>,
  vectors: ReadonlyArray<ReadonlyArray<number>>
): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError> => {
  if (vectors.length !== texts.length) {
    return Effect.fail(
      new EmbedderError({
        reason: "shape",
        message: `The embedder returned ${vectors.length} vectors for ${texts.length} texts: it must return one per text.`
      })
    )
  }
  const size = vectors[0]?.length ?? 0
  if (vectors.some((v) => v.length !== size || v.length === 0)) {
    return Effect.fail(
      new EmbedderError({
        reason: "shape",
        message: "The embedder returned vectors of different (or zero) sizes: use one embedding model."
      })
    )
  }
  return Effect.succeed(vectors)
}

/**
 * An embedder from a function (its vectors are checked).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError>
): Service => ({
  embed: (texts) =>
    texts.length === 0 ? Effect.succeed([]) : Effect.flatMap(embed(texts), (v) => checkShape(texts, v))
})

/**
 * An embedder over an LM service's `embed`, in batches of `batchSize` texts (default 256).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromLM = (
  lm: LM.Service,
  options: { readonly model?: string; readonly batchSize?: number } = {}
): Service => {
  const batchSize = Math.max(1, options.batchSize ?? 256)
  return make((texts) => {
    const batches: Array<ReadonlyArray<string>> = []
    for (let i = 0; i < texts.length; i += batchSize) batches.push(texts.slice(i, i + batchSize))
    return Effect.map(
      Effect.forEach(batches, (batch) =>
        Effect.mapError(
          lm.embed(batch, options.model),
          (error) =>
            new EmbedderError({
              reason: "lm",
              message: `The LM could not embed ${batch.length} texts: ${error.message}`
            })
        )
      ),
      (results) => results.flat()
    )
  })
}

/**
 * The embedder over the LM service in the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLM = (
  options: { readonly model?: string; readonly batchSize?: number } = {}
): Layer.Layer<Embedder, never, LM.LM> =>
  Layer.effect(
    Embedder,
    Effect.map(LM.LM, (lm) => fromLM(lm, options))
  )

/**
 * Cosine similarity of two vectors of the same size (0 when either is all zeros).
 *
 * @since 0.1.0
 * @category math
 */
export const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i] ?? 0
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/**
 * The indexes of the `k` vectors most similar to the query (cosine), best first; ties go to the lower index.
 *
 * @since 0.1.0
 * @category math
 */
export const nearest = (
  vectors: ReadonlyArray<ReadonlyArray<number>>,
  query: ReadonlyArray<number>,
  k: number
): Array<number> =>
  vectors
    .map((v, index) => ({ index, score: cosine(v, query) }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, Math.max(0, k))
    .map((s) => s.index)
