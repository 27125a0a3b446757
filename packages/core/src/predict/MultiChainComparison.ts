import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as LM from "../lm/LM.js"
import type * as Example from "../primitives/Example.js"
import * as Module from "../primitives/Module.js"
import type * as Prediction from "../primitives/Prediction.js"
import * as Signature from "../signature/Signature.js"
import * as Predict from "./Predict.js"
import { AttemptCountMismatch } from "../CoreError.js"
import type { ParseInputs, ParseOutputs } from "../signature/internal/typeParser.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { AttemptCountMismatch }

/**
 * The inputs: the signature's inputs plus the attempts (records with a `rationale` or `reasoning` field and
 * the signature's last output field).
 *
 * @since 0.1.0
 * @category models
 */
export type Inputs<I> = I & { readonly completions: ReadonlyArray<Example.Fields> }

/**
 * Options of {@link make}: M (default 3) and the predictor options (temperature default 0.7).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Predict.Options {
  readonly m?: number
}

const firstLine = (value: unknown): string =>
  String(value ?? "")
    .trim()
    .split("\n")[0]!
    .trim()

/**
 * The text of one attempt.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatAttempt = (completion: Example.Fields, lastKey: string): string => {
  const rationale = firstLine(completion.rationale ?? completion.reasoning)
  const answer = firstLine(completion[lastKey])
  return `«I'm trying to ${rationale} I'm not sure but my prediction is ${answer}»`
}

/**
 * The type of a MultiChainComparison module.
 *
 * @since 0.1.0
 * @category models
 */
export type MultiChainComparison<I, O> = Module.Module<
  { readonly predict: Predict.Predict<Signature.AnyFields, O & { readonly rationale: string }> },
  Inputs<I>,
  Prediction.Prediction<O & { readonly rationale: string } & Example.Fields>,
  Predict.PredictError | AttemptCountMismatch,
  LM.LM
>

/**
 * Builds the module over a signature, given as a `Signature` or in DSPy's string form
 * (`MultiChainComparison.make("question -> answer")`, throwing a `SignatureParseError` on a bad string as
 * `Signature.make` does); its predictor is `predict`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <const S extends string>(signature: S, options?: Options): MultiChainComparison<ParseInputs<S>, ParseOutputs<S>>
  <I, O>(signature: Signature.Signature<I, O>, options?: Options): MultiChainComparison<I, O>
} = (signature: string | Signature.Any, options: Options = {}) =>
  makeWith(typeof signature === "string" ? Signature.make(signature) : signature, options) as never

const makeWith = <I, O>(signature: Signature.Signature<I, O>, options: Options): MultiChainComparison<I, O> => {
  const m = options.m ?? 3
  if (!(Number.isInteger(m) && m >= 1)) {
    throw new Predict.PredictConfigError({
      option: "m",
      message: `MultiChainComparison m must be a positive integer, got ${m}`
    })
  }
  const lastKey = signature.outputFields[signature.outputFields.length - 1]?.name
  if (lastKey === undefined) {
    throw new Predict.PredictConfigError({
      option: "signature",
      message: "MultiChainComparison needs a signature with an output field"
    })
  }
  let extended: Signature.Any = signature
  for (let i = 1; i <= m; i++) {
    extended = Signature.append(
      extended,
      `reasoning_attempt_${i}`,
      Signature.input(Schema.String, { prefix: `Student Attempt #${i}:` })
    )
  }
  extended = Signature.prepend(
    extended,
    "rationale",
    Signature.output(Schema.String, { prefix: "Accurate Reasoning: Thank you everyone. Let's now holistically" })
  )
  const { m: _m, ...predictOptions } = options
  const predict = Predict.make(
    extended as Signature.Signature<Signature.AnyFields, O & { readonly rationale: string }>,
    { temperature: 0.7, ...predictOptions }
  )
  return Module.make({
    name: "MultiChainComparison",
    signature: Signature.toSignatureString(signature),
    parameters: { predict },
    forward: (
      p,
      inputs: Inputs<I>
    ): Effect.Effect<
      Prediction.Prediction<O & { readonly rationale: string } & Example.Fields>,
      Predict.PredictError | AttemptCountMismatch,
      LM.LM
    > => {
      const { completions, ...rest } = inputs as Inputs<I> & Example.Fields
      if (completions.length !== m) {
        return Effect.fail(
          new AttemptCountMismatch({
            expected: m,
            got: completions.length,
            message: `The number of attempts (${completions.length}) doesn't match the expected number M (${m}). Please set the correct value for M when initializing MultiChainComparison.`
          })
        )
      }
      const attempts: Record<string, string> = {}
      completions.forEach((c, i) => {
        attempts[`reasoning_attempt_${i + 1}`] = formatAttempt(c, lastKey)
      })
      return p.predict({ ...attempts, ...rest })
    }
  })
}
