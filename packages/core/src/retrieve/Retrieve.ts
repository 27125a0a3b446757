/**
 * Retrieve: DSPy's `dspy.Retrieve(k)`, a module with no predictors that asks the {@link Retriever.Retriever} in
 * the context for the `k` best passages. With a ChainOfThought it makes DSPy's RAG program.
 *
 * @example
 * ```ts
 * import { ChainOfThought, Module, Retrieve, Signature } from "@effect-dspy/core"
 * import * as Effect from "effect/Effect"
 *
 * // DSPy's RAG tutorial: retrieve, then answer with the passages as context
 * const rag = Module.make({
 *   name: "RAG",
 *   parameters: {
 *     retrieve: Retrieve.make({ k: 3 }),
 *     respond: ChainOfThought.make(Signature.make("context: list[str], question -> answer"))
 *   },
 *   forward: (p, { question }: { readonly question: string }) =>
 *     Effect.gen(function* () {
 *       const { passages } = (yield* p.retrieve(question)).fields
 *       return yield* p.respond({ context: passages, question })
 *     })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Module from "../primitives/Module.js"
import * as Prediction from "../primitives/Prediction.js"
import type { EmbedderError } from "../CoreError.js"
import { RetrieveError } from "../CoreError.js"
import * as Retriever from "./Retriever.js"

/**
 * The outputs of a retrieval: the passages best first, their positions in the corpus and their scores.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outputs {
  readonly [key: string]: unknown
  readonly passages: ReadonlyArray<string>
  readonly indices: ReadonlyArray<number>
  readonly scores: ReadonlyArray<number>
}

/**
 * The inputs of a retrieval: the query, or `{ query, k }` to ask for another number of passages this time.
 *
 * @since 0.1.0
 * @category models
 */
export type Inputs = string | { readonly query: string; readonly k?: number }

/**
 * A Retrieve module.
 *
 * @since 0.1.0
 * @category models
 */
export type Retrieve = Module.Module<
  {},
  Inputs,
  Prediction.Prediction<Outputs>,
  RetrieveError | EmbedderError,
  Retriever.Retriever
>

/**
 * A Retrieve module returning `k` passages (default 3, as DSPy).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly k?: number } = {}): Retrieve => {
  const k = options.k ?? 3
  if (!(Number.isInteger(k) && k >= 1)) {
    throw new RetrieveError({ reason: "config", message: `Retrieve k must be a positive integer, got ${k}` })
  }
  return Module.make({
    name: "Retrieve",
    signature: "query -> passages",
    parameters: {},
    forward: (_, inputs: Inputs) => {
      const query = typeof inputs === "string" ? inputs : inputs.query
      const n = typeof inputs === "string" ? k : (inputs.k ?? k)
      return Effect.map(Retriever.retrieve(query, n), (hits) =>
        Prediction.make<Outputs>([
          { passages: hits.map((h) => h.text), indices: hits.map((h) => h.index), scores: hits.map((h) => h.score) }
        ])
      )
    }
  })
}
