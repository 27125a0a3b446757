/**
 * ChainOfThought: a predictor whose signature gets a `reasoning` output field first, so the LM reasons
 * before it answers (DSPy's `ChainOfThought`). A module with one predictor, `predict`: in a program its path is
 * `"<name>.predict"`, as in DSPy.
 *
 * @example
 * ```ts
 * import { ChainOfThought, Module, Signature } from "@effect-dspy/core"
 * import * as Effect from "effect/Effect"
 *
 * const qa = ChainOfThought.make(Signature.make("question -> answer: float"))
 *
 * // it needs the `LM` service: `LM.layer` over Config, or the simulated LM
 * const solve = Effect.gen(function* () {
 *   const prediction = yield* Module.call(qa, { question: "Omar has 23 coins and sells 4. How many are left?" })
 *   return { reasoning: prediction.get("reasoning"), answer: prediction.get("answer") }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type * as LM from "../lm/LM.js"
import * as Module from "../primitives/Module.js"
import type { ParseInputs, ParseOutputs } from "../signature/internal/typeParser.js"
import * as Signature from "../signature/Signature.js"
import * as Predict from "./Predict.js"

/**
 * The outputs of a chain of thought: the signature's outputs after a `reasoning` string.
 *
 * @since 0.1.0
 * @category models
 */
export type Outputs<O> = { readonly reasoning: string } & O

/**
 * The signature of a chain of thought over `signature`.
 *
 * @since 0.1.0
 * @category models
 */
export type ReasoningSignature<I, O> = Signature.Signature<I, Outputs<O>>

/**
 * A ChainOfThought module.
 *
 * @since 0.1.0
 * @category models
 */
export type ChainOfThought<I, O> = Module.Module<
  { readonly predict: Predict.Predict<I, Outputs<O>> },
  I,
  Predict.Output<Outputs<O>>,
  Predict.PredictError,
  LM.LM
>

/**
 * The reasoning field: DSPy's prefix `Reasoning: Let's think step by step in order to`.
 *
 * @since 0.1.0
 * @category fields
 */
export const reasoningField = Signature.output(Schema.String, {
  prefix: "Reasoning: Let's think step by step in order to"
})

/**
 * The signature with a `reasoning` output field first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const extendSignature = <I, O>(signature: Signature.Signature<I, O>): ReasoningSignature<I, O> =>
  Signature.prepend(signature, "reasoning", reasoningField) as unknown as ReasoningSignature<I, O>

/**
 * A chain of thought over the signature, given as a `Signature` or in DSPy's string form
 * (`ChainOfThought.make("question -> answer: float")`); options are those of `Predict.make`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <const S extends string>(signature: S, options?: Predict.Options): ChainOfThought<ParseInputs<S>, ParseOutputs<S>>
  <I, O>(signature: Signature.Signature<I, O>, options?: Predict.Options): ChainOfThought<I, O>
} = ((signature: string | Signature.Any, options: Predict.Options = {}) => {
  const parsed: Signature.Any = typeof signature === "string" ? Signature.make(signature) : signature
  return Module.make({
    name: "ChainOfThought",
    parameters: { predict: Predict.make(extendSignature(parsed), options) },
    forward: (p, inputs: unknown) => p.predict(inputs),
    signature: Signature.toSignatureString(parsed)
  })
}) as never
