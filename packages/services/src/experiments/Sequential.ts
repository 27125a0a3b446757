/**
 * Always-valid sequential tests: the mixture sequential probability ratio test (mSPRT) with a normal mixture, for a
 * difference in means (quality) and a difference in proportions (error rates) between two arms. It may be checked
 * after every request, or every 100, as often as wanted: the probability that it ever declares a difference when
 * there is none stays at most `alpha` (Johari, Pekelis and Walsh, "Always valid inference", 2017).
 *
 * With the estimated difference `d` (arm B minus arm A), its variance `V` (estimated as under the null: the
 * spread of both arms' data about their combined mean; the pooled proportion for errors) and a mixing variance `tau2` (the scale of effects
 * worth finding), the mixture likelihood ratio is
 * `L = sqrt(V / (V + tau2)) * exp(d^2 * tau2 / (2 V (V + tau2)))`. The always-valid p-value is the running minimum
 * of `1 / L`; the confidence sequence is every `d0` with `L(d0) < 1 / alpha`:
 * `d +- sqrt(2 V (V + tau2) / tau2 * (log(1 / alpha) + log((V + tau2) / V) / 2))`, intersected over checks.
 *
 * @example
 * ```ts
 * import { Sequential } from "@effect-dspy/services"
 *
 * let state = Sequential.initial
 * state = Sequential.meanDifference(
 *   { n: 400, mean: 0.62, variance: 0.2356 },
 *   { n: 410, mean: 0.74, variance: 0.1924 },
 *   { alpha: 0.05, tau2: 0.01 },
 *   state
 * )
 * state.significant // true once the evidence is enough, and it never becomes false again
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One arm's sample: count, mean and sample variance (for proportions, the mean is the proportion).
 *
 * @since 0.1.0
 * @category models
 */
export interface Sample {
  readonly n: number
  readonly mean: number
  readonly variance: number
}

/**
 * The test's settings: the error rate `alpha` (the chance of ever declaring a difference under the null) and the
 * mixing variance `tau2` (the squared scale of the differences worth detecting, on the metric's scale).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly alpha: number
  readonly tau2: number
}

/**
 * Default settings for metrics in [0, 1]: `alpha` 0.05 and `tau2` 0.01 (differences of about 0.1).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Options = { alpha: 0.05, tau2: 0.01 }

/**
 * The state of one comparison after a check: the estimate (B minus A) and its variance, the always-valid p-value
 * (running minimum), the confidence sequence (running intersection; absent until both arms have two samples),
 * whether the difference is significant (p-value at most alpha) and how many checks were made.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Result = Schema.Struct({
  estimate: Schema.Number,
  variance: Schema.Number,
  pValue: Schema.Number,
  lower: Schema.optional(Schema.Number),
  upper: Schema.optional(Schema.Number),
  significant: Schema.Boolean,
  checks: Schema.Number
})

/**
 * The state of one comparison.
 *
 * @since 0.1.0
 * @category models
 */
export type Result = typeof Result.Type

/**
 * The state before any check: p-value 1, nothing significant.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial: Result = { estimate: 0, variance: 0, pValue: 1, significant: false, checks: 0 }

/**
 * The mixture likelihood ratio of an estimate `d` with variance `V` against the difference `d0` (default 0).
 *
 * @since 0.1.0
 * @category statistics
 */
export const likelihoodRatio = (d: number, variance: number, tau2: number, d0 = 0): number => {
  const delta = d - d0
  if (!(variance > 0)) return delta === 0 ? 0 : Number.POSITIVE_INFINITY
  return Math.sqrt(variance / (variance + tau2)) * Math.exp((delta * delta * tau2) / (2 * variance * (variance + tau2)))
}

/**
 * The half-width of the confidence sequence at this check: every `d0` within it of `d` has `L(d0) < 1 / alpha`.
 *
 * @since 0.1.0
 * @category statistics
 */
export const halfWidth = (variance: number, options: Options): number => {
  if (!(variance > 0)) return 0
  const { alpha, tau2 } = options
  return Math.sqrt(
    ((2 * variance * (variance + tau2)) / tau2) * (Math.log(1 / alpha) + Math.log((variance + tau2) / variance) / 2)
  )
}

const step = (d: number, variance: number, options: Options, previous: Result, ready: boolean): Result => {
  if (!ready) return { ...previous, estimate: d, variance }
  const p = Math.min(previous.pValue, 1 / likelihoodRatio(d, variance, options.tau2), 1)
  const w = halfWidth(variance, options)
  const lower = Math.max(previous.lower ?? Number.NEGATIVE_INFINITY, d - w)
  const upper = Math.min(previous.upper ?? Number.POSITIVE_INFINITY, d + w)
  return {
    estimate: d,
    variance,
    pValue: p,
    // An empty intersection (possible only through the plug-in variance) keeps the latest interval.
    ...(lower <= upper ? { lower, upper } : { lower: d - w, upper: d + w }),
    significant: p <= options.alpha,
    checks: previous.checks + 1
  }
}

/**
 * One check of a difference in means (B minus A) from the arms' counts, means and sample variances; `previous` carries the running
 * p-value and interval (start from {@link initial}). Both arms need two samples before the check counts.
 *
 * @since 0.1.0
 * @category tests
 */
export const meanDifference = (a: Sample, b: Sample, options: Options = defaults, previous = initial): Result => {
  const ready = a.n >= 2 && b.n >= 2
  if (!ready) return step(b.mean - a.mean, 0, options, previous, false)
  // The variance of the data about the combined mean, as under the null: it is not zero by chance when both arms
  // happen to agree early (all rewards 1), and it never understates the spread when the arms differ.
  const n = a.n + b.n
  const mean = (a.n * a.mean + b.n * b.mean) / n
  const ss = (a.n - 1) * a.variance + a.n * (a.mean - mean) ** 2 + (b.n - 1) * b.variance + b.n * (b.mean - mean) ** 2
  const variance = (ss / (n - 1)) * (1 / a.n + 1 / b.n)
  return step(b.mean - a.mean, variance, options, previous, true)
}

/**
 * One check of a difference in proportions (B minus A), from counts of successes (for error rates: errors). The
 * variance is the pooled proportion's, as under the null (both arms the same), which keeps the test valid when
 * one arm has seen no success yet.
 *
 * @since 0.1.0
 * @category tests
 */
export const proportionDifference = (
  a: { readonly n: number; readonly successes: number },
  b: { readonly n: number; readonly successes: number },
  options: Options = defaults,
  previous = initial
): Result => {
  const ready = a.n >= 2 && b.n >= 2
  const pa = a.n === 0 ? 0 : a.successes / a.n
  const pb = b.n === 0 ? 0 : b.successes / b.n
  const pooled = a.n + b.n === 0 ? 0 : (a.successes + b.successes) / (a.n + b.n)
  const variance = ready ? pooled * (1 - pooled) * (1 / a.n + 1 / b.n) : 0
  return step(pb - pa, variance, options, previous, ready)
}

/**
 * An always-valid confidence interval for one arm's mean (the one-sample mixture confidence sequence at this
 * check), or `undefined` below two samples.
 *
 * @since 0.1.0
 * @category statistics
 */
export const meanInterval = (
  sample: Sample,
  options: Options = defaults
): { readonly lower: number; readonly upper: number } | undefined => {
  if (sample.n < 2) return undefined
  const w = halfWidth(sample.variance / sample.n, options)
  return { lower: sample.mean - w, upper: sample.mean + w }
}
