/**
 * Programs as DSPy users run them: a module or a bare predictor, called on its inputs ({@link call}), over many
 * inputs at once ({@link batch}, DSPy's `module.batch`), or, in a script with one LM, straight to a Promise
 * ({@link runPromise}). Everything stays an Effect for those who compose: {@link call} and {@link batch} need the
 * `LM` service; {@link run} provides it from a layer.
 *
 * @example
 * ```ts
 * import { ChainOfThought, Program } from "@effect-dspy/core"
 * import { SimLM } from "@effect-dspy/sim"
 *
 * const qa = ChainOfThought.make("question -> answer: float")
 * const prediction = await Program.runPromise(qa, { question: "What is 2 + 3?" }, { lm: SimLM.layer() })
 * console.log(prediction.get("answer"))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import type * as LM from "../lm/LM.js"
import * as Predict from "../predict/Predict.js"
import * as Module from "./Module.js"
import { ParallelConfigError } from "../CoreError.js"

/**
 * Any program: a module or a bare predictor.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Module.Program

/**
 * The inputs of a program.
 *
 * @since 0.1.0
 * @category models
 */
export type Input<P> =
  P extends Predict.Predict<infer I, infer _O>
    ? I
    : // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its parameters
      P extends Module.Module<any, infer I, infer _O, infer _E, infer _R>
      ? I
      : never

/**
 * The output of a program: a predictor's `Prediction`, a module's output.
 *
 * @since 0.1.0
 * @category models
 */
export type Output<P> =
  P extends Predict.Predict<infer _I, infer O>
    ? Predict.Output<O>
    : // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its parameters
      P extends Module.Module<any, infer _I, infer O, infer _E, infer _R>
      ? O
      : never

/**
 * What a program can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type Error<P> =
  P extends Predict.Predict<infer _I, infer _O>
    ? Predict.PredictError
    : // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its parameters
      P extends Module.Module<any, infer _I, infer _O, infer E, infer _R>
      ? E
      : never

/**
 * The services a program needs (`LM.LM` for every program that calls a predictor).
 *
 * @since 0.1.0
 * @category models
 */
export type Context<P> =
  P extends Predict.Predict<infer _I, infer _O>
    ? LM.LM
    : // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its parameters
      P extends Module.Module<any, infer _I, infer _O, infer _E, infer R>
      ? R
      : never

/**
 * Runs a program on its inputs (`Module.call`, typed by the program).
 *
 * @since 0.1.0
 * @category calling
 */
export const call = <P extends Any>(program: P, inputs: Input<P>): Effect.Effect<Output<P>, Error<P>, Context<P>> =>
  (Predict.isPredict(program)
    ? Predict.forward(program, inputs)
    : Module.call(program as Module.Any, inputs)) as unknown as Effect.Effect<Output<P>, Error<P>, Context<P>>

/**
 * Options of {@link batch}: how many inputs run at once (default 8, DSPy's `num_threads`).
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchOptions {
  readonly concurrency?: number
}

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ParallelConfigError }

/**
 * Runs a program on many inputs (DSPy's `module.batch`): one `Either` per input, in the inputs' order, `Right`
 * with the output or `Left` with that input's typed error. A failed input never stops the others; only a
 * `concurrency` that is not a positive integer fails the whole batch ({@link ParallelConfigError}).
 *
 * @example
 * ```ts
 * import { Predict, Program } from "@effect-dspy/core"
 * import { SimLM } from "@effect-dspy/sim"
 * import { Effect, Either } from "effect"
 *
 * const qa = Predict.make("question -> answer: int")
 * const answers = Program.batch(qa, [{ question: "What is 2 + 3?" }, { question: "What is 7 - 4?" }], {
 *   concurrency: 4
 * }).pipe(
 *   Effect.map((results) => results.map(Either.map((prediction) => prediction.get("answer")))),
 *   Effect.provide(SimLM.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category calling
 */
export const batch = <P extends Any>(
  program: P,
  inputs: Iterable<Input<P>>,
  options: BatchOptions = {}
): Effect.Effect<ReadonlyArray<Either.Either<Output<P>, Error<P>>>, ParallelConfigError, Context<P>> =>
  Effect.suspend(() => {
    const concurrency = options.concurrency ?? 8
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      return Effect.fail(
        new ParallelConfigError({
          option: "concurrency",
          message: `concurrency must be a positive integer, got ${concurrency}`
        })
      )
    }
    return Effect.forEach(inputs, (input) => Effect.either(call(program, input)), { concurrency })
  })

/**
 * Options of {@link run} and {@link runPromise}: the LM to run with, as a layer (`SimLM.layer()`, `LM.layer`,
 * `LM.layerProvider(...)`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<LE> {
  readonly lm: Layer.Layer<LM.LM, LE>
}

/**
 * Runs a program on its inputs with the LM of `options.lm` provided: the common case of one LM, as an Effect
 * still (compose it, retry it, time it out).
 *
 * @since 0.1.0
 * @category running
 */
export const run = <P extends Any, LE>(
  program: P,
  inputs: Input<P>,
  options: RunOptions<LE>
): Effect.Effect<Output<P>, Error<P> | LE, Exclude<Context<P>, LM.LM>> =>
  Effect.provide(call(program, inputs), options.lm)

/** A type error for a program needing more than the LM: provide its other services with {@link run}. */
type OnlyLM<P> = [Exclude<Context<P>, LM.LM>] extends [never]
  ? unknown
  : { readonly "provide the program's other services with Program.run": Exclude<Context<P>, LM.LM> }

/**
 * Runs a program on its inputs with the LM of `options.lm` and returns a Promise of its output (rejected with
 * the program's error): DSPy's `qa(question=...)` for scripts.
 *
 * @since 0.1.0
 * @category running
 */
export const runPromise = <P extends Any, LE>(
  program: P,
  inputs: Input<P>,
  options: RunOptions<LE> & { readonly signal?: AbortSignal } & OnlyLM<P>
): Promise<Output<P>> =>
  Effect.runPromise(
    run(program, inputs, options) as Effect.Effect<Output<P>, Error<P> | LE>,
    options.signal === undefined ? undefined : { signal: options.signal }
  )
