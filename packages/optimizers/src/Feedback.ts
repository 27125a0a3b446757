/**
 * Metrics with feedback: a metric may return a score with a line of text saying what went wrong (GEPA's
 * `ScoreWithFeedback`). Plain metrics (`Evaluate.Metric`, returning a number or a boolean, maybe as an Effect)
 * are feedback metrics too, so every optimizer takes the same metric; GEPA shows the text to its reflection
 * LM, and uses `"This trajectory got a score of <score>."` when a metric gives none (as DSPy does).
 *
 * ```ts
 * const metric: Feedback.Metric<Example.Any, Prediction.Prediction> = (example, prediction) =>
 *   prediction.get("answer") === example.get("answer")
 *     ? { score: 1, feedback: "Correct." }
 *     : { score: 0, feedback: `Expected ${example.get("answer")}.` }
 * ```
 *
 * @since 0.1.0
 */
import type { Trace } from "@effect-dspy/core"
import * as Effect from "effect/Effect"

/**
 * A score with the metric's explanation.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScoreWithFeedback {
  readonly score: number
  readonly feedback?: string
}

/**
 * What a metric may return: a number, a boolean (1 or 0), or a score with feedback.
 *
 * @since 0.1.0
 * @category models
 */
export type Value = number | boolean | ScoreWithFeedback

/**
 * The predictor whose instruction an optimizer is about to rewrite, with its calls in this run (DSPy's
 * `pred_name` / `pred_trace`): a metric may tailor its feedback to it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly predictorPath: string
  readonly predictorTrace: ReadonlyArray<Trace.Entry>
}

/**
 * A metric that may give feedback. Any `Evaluate.Metric` is one.
 *
 * @since 0.1.0
 * @category models
 */
export type Metric<X, P, R = never> = (
  example: X,
  prediction: P,
  trace?: ReadonlyArray<Trace.Entry>,
  target?: Target
) => Value | Effect.Effect<Value, unknown, R>

/**
 * A metric's result as a score and its feedback text (none for plain metrics).
 *
 * @since 0.1.0
 * @category models
 */
export interface Scored {
  readonly score: number
  readonly feedback: string | undefined
}

/**
 * A metric value as a score and feedback. A non-finite score is an error the caller reports.
 *
 * @since 0.1.0
 * @category conversions
 */
export const normalize = (value: Value): Scored => {
  if (typeof value === "boolean") return { score: value ? 1 : 0, feedback: undefined }
  if (typeof value === "number") return { score: value, feedback: undefined }
  return { score: value.score, feedback: value.feedback }
}

/**
 * The feedback text shown to a reflection LM: the metric's, or DSPy's default sentence with the score.
 *
 * @since 0.1.0
 * @category conversions
 */
export const feedbackText = (scored: Scored): string =>
  scored.feedback !== undefined && scored.feedback.trim() !== ""
    ? scored.feedback
    : `This trajectory got a score of ${scored.score}.`

/**
 * Runs a metric and normalizes its result (an Effect or a plain value; a throw becomes a failure).
 *
 * @since 0.1.0
 * @category running
 */
export const run = <X, P, R>(
  metric: Metric<X, P, R>,
  example: X,
  prediction: P,
  trace?: ReadonlyArray<Trace.Entry>,
  target?: Target
): Effect.Effect<Scored, unknown, R> =>
  Effect.flatMap(
    Effect.try({
      try: () => metric(example, prediction, trace, target),
      catch: (cause) => cause
    }),
    (value) => (Effect.isEffect(value) ? Effect.map(value, normalize) : Effect.succeed(normalize(value)))
  )

/**
 * The metric as a plain metric (scores only), for `Evaluate.run` and optimizers without feedback.
 *
 * @since 0.1.0
 * @category conversions
 */
export const scoreOnly =
  <X, P, R>(metric: Metric<X, P, R>) =>
  (example: X, prediction: P, trace?: ReadonlyArray<Trace.Entry>): Effect.Effect<number, unknown, R> =>
    Effect.map(run(metric, example, prediction, trace), (s) => s.score)
