/**
 * majority: the most common value of a field across completions (DSPy's `dspy.majority`). Values are
 * compared after normalisation (SQuAD-style by default; empty values are ignored unless all are empty);
 * ties go to the value seen first. The result is a prediction holding the first completion with that value.
 *
 * @since 0.1.0
 */
import * as AnswerMatch from "../evaluate/AnswerMatch.js"
import type * as Example from "../primitives/Example.js"
import * as Prediction from "../primitives/Prediction.js"

/**
 * Options: the field (default: the last field of the first completion) and the normalisation (default
 * {@link defaultNormalize}; return `undefined` to ignore a value).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly field?: string
  readonly normalize?: (value: unknown) => string | undefined
}

/**
 * DSPy's default normalisation: the normalised text, or `undefined` when it is empty.
 *
 * @since 0.1.0
 * @category normalisation
 */
export const defaultNormalize = (value: unknown): string | undefined => {
  const text = AnswerMatch.normalizeText(typeof value === "string" ? value : (JSON.stringify(value) ?? ""))
  return text === "" ? undefined : text
}

/**
 * The prediction of the most common value of the field across the completions.
 *
 * @since 0.1.0
 * @category combinators
 */
export const majority = <O extends Example.Fields>(
  input: Prediction.Prediction<O> | ReadonlyArray<O>,
  options: Options = {}
): Prediction.Prediction<O> => {
  const completions: ReadonlyArray<O> = Array.isArray(input)
    ? (input as ReadonlyArray<O>)
    : (input as Prediction.Prediction<O>).completions
  if (completions.length === 0) return Prediction.make(completions)
  const keys = Object.keys(completions[0]!)
  const field = options.field ?? keys[keys.length - 1]!
  const normalize = options.normalize ?? defaultNormalize
  const normalized = completions.map((c) => normalize(c[field]))
  const present = normalized.filter((v) => v !== undefined)
  const counts = new Map<string | undefined, number>()
  for (const value of present.length > 0 ? present : normalized) counts.set(value, (counts.get(value) ?? 0) + 1)
  let best: string | undefined
  let bestCount = -1
  for (const [value, count] of counts) {
    if (count > bestCount) {
      best = value
      bestCount = count
    }
  }
  const index = normalized.indexOf(best)
  const chosen = completions[index]!
  if (Array.isArray(input)) return Prediction.make([chosen])
  const prediction = input as Prediction.Prediction<O>
  return Prediction.make([chosen], { usage: prediction.usage, lmCalls: prediction.lmCalls })
}
