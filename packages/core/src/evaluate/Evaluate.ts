/**
 * Evaluate: runs a program over a devset with bounded concurrency, scores each prediction with a metric and
 * reports the mean as a percentage rounded to 2 decimals (DSPy's `round(100 * mean, 2)`), with per-example
 * results. Failures score `failureScore`; after `maxErrors` of them the run stops with a typed error. Progress
 * goes to `onProgress`, a `Stream` ({@link stream}) or a terminal bar ({@link progressBar}).
 *
 * @example
 * ```ts
 * import { ChainOfThought, Evaluate, Example, Signature } from "@effect-dspy/core"
 * import * as Effect from "effect/Effect"
 *
 * const devset = [
 *   Example.make({ question: "What is 2 + 3?", answer: 5 }).withInputs("question"),
 *   Example.make({ question: "What is 7 - 4?", answer: 3 }).withInputs("question")
 * ]
 *
 * // the score is a percentage; it needs the `LM` service: `LM.layer` over Config, or the simulated LM
 * const score = Effect.map(
 *   Evaluate.run({
 *     devset,
 *     program: ChainOfThought.make(Signature.make("question -> answer: int")),
 *     metric: Evaluate.answerExactMatch,
 *     concurrency: 8
 *   }),
 *   (result) => result.score
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as LM from "../lm/LM.js"
import * as Predict from "../predict/Predict.js"
import * as Example from "../primitives/Example.js"
import * as Module from "../primitives/Module.js"
import type * as Prediction from "../primitives/Prediction.js"
import type * as Trace from "../primitives/Trace.js"
import * as AnswerMatch from "./AnswerMatch.js"
import { EvaluateMaxErrors, EvaluateConfigError, EvaluateInputsError } from "../CoreError.js"

/**
 * A metric: scores a prediction against its example (a number, or a boolean counted as 1/0). `trace` is
 * given when the metric runs inside bootstrapping. It may be an Effect.
 *
 * @since 0.1.0
 * @category models
 */
export type Metric<X, P, R = never> = (
  example: X,
  prediction: P,
  trace?: ReadonlyArray<Trace.Entry>
) => number | boolean | Effect.Effect<number | boolean, unknown, R>

/**
 * Progress of a run: examples finished, total, failed, and the running score (percentage over finished).
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly done: number
  readonly total: number
  readonly errors: number
  readonly score: number
}

/**
 * The result for one example: its index in the devset, the example, the prediction (none when it failed)
 * and its score; `error` holds the failure, pretty-printed.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExampleResult<X, P> {
  readonly index: number
  readonly example: X
  readonly prediction: Option.Option<P>
  readonly score: number
  readonly error?: string
}

/**
 * The result of a run: the score (percentage, 2 decimals), the per-example results in devset order (empty
 * with `keepResults: false`), and counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result<X, P> {
  readonly score: number
  readonly results: ReadonlyArray<ExampleResult<X, P>>
  readonly total: number
  readonly errors: number
}

/**
 * What `Evaluate.run` applies to each example: a function of the example, or a program (a module or a bare
 * predictor, called on the example's inputs, `example.inputs()`), as `Module.call`, optimizers and save/load
 * accept.
 *
 * @since 0.1.0
 * @category models
 */
export type Program<X> =
  // biome-ignore lint/suspicious/noExplicitAny: a function of the example, whatever it returns
  ((example: X) => Effect.Effect<any, any, any>) | Module.Program

/**
 * The prediction type of a {@link Program}: a predictor's prediction, a module's output, a function's result.
 *
 * @since 0.1.0
 * @category models
 */
export type OutputOf<Prog> =
  Prog extends Predict.Predict<infer _I, infer O>
    ? Predict.Output<O>
    : // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its parameters and inputs
      Prog extends Module.Module<any, any, infer P, infer _E, infer _R>
      ? P
      : // biome-ignore lint/suspicious/noExplicitAny: any function of the example
        Prog extends (example: any) => Effect.Effect<infer P, infer _E, infer _R>
        ? P
        : never

/**
 * The failure type of a {@link Program}.
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorOf<Prog> =
  Prog extends Predict.Predict<infer _I, infer _O>
    ? Predict.PredictError
    : // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its parameters and inputs
      Prog extends Module.Module<any, any, infer _P, infer E, infer _R>
      ? E | EvaluateInputsError
      : // biome-ignore lint/suspicious/noExplicitAny: any function of the example
        Prog extends (example: any) => Effect.Effect<infer _P, infer E, infer _R>
        ? E
        : never

/**
 * The services a {@link Program} needs.
 *
 * @since 0.1.0
 * @category models
 */
