/**
 * A tree-structured Parzen estimator (TPE) over categorical parameters, the Bayesian sampler MIPROv2 uses
 * (Optuna's `TPESampler(multivariate=True)`, rebuilt here):
 *
 * 1. The first `nStartupTrials` suggestions (default 10, counting trials already told) are uniform draws.
 * 2. After that, the trials are split by value: the best `gamma(n)` (default `min(ceil(0.1 n), 25)`) are
 *    "good", the rest "bad". Each side gets a Parzen estimator: a mixture with one kernel per trial (weights
 *    1 for the 25 newest, a ramp below that) plus a uniform prior kernel of weight `priorWeight` (default 1).
 *    A trial's kernel for a parameter puts mass `1 + priorWeight / kernels` on its observed choice and
 *    `priorWeight / kernels` on every other choice (prior smoothing), then is normalised. Kernels are joint
 *    over all parameters (multivariate), so combinations that worked together are proposed together.
 * 3. `nEiCandidates` (default 24) candidates are drawn from the good estimator l(x); the one with the
 *    largest l(x) / g(x) wins.
 *
 * Deterministic for a seed. Values are maximised.
 *
 * ```ts
 * const sampler = TPE.make({ instruction: 3, demos: 6 }, { seed: 9 })
 * const params = sampler.ask()
 * sampler.tell(params, score)
 * ```
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import * as Either from "effect/Either"
import { TPEError } from "../OptimizerError.js"

/**
 * The search space: for each parameter, how many choices it has (choices are the indices `0..k-1`).
 * Parameters keep the key order.
 *
 * @since 0.1.0
 * @category models
 */
export type Space = { readonly [name: string]: number }

/**
 * A point of the space: a choice index per parameter.
 *
 * @since 0.1.0
 * @category models
 */
export type Params = { readonly [name: string]: number }

/**
 * A finished trial: its parameters and its value (higher is better).
 *
 * @since 0.1.0
 * @category models
 */
export interface Trial {
  readonly params: Params
  readonly value: number
}

/**
 * Settings of the sampler (Optuna's defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The seed of the sampler's draws; default 0. */
  readonly seed?: number
  /** Trials sampled uniformly before the estimator is used; default 10. */
  readonly nStartupTrials?: number
  /** Candidates drawn from l(x) per suggestion; default 24. */
  readonly nEiCandidates?: number
  /** The weight of the uniform prior kernel; default 1. */
  readonly priorWeight?: number
  /** How many of `n` trials count as good; default `min(ceil(0.1 n), 25)`. */
  readonly gamma?: (n: number) => number
}

/**
 * The errors of this module (defined with every error of the package in `OptimizerError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { TPEError }

/**
 * Optuna's default gamma: `min(ceil(0.1 n), 25)`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25)

/**
 * Optuna's default kernel weights for `n` observations, oldest first: 1 each below 25; beyond that a ramp
 * from `1/n` to 1 for the oldest `n - 25` and 1 for the newest 25.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultWeights = (n: number): Array<number> => {
  if (n < 25) return Array.from({ length: n }, () => 1)
  const rampLength = n - 25
  const ramp = Array.from({ length: rampLength }, (_, i) =>
    rampLength === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (rampLength - 1)
  )
  return [...ramp, ...Array.from({ length: 25 }, () => 1)]
}

/**
 * Checks a space: every parameter has a positive integer number of choices.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateSpace = (space: Space): Either.Either<Space, TPEError> => {
  const names = Object.keys(space)
  if (names.length === 0) return Either.left(new TPEError({ message: "The TPE space has no parameters: add one." }))
  for (const name of names) {
    const k = space[name]!
    if (!Number.isInteger(k) || k < 1) {
      return Either.left(
        new TPEError({
          message: `The TPE parameter "${name}" must have a positive integer number of choices, got ${k}`
        })
      )
    }
  }
  return Either.right(space)
}

/**
 * Checks a trial against a space.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateTrial = (space: Space, trial: Trial): Either.Either<Trial, TPEError> => {
  if (!Number.isFinite(trial.value)) {
    return Either.left(new TPEError({ message: `A TPE trial value must be a finite number, got ${trial.value}` }))
  }
  for (const name of Object.keys(space)) {
    const v = trial.params[name]
    if (v === undefined || !Number.isInteger(v) || v < 0 || v >= space[name]!) {
      return Either.left(
        new TPEError({
          message: `The TPE trial has ${name}=${String(v)}, outside the choices 0..${space[name]! - 1}`
        })
      )
    }
  }
  return Either.right(trial)
}

/** A Parzen estimator: mixture weights and, per kernel, a categorical distribution per parameter. */
interface Estimator {
  readonly weights: ReadonlyArray<number>
  /** kernels[k][p][c]: the probability of choice c of parameter p under kernel k. */
  readonly kernels: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>
}

