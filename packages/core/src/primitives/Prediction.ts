/**
 * The outputs of one module call, as DSPy's `Prediction`: the fields of the first completion, every parsed
 * completion when the LM was asked for `n > 1` choices, and the token usage and LM call count of the call.
 *
 * ```ts
 * const p = Prediction.make([{ answer: "5" }, { answer: "6" }], { usage, lmCalls: 1 })
 * p.get("answer")      // "5"
 * p.pluck("answer")    // ["5", "6"]
 * ```
 *
 * @since 0.1.0
 */
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Completion from "../lm/Completion.js"
import * as Example from "./Example.js"
import { PredictionEmpty } from "../CoreError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-dspy/core/Prediction")

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { PredictionEmpty }

/**
 * Adds two usage records.
 *
 * @since 0.1.0
 * @category combinators
 */
export const addUsage = (a: Completion.Usage, b: Completion.Usage): Completion.Usage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  totalTokens: a.totalTokens + b.totalTokens
})

/**
 * The outputs `O` of a module call.
 *
 * @since 0.1.0
 * @category models
 */
export class Prediction<O extends Example.Fields = Example.Fields> implements Pipeable {
  readonly [TypeId] = TypeId
  /** Every parsed completion, in choice order; the first one is the prediction's fields. */
  readonly completions: ReadonlyArray<O>
  /** Tokens used by the call (zero for cache hits). */
  readonly usage: Completion.Usage
  /** How many LM calls the module made for this prediction (fallbacks and retries included). */
  readonly lmCalls: number

  constructor(
    completions: ReadonlyArray<O>,
    options?: { readonly usage?: Completion.Usage; readonly lmCalls?: number }
  ) {
    if (completions.length === 0) {
      throw new PredictionEmpty({ message: "A prediction needs at least one completion (the parsed outputs)." })
    }
    this.completions = Object.freeze(completions.map((c) => Object.freeze({ ...c })))
    this.usage = options?.usage ?? Completion.emptyUsage
    this.lmCalls = options?.lmCalls ?? 0
  }

  /** The fields of the first completion. */
  get fields(): O {
    return this.completions[0]!
  }

  /** One field of the first completion. */
  get<K extends keyof O>(key: K): O[K] {
    return this.fields[key]
  }

  /** One field across all completions. */
  pluck<K extends keyof O>(key: K): ReadonlyArray<O[K]> {
    return this.completions.map((c) => c[key])
  }

  /** The field names. */
  keys(): ReadonlyArray<keyof O & string> {
    return Object.keys(this.fields) as Array<keyof O & string>
  }

  /** A copy of the first completion's fields. */
  toRecord(): O {
    return { ...this.fields }
  }

  /** The prediction's fields as an example (for demos and metrics). */
  toExample(): Example.Example<O> {
    return Example.make(this.toRecord())
  }

  /** A copy with usage and LM calls added (a module that made more calls). */
  addCalls(usage: Completion.Usage, lmCalls: number): Prediction<O> {
    return new Prediction(this.completions, { usage: addUsage(this.usage, usage), lmCalls: this.lmCalls + lmCalls })
  }

  toJSON(): {
    readonly fields: O
    readonly completions: ReadonlyArray<O>
    readonly usage: Completion.Usage
    readonly lmCalls: number
  } {
    return { fields: this.fields, completions: this.completions, usage: this.usage, lmCalls: this.lmCalls }
  }

  toString(): string {
    return `Prediction(${JSON.stringify(this.fields)}${this.completions.length > 1 ? ` +${this.completions.length - 1} completions` : ""})`
  }

  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable protocol
    return pipeArguments(this, arguments)
  }
}

/**
 * Builds a prediction from its parsed completions (at least one).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <O extends Example.Fields>(
  completions: ReadonlyArray<O>,
  options?: { readonly usage?: Completion.Usage; readonly lmCalls?: number }
): Prediction<O> => new Prediction(completions, options)

/**
 * A prediction of one set of outputs (no LM involved unless `options` say so).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromOutputs = <O extends Example.Fields>(
  outputs: O,
  options?: { readonly usage?: Completion.Usage; readonly lmCalls?: number }
): Prediction<O> => new Prediction([outputs], options)

/**
 * True for predictions.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPrediction = (u: unknown): u is Prediction => typeof u === "object" && u !== null && TypeId in u