export type ContextOf<Prog> =
  Prog extends Predict.Predict<infer _I, infer _O>
    ? LM.LM
    : // biome-ignore lint/suspicious/noExplicitAny: any module, whatever its parameters and inputs
      Prog extends Module.Module<any, any, infer _P, infer _E, infer R>
      ? R
      : // biome-ignore lint/suspicious/noExplicitAny: any function of the example
        Prog extends (example: any) => Effect.Effect<infer _P, infer _E, infer R>
        ? R
        : never

/**
 * The options of a run, for a program `Prog` (see {@link Program}).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<X, Prog, RM> {
  readonly devset: ReadonlyArray<X>
  /**
   * The program applied to each example: a function of the example, a module or a bare predictor (called on
   * the example's inputs, `example.inputs()`).
   */
  readonly program: Prog
  readonly metric: Metric<X, OutputOf<Prog>, RM>
  /** How many examples run at once (default 8, DSPy's num_threads). */
  readonly concurrency?: number
  /** The run stops when this many examples have failed (default 10, as DSPy). */
  readonly maxErrors?: number
  /** The score of an example whose program or metric failed (default 0). */
  readonly failureScore?: number
  /** Called after each finished example. */
  readonly onProgress?: (progress: Progress) => Effect.Effect<void>
  /** Keep per-example results (default true); false keeps only counters. */
  readonly keepResults?: boolean
}

/**
 * The options of a run over a program with outputs `P`, failing with `E` and needing `R` (the metric needs
 * `RM`): {@link RunOptions} for a function or a module.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<X, P, E, R, RM> = RunOptions<
  X,
  // biome-ignore lint/suspicious/noExplicitAny: any module whose outputs are P
  ((example: X) => Effect.Effect<P, E, R>) | Module.Module<any, any, P, E, R>,
  RM
>

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { EvaluateMaxErrors, EvaluateConfigError, EvaluateInputsError }

/**
 * Rounds like Python's `round(x, digits)`: to the nearest, ties to even.
 *
 * @since 0.1.0
 * @category utils
 */
export const roundHalfEven = (x: number, digits = 2): number => {
  if (!Number.isFinite(x)) return x
  // toFixed works on the exact binary value (2.675 is 2.67499.. and rounds down); only an exact tie
  // (0.125) needs the half-to-even rule, which toFixed would round up.
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 30))
  const [whole = "0", fraction = ""] = exact.split(".")
  if (fraction.slice(digits) === `5${"0".repeat(fraction.length - digits - 1)}`) {
    const kept = `${whole}${fraction.slice(0, digits)}`
    const lastDigit = Number(kept[kept.length - 1])
    const magnitude = (Number(kept) + (lastDigit % 2 === 0 ? 0 : 1)) / 10 ** digits
    return x < 0 ? -magnitude : magnitude
  }
  return Number(x.toFixed(digits))
}

/**
 * A metric value as a number (booleans count 1 or 0).
 *
 * @since 0.1.0
 * @category utils
 */
export const toScore = (value: number | boolean): number => (typeof value === "boolean" ? (value ? 1 : 0) : value)

const checkOptions = (options: {
  readonly concurrency?: number
  readonly maxErrors?: number
  readonly failureScore?: number
}): Effect.Effect<void, EvaluateConfigError> => {
  if (options.concurrency !== undefined && !(Number.isInteger(options.concurrency) && options.concurrency >= 1)) {
    return Effect.fail(
      new EvaluateConfigError({
        option: "concurrency",
        message: `concurrency must be a positive integer, got ${options.concurrency}`
      })
    )
  }
  if (options.maxErrors !== undefined && !(Number.isInteger(options.maxErrors) && options.maxErrors >= 1)) {
    return Effect.fail(
      new EvaluateConfigError({
        option: "maxErrors",
        message: `maxErrors must be a positive integer, got ${options.maxErrors}`
      })
    )
  }
  if (options.failureScore !== undefined && !Number.isFinite(options.failureScore)) {
    return Effect.fail(
      new EvaluateConfigError({
        option: "failureScore",
        message: `failureScore must be a finite number, got ${options.failureScore}`
      })
    )
  }
  return Effect.void
}

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (typeof error === "object" && error !== null && "message" in error) {
      const tag = "_tag" in error ? `${String(error._tag)}: ` : ""
      return `${tag}${String(error.message)}`
    }
    return String(error)
  }
  return Cause.pretty(cause)
}

const inputsOf = (example: unknown): Effect.Effect<unknown, EvaluateInputsError> =>
  Effect.try({
    try: () => (Example.isExample(example) ? example.inputs().toRecord() : example),
    catch: () =>
      new EvaluateInputsError({
        message: "A devset example has no input keys: call `.withInputs(...keys)` on every example."
      })
  })