const estimator = (names: ReadonlyArray<string>, space: Space, trials: ReadonlyArray<Trial>, prior: number) => {
  const n = trials.length
  const nKernels = n + 1
  const kernels: Array<Array<Array<number>>> = []
  for (const t of trials) {
    kernels.push(
      names.map((name) => {
        const k = space[name]!
        const row = Array.from({ length: k }, () => prior / nKernels)
        row[t.params[name]!]! += 1
        const total = row.reduce((a, b) => a + b, 0)
        return row.map((x) => x / total)
      })
    )
  }
  kernels.push(names.map((name) => Array.from({ length: space[name]! }, () => 1 / space[name]!)))
  const raw = [...defaultWeights(n), prior]
  const total = raw.reduce((a, b) => a + b, 0)
  return { weights: raw.map((w) => w / total), kernels } satisfies Estimator
}

const logDensity = (e: Estimator, x: ReadonlyArray<number>): number => {
  let sum = 0
  for (let k = 0; k < e.weights.length; k++) {
    let p = e.weights[k]!
    const kernel = e.kernels[k]!
    for (let i = 0; i < x.length; i++) p *= kernel[i]![x[i]!]!
    sum += p
  }
  return Math.log(sum)
}

const draw = (e: Estimator, random: Random.Random): Array<number> => {
  const kernel = e.kernels[random.weighted(e.weights)]!
  return kernel.map((row) => random.weighted(row))
}

const toParams = (names: ReadonlyArray<string>, x: ReadonlyArray<number>): Params =>
  Object.fromEntries(names.map((name, i) => [name, x[i]!]))

/**
 * The good/bad split of trials: the best `gamma(n)` by value (ties keep trial order) and the rest, each in
 * trial order.
 *
 * @since 0.1.0
 * @category internals
 */
export const split = (
  trials: ReadonlyArray<Trial>,
  gamma: (n: number) => number = defaultGamma
): { readonly good: ReadonlyArray<Trial>; readonly bad: ReadonlyArray<Trial> } => {
  const nGood = Math.max(0, Math.min(trials.length, gamma(trials.length)))
  const ranked = trials.map((t, i) => [t, i] as const).sort((a, b) => b[0].value - a[0].value || a[1] - b[1])
  const goodIdx = new Set(ranked.slice(0, nGood).map(([, i]) => i))
  return {
    good: trials.filter((_, i) => goodIdx.has(i)),
    bad: trials.filter((_, i) => !goodIdx.has(i))
  }
}

/**
 * The next parameters to try given the finished trials (pure: the draws come from `random`).
 *
 * @since 0.1.0
 * @category sampling
 */
export const suggest = (
  space: Space,
  trials: ReadonlyArray<Trial>,
  random: Random.Random,
  options: Omit<Options, "seed"> = {}
): Params => {
  const names = Object.keys(space)
  if (trials.length < (options.nStartupTrials ?? 10)) {
    return toParams(
      names,
      names.map((name) => random.between(0, space[name]! - 1))
    )
  }
  const prior = options.priorWeight ?? 1
  const { good, bad } = split(trials, options.gamma ?? defaultGamma)
  const l = estimator(names, space, good, prior)
  const g = estimator(names, space, bad, prior)
  let best: Array<number> | undefined
  let bestScore = Number.NEGATIVE_INFINITY
  for (let c = 0; c < (options.nEiCandidates ?? 24); c++) {
    const x = draw(l, random)
    const score = logDensity(l, x) - logDensity(g, x)
    if (score > bestScore) {
      bestScore = score
      best = x
    }
  }
  return toParams(names, best ?? draw(l, random))
}

/**
 * A stateful sampler over a space: `ask` for parameters, `tell` their value, `add` trials learnt elsewhere
 * (a default program, a full evaluation).
 *
 * @since 0.1.0
 * @category models
 */
export interface Sampler {
  readonly space: Space
  readonly trials: ReadonlyArray<Trial>
  readonly ask: () => Params
  /**
   * `count` suggestions to evaluate at once (the constant-liar strategy): after each one, the next is
   * suggested as if the earlier ones had scored `lie` (default: the worst value so far), which steers it away
   * from them. The lies are not kept. `askBatch(1)` is `ask()`.
   */
  readonly askBatch: (count: number, lie?: number) => ReadonlyArray<Params>
  readonly tell: (params: Params, value: number) => Either.Either<void, TPEError>
  /** The best trial so far (the first of the highest value), if any. */
  readonly best: () => Trial | undefined
}

/**
 * Builds a sampler; fails for an empty space or a parameter without choices.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (space: Space, options: Options = {}): Either.Either<Sampler, TPEError> =>
  Either.map(validateSpace(space), (space) => {
    const random = Random.make(options.seed ?? 0, "tpe")
    const trials: Array<Trial> = []
    return {
      space,
      trials,
      ask: () => suggest(space, trials, random, options),
      askBatch: (count, lie) => {
        const value =
          lie ?? (trials.length === 0 ? 0 : trials.reduce((m, t) => Math.min(m, t.value), Number.POSITIVE_INFINITY))
        const pending: Array<Trial> = []
        const out: Array<Params> = []
        for (let i = 0; i < count; i++) {
          const params = suggest(space, pending.length === 0 ? trials : [...trials, ...pending], random, options)
          out.push(params)
          pending.push({ params, value })
        }
        return out
      },
      tell: (params, value) =>
        Either.map(validateTrial(space, { params, value }), (t) => {
          trials.push({ params: { ...t.params }, value: t.value })
        }),
      best: () => trials.reduce<Trial | undefined>((b, t) => (b === undefined || t.value > b.value ? t : b), undefined)
    }
  })
