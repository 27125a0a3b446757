/**
 * Embedders: texts to vectors, for KNNFewShot's retrieval. {@link fromLM} uses the LM service's `embed`
 * (the simulated LM's hashed n-gram embeddings, or an OpenAI-compatible `/embeddings` endpoint), in
 * batches; {@link make} wraps any function. Vectors are checked: one per text, all of one size.
 *
 * @since 0.1.0
 */
import { LM, SimEmbeddings } from "@effect-dspy/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { EmbedderError } from "./OptimizerError.js"

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
export class Embedder extends Context.Tag("@effect-dspy/optimizers/Embedder")<Embedder, Service>() {}

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
 * Cosine similarity (0 when a vector is all zeros); the same function the simulated LM's retrieval uses.
 *
 * @since 0.1.0
 * @category math
 */
export const cosine: (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => number = SimEmbeddings.cosine

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