/**
 * A program (a module or a bare predictor) as a function of an example: it is called on `example.inputs()`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const program: {
  <I, O>(
    predictor: Predict.Predict<I, O>
  ): (example: unknown) => Effect.Effect<Predict.Output<O>, Predict.PredictError | EvaluateInputsError, LM.LM>
  <P, E, R>(
    // biome-ignore lint/suspicious/noExplicitAny: any module whose outputs are P
    module: Module.Module<any, any, P, E, R>
  ): (example: unknown) => Effect.Effect<P, E | EvaluateInputsError, R>
} = ((p: Module.Program) =>
  (example: unknown): Effect.Effect<unknown, unknown, unknown> =>
    Effect.flatMap(inputsOf(example), (inputs) =>
      (Module.call as (p: Module.Program, i: unknown) => Effect.Effect<unknown, unknown, unknown>)(p, inputs)
    )) as never

const describeValue = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
      ? "an array"
      : typeof value === "object"
        ? `an object (${Object.keys(value).slice(0, 5).join(", ") || "no keys"})`
        : typeof value

const programFunction = (
  p: unknown
): Effect.Effect<(example: unknown) => Effect.Effect<unknown, unknown, unknown>, EvaluateConfigError> => {
  if (Module.isModule(p) || Predict.isPredict(p)) return Effect.succeed(program(p as Module.Any))
  if (typeof p === "function")
    return Effect.succeed(p as (example: unknown) => Effect.Effect<unknown, unknown, unknown>)
  return Effect.fail(
    new EvaluateConfigError({
      option: "program",
      message: `program must be a module (Module.make, ChainOfThought.make, ...), a predictor (Predict.make) or a function from an example to an Effect; got ${describeValue(p)}.`
    })
  )
}

/**
 * Runs the program over the devset and scores it.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <X, const Prog extends Program<X>, RM = never>(
  options: RunOptions<X, Prog, RM>
): Effect.Effect<Result<X, OutputOf<Prog>>, EvaluateMaxErrors | EvaluateConfigError, ContextOf<Prog> | RM> =>
  runWith<X, OutputOf<Prog>, ContextOf<Prog> | RM>(options as unknown as LooseOptions<X>)

/** The options as the run reads them (the program checked at run time). */
interface LooseOptions<X> extends Omit<RunOptions<X, unknown, never>, "metric"> {
  readonly metric: (example: X, prediction: unknown) => ReturnType<Metric<X, unknown, unknown>>
}

const runWith = <X, P, R>(
  options: LooseOptions<X>
): Effect.Effect<Result<X, P>, EvaluateMaxErrors | EvaluateConfigError, R> =>
  Effect.flatMap(Effect.zipRight(checkOptions(options), programFunction(options.program)), (program) =>
    Effect.suspend(() => {
      const devset = options.devset
      const total = devset.length
      const concurrency = options.concurrency ?? 8
      const maxErrors = options.maxErrors ?? 10
      const failureScore = options.failureScore ?? 0
      const keep = options.keepResults ?? true
      const onProgress = options.onProgress
      const results: Array<ExampleResult<X, P>> = keep ? new Array(total) : []
      let done = 0
      let errors = 0
      let sum = 0

      const finish = (index: number, result: ExampleResult<X, P> | undefined, score: number) => {
        done++
        sum += score
        if (keep && result !== undefined) results[index] = result
        return onProgress === undefined
          ? Effect.void
          : onProgress({ done, total, errors, score: roundHalfEven((100 * sum) / done) })
      }

      const scoreOne = (example: X, index: number): Effect.Effect<void, EvaluateMaxErrors, R> =>
        Effect.flatMap(
          Effect.exit(
            Effect.flatMap(program(example) as Effect.Effect<P, unknown, R>, (prediction) => {
              const value = options.metric(example, prediction) as ReturnType<Metric<X, P, R>>
              return Effect.isEffect(value)
                ? Effect.map(value, (v) => [prediction, toScore(v)] as const)
                : Effect.succeed([prediction, toScore(value)] as const)
            })
          ),
          (exit) => {
            if (Exit.isSuccess(exit)) {
              const [prediction, score] = exit.value
              return finish(
                index,
                keep ? { index, example, prediction: Option.some(prediction), score } : undefined,
                score
              )
            }
            if (Cause.isInterruptedOnly(exit.cause)) return Effect.interrupt
            errors++
            const error = describeCause(exit.cause)
            const progress = finish(
              index,
              keep ? { index, example, prediction: Option.none(), score: failureScore, error } : undefined,
              failureScore
            )
            return errors >= maxErrors
              ? Effect.zipRight(
                  progress,
                  Effect.fail(
                    new EvaluateMaxErrors({
                      errors,
                      maxErrors,
                      lastError: error,
                      message: `Evaluation stopped: ${errors} examples failed (maxErrors = ${maxErrors}); last error: ${error}. Fix the failing program or raise maxErrors.`
                    })
                  )
                )
              : progress
          }
        )

      return Effect.map(Effect.forEach(devset, scoreOne, { concurrency, discard: true }), () => ({
        score: total === 0 ? 0 : roundHalfEven((100 * sum) / total),
        results,
        total,
        errors
      }))
    })
  )

