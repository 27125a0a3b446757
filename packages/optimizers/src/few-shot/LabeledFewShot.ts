/**
 * LabeledFewShot (DSPy's `LabeledFewShot(k=16)`): every predictor gets a seeded random sample of `k`
 * training examples as demos (or the first `k` with `sample: false`). No LM call is made.
 *
 * @since 0.1.0
 */
import type { Random } from "@effect-dspy/foundation"
import { type Example, type Module, Predict } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as internal from "../internal/program.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError } from "../OptimizerError.js"

/**
 * Settings: `k` demos per predictor (default 16), sampled at random (default) or the first `k`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly k?: number
  readonly sample?: boolean
}

/**
 * The program with labeled demos: each predictor (in `namedPredictors` order) gets `min(k, n)` examples,
 * drawn from the generator keyed by its path.
 *
 * @since 0.1.0
 * @category combinators
 */
export const apply = <P extends Module.Program>(
  program: P,
  trainset: ReadonlyArray<Example.Any>,
  k: number,
  rng: (path: string) => Random.Random,
  sample = true
): P =>
  internal.mapWithPath(program, (predictor, path) =>
    Predict.withDemos(
      predictor,
      sample ? rng(path).sample(trainset, Math.min(k, trainset.length)) : trainset.slice(0, k)
    )
  )

/**
 * Checks `k`: a non-negative integer.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateK = (option: string, k: number): Effect.Effect<void, OptimizerConfigError> =>
  Number.isInteger(k) && k >= 0
    ? Effect.void
    : Effect.fail(new OptimizerConfigError({ option, message: `${option} must be a non-negative integer, got ${k}` }))

/**
 * The LabeledFewShot optimizer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (settings: Settings = {}): Optimizer.Optimizer => {
  const k = settings.k ?? 16
  const sample = settings.sample ?? true
  return Optimizer.make({
    name: "LabeledFewShot",
    settings: { k, sample },
    compile: (student, run) =>
      Effect.map(validateK("k", k), () => ({
        program: apply(student, run.trainset, k, (path) => run.rng("labeled", path), sample),
        details: { k, demos: Math.min(k, run.trainset.length) }
      }))
  })
}
