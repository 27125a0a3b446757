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
 * A custom module that returns fields of its own keeps the usage and LM calls of the predictions it made:
 * `Prediction.fromOutputs({ context, answer }, { from: [hop1, hop2, final] })`, or `final.extend({ context })`.
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
 * Any prediction, whatever its fields.
 *
 * @since 0.1.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: any prediction, whatever its fields
export type AnyPrediction = Prediction<any>

/**
 * The fields `O` with those of `B` added or replaced (known fields kept beside an index signature).
 *
 * @since 0.1.0
 * @category models
 */
export type Extended<O, B> = { [K in keyof O as K extends keyof B ? never : K]: O[K] } & B

const totalUsage = (from: ReadonlyArray<AnyPrediction>): Completion.Usage =>
  from.reduce((u, p) => addUsage(u, p.usage), Completion.emptyUsage)

const totalCalls = (from: ReadonlyArray<AnyPrediction>): number => from.reduce((n, p) => n + p.lmCalls, 0)

/**
 * Options of {@link make} and {@link fromOutputs}: the usage and LM calls of the call, and/or the predictions
 * the outputs were made from (`from`), whose usage and LM calls are added (a custom module's sub-calls).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly usage?: Completion.Usage
  readonly lmCalls?: number
  readonly from?: ReadonlyArray<AnyPrediction>
}

/**
 * The usage and LM calls of several predictions, summed (what a module that made them spent).
 *
 * @since 0.1.0
 * @category combinators
 */
export const totals = (
  predictions: ReadonlyArray<AnyPrediction>
): { readonly usage: Completion.Usage; readonly lmCalls: number } => ({
  usage: totalUsage(predictions),
  lmCalls: totalCalls(predictions)
})

const resolveOptions = (
  options: Options | undefined
): { readonly usage?: Completion.Usage; readonly lmCalls?: number } | undefined => {
  if (options?.from === undefined || options.from.length === 0) return options
  const usage = totalUsage(options.from)
  return {
    usage: options.usage === undefined ? usage : addUsage(options.usage, usage),
    lmCalls: (options.lmCalls ?? 0) + totalCalls(options.from)
  }
}

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

  /**
   * A copy with fields added to (or replaced in) every completion, keeping the usage and LM calls, plus those of
   * the predictions in `from` (the other calls the module made).
   */
  extend<B extends Example.Fields>(fields: B, from: ReadonlyArray<AnyPrediction> = []): Prediction<Extended<O, B>> {
    const all = [this, ...from]
    return new Prediction(
      this.completions.map((c) => ({ ...c, ...fields }) as Extended<O, B>),
      { usage: totalUsage(all), lmCalls: totalCalls(all) }
    )
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
export const make = <O extends Example.Fields>(completions: ReadonlyArray<O>, options?: Options): Prediction<O> =>
  new Prediction(completions, resolveOptions(options))

/**
 * A prediction of one set of outputs (no LM involved unless `options` say so). A custom module returning its
 * own fields passes the predictions it made as `from`, so their usage and LM calls are kept:
 * `Prediction.fromOutputs({ context, answer: final.get("answer") }, { from: [...hops, final] })`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromOutputs = <O extends Example.Fields>(outputs: O, options?: Options): Prediction<O> =>
  new Prediction([outputs], resolveOptions(options))

/**
 * The prediction with fields added to (or replaced in) every completion, its usage and LM calls kept, plus
 * those of the predictions in `from` (dual: `pipe(prediction, Prediction.extend({ context }))`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const extend: {
  <B extends Example.Fields>(
    fields: B,
    from?: ReadonlyArray<AnyPrediction>
  ): <O extends Example.Fields>(self: Prediction<O>) => Prediction<Extended<O, B>>
  <O extends Example.Fields, B extends Example.Fields>(
    self: Prediction<O>,
    fields: B,
    from?: ReadonlyArray<AnyPrediction>
  ): Prediction<Extended<O, B>>
} = ((...args: Array<unknown>) =>
  isPrediction(args[0])
    ? (args[0] as AnyPrediction).extend(args[1] as Example.Fields, args[2] as ReadonlyArray<AnyPrediction> | undefined)
    : (self: AnyPrediction) =>
        self.extend(args[0] as Example.Fields, args[1] as ReadonlyArray<AnyPrediction> | undefined)) as never

/**
 * True for predictions.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPrediction = (u: unknown): u is Prediction => typeof u === "object" && u !== null && TypeId in u