/**
 * A progress update or the final result of a streamed run.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamEvent<X, P> =
  | { readonly _tag: "Progress"; readonly progress: Progress }
  | { readonly _tag: "Done"; readonly result: Result<X, P> }

/**
 * Runs the evaluation as a stream of progress updates ending with the result. The run starts when the
 * stream is consumed and is interrupted if the consumer stops early.
 *
 * @since 0.1.0
 * @category running
 */
export const stream = <X, const Prog extends Program<X>, RM = never>(
  options: Omit<RunOptions<X, Prog, RM>, "onProgress">
): Stream.Stream<StreamEvent<X, OutputOf<Prog>>, EvaluateMaxErrors | EvaluateConfigError, ContextOf<Prog> | RM> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const mailbox = yield* Mailbox.make<StreamEvent<X, OutputOf<Prog>>, EvaluateMaxErrors | EvaluateConfigError>()
      const withProgress: RunOptions<X, Prog, RM> = {
        ...options,
        onProgress: (progress) => Effect.asVoid(mailbox.offer({ _tag: "Progress", progress }))
      }
      yield* run(withProgress).pipe(
        Effect.flatMap((result) => mailbox.offer({ _tag: "Done", result })),
        Effect.exit,
        Effect.flatMap((exit) => mailbox.done(Exit.asVoid(exit))),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    })
  )

/**
 * Renders a progress line: a bar of `width` cells, done/total, running score and errors.
 *
 * @since 0.1.0
 * @category progress
 */
export const renderProgress = (progress: Progress, width = 30): string => {
  const ratio = progress.total === 0 ? 1 : progress.done / progress.total
  const filled = Math.round(ratio * width)
  const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`
  return `[${bar}] ${progress.done}/${progress.total} score ${progress.score.toFixed(2)}% errors ${progress.errors}`
}

/**
 * A writable terminal stream (stderr by default).
 *
 * @since 0.1.0
 * @category progress
 */
export interface Terminal {
  readonly isTTY?: boolean
  readonly write: (text: string) => unknown
}

/**
 * An `onProgress` callback drawing a progress bar on a terminal (stderr by default), redrawn in place;
 * it draws nothing when the stream is not a TTY (logs and CI stay clean).
 *
 * @since 0.1.0
 * @category progress
 */
export const progressBar = (
  terminal: Terminal = process.stderr,
  width = 30
): ((progress: Progress) => Effect.Effect<void>) => {
  if (terminal.isTTY !== true) return () => Effect.void
  return (progress) =>
    Effect.sync(() => {
      terminal.write(`\r${renderProgress(progress, width)}${progress.done === progress.total ? "\n" : ""}`)
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Built-in metrics over examples and predictions
// ---------------------------------------------------------------------------------------------------------------

/**
 * A prediction with any output fields.
 *
 * @since 0.1.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: any prediction, whatever its fields
export type AnyPrediction = Prediction.Prediction<any>

const read = (x: Example.Any | AnyPrediction, field: string): unknown =>
  (x as { readonly get: (k: string) => unknown }).get(field)

const answersOf = (value: unknown): string | ReadonlyArray<string> =>
  Array.isArray(value) ? value.map(String) : String(value ?? "")

/**
 * Exact match of the prediction's field against the example's (a string or a list of accepted answers),
 * after normalisation; with `frac < 1`, token F1 of at least `frac` (DSPy's `answer_exact_match`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const exactMatch =
  (field = "answer", frac = 1) =>
  (example: Example.Any, prediction: AnyPrediction): boolean =>
    AnswerMatch.answerMatch(String(read(prediction, field) ?? ""), answersOf(read(example, field)), frac)

/**
 * DSPy's `answer_exact_match` on the `answer` field.
 *
 * @since 0.1.0
 * @category metrics
 */
export const answerExactMatch: (example: Example.Any, prediction: AnyPrediction) => boolean = exactMatch()

/**
 * Token F1 of the prediction's field against the example's (best over accepted answers).
 *
 * @since 0.1.0
 * @category metrics
 */
export const f1 =
  (field = "answer") =>
  (example: Example.Any, prediction: AnyPrediction): number =>
    AnswerMatch.f1(String(read(prediction, field) ?? ""), answersOf(read(example, field)))

/**
 * True when a passage of the prediction's context field contains the example's answer (DSPy's
 * `answer_passage_match`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const passageMatch =
  (contextField = "context", answerField = "answer") =>
  (example: Example.Any, prediction: AnyPrediction): boolean => {
    const context = read(prediction, contextField)
    const passages = Array.isArray(context) ? context.map(String) : [String(context ?? "")]
    return AnswerMatch.passageMatch(passages, answersOf(read(example, answerField)))
  }
