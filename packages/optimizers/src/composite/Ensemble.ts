/**
 * Ensemble (DSPy's `Ensemble(reduce_fn, size)`): one program that runs several programs on the same inputs
 * and reduces their predictions, by default to the majority value of the last output field
 * (`Majority.majority`, ties to the earliest program). With `size`, each call runs `size` programs drawn at
 * random, seeded by the ensemble's seed and the inputs (the same inputs always pick the same programs).
 * The programs run concurrently (bounded by `concurrency`, default all at once); their predictors are the
 * ensemble's parameters (`programs[i]...`), so save/load keeps every member's demos and instructions.
 *
 * @since 0.1.0
 */
import { CanonicalJson, Random } from "@effect-dspy/foundation"
import { type Evaluate, Example, type LM, Majority, Module, Prediction } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import { OptimizerConfigError } from "../OptimizerError.js"

/**
 * Settings: the reducer (default majority), how many programs per call, the seed and the concurrency.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly reduceFn?: (predictions: ReadonlyArray<Evaluate.AnyPrediction>) => Evaluate.AnyPrediction
  readonly size?: number
  readonly seed?: number
  readonly concurrency?: number
}

/**
 * The ensembled program.
 *
 * @since 0.1.0
 * @category models
 */
export type Ensembled = Module.Module<
  { readonly programs: ReadonlyArray<Module.Program> },
  Example.Fields,
  Evaluate.AnyPrediction,
  unknown,
  LM.LM
>

/**
 * The default reducer: the majority value of the last output field across the predictions, with the usage
 * and LM calls of all of them.
 *
 * @since 0.1.0
 * @category reducers
 */
export const majority = (predictions: ReadonlyArray<Evaluate.AnyPrediction>): Evaluate.AnyPrediction => {
  const chosen = Majority.majority(predictions.map((p) => p.fields))
  let usage = predictions[0]?.usage
  let lmCalls = 0
  for (const p of predictions) {
    lmCalls += p.lmCalls
    if (usage !== undefined && p !== predictions[0]) usage = Prediction.addUsage(usage, p.usage)
  }
  return Prediction.make(chosen.completions, usage === undefined ? { lmCalls } : { usage, lmCalls })
}

/**
 * Builds the ensemble of the programs. Fails when there are none, or `size` is not in `[1, programs]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  programs: ReadonlyArray<Module.Program>,
  settings: Settings = {}
): Effect.Effect<Ensembled, OptimizerConfigError> => {
  if (programs.length === 0) {
    return Effect.fail(
      new OptimizerConfigError({ option: "programs", message: "An ensemble needs at least one program." })
    )
  }
  const size = settings.size
  if (size !== undefined && !(Number.isInteger(size) && size >= 1 && size <= programs.length)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "size",
        message: `size must be an integer in [1, ${programs.length}] (the number of programs), got ${size}`
      })
    )
  }
  const concurrency = settings.concurrency ?? programs.length
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "concurrency",
        message: `concurrency must be a positive integer, got ${concurrency}`
      })
    )
  }
  const reduce = settings.reduceFn ?? majority
  const seed = settings.seed ?? 0
  return Effect.succeed(
    Module.make({
      name: "Ensemble",
      parameters: { programs },
      forward: (p, inputs: Example.Fields) => {
        const members = p.programs as unknown as ReadonlyArray<
          (inputs: Example.Fields) => Effect.Effect<Evaluate.AnyPrediction, unknown, LM.LM>
        >
        const chosen =
          size === undefined
            ? members
            : Random.make(seed, "ensemble", CanonicalJson.stringify(inputs))
                .sample(
                  members.map((_, i) => i),
                  size
                )
                .map((i) => members[i]!)
        return Effect.map(
          Effect.forEach(chosen, (member) => member(inputs), { concurrency }),
          (predictions) => reduce(predictions)
        )
      }
    })
  )
}

/**
 * Runs an ensemble on an example's inputs.
 *
 * @since 0.1.0
 * @category running
 */
export const call = (
  ensemble: Ensembled,
  example: Example.Any
): Effect.Effect<Evaluate.AnyPrediction, unknown, LM.LM> =>
  Module.call(ensemble, Example.isExample(example) ? example.inputs().toRecord() : example)
