/**
 * MIPROv2's step 1 (DSPy's `create_n_fewshot_demo_sets`): `n` demo sets per predictor, built like random
 * search's candidates: set 0 no demos, set 1 labeled demos only (when `maxLabeledDemos > 0`), set 2 an
 * unshuffled BootstrapFewShot, the rest BootstrapFewShot over a seeded shuffle of the trainset with a random
 * number of bootstrapped demos in `[minNumSamples, maxBootstrappedDemos]`.
 */
import { type Example, type LM, Module, type Predict } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as BootstrapFewShot from "../../few-shot/BootstrapFewShot.js"
import * as LabeledFewShot from "../../few-shot/LabeledFewShot.js"
import type * as Optimizer from "../../Optimizer.js"
import type { OptimizerError } from "../../OptimizerError.js"

/**
 * How a demo set was made.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "zero-shot" | "labeled" | "bootstrap" | "bootstrap-shuffled"

/**
 * The demo sets: per predictor path, the list of sets (set index = position); and how each set was made.
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoSets {
  readonly sets: { readonly [path: string]: ReadonlyArray<ReadonlyArray<Predict.Demo>> }
  readonly kinds: ReadonlyArray<{ readonly kind: Kind; readonly size: number | undefined }>
  readonly stoppedByBudget: boolean
  /** Teacher runs the sequential walks count (what DSPy's one-at-a-time bootstrap would make). */
  readonly attempts: number
}

/**
 * Builds `count` demo sets per predictor (sequentially; each bootstrap runs its teacher calls concurrently).
 *
 * @since 0.1.0
 * @category constructors
 */
export const build = <P extends Module.Program>(
  student: P,
  run: Optimizer.Run,
  options: {
    readonly count: number
    readonly trainset: ReadonlyArray<Example.Any>
    readonly maxBootstrappedDemos: number
    readonly maxLabeledDemos: number
    readonly minNumSamples?: number
    readonly metricThreshold?: number
    readonly seed: number
  }
): Effect.Effect<DemoSets, OptimizerError, LM.LM> =>
  Effect.gen(function* () {
    const paths = Module.namedPredictors(student).map((p) => p.path)
    const sets: Record<string, Array<ReadonlyArray<Predict.Demo>>> = Object.fromEntries(paths.map((p) => [p, []]))
    const kinds: Array<{ kind: Kind; size: number | undefined }> = []
    const resolved = yield* BootstrapFewShot.resolve({
      maxBootstrappedDemos: options.maxBootstrappedDemos,
      maxLabeledDemos: options.maxLabeledDemos,
      ...(options.metricThreshold !== undefined ? { metricThreshold: options.metricThreshold } : {})
    })
    const minNumSamples = options.minNumSamples ?? 1
    let stoppedByBudget = false
    let attempts = 0
    const add = (program: Module.Program, kind: Kind, size: number | undefined) => {
      for (const { path, predictor } of Module.namedPredictors(program)) sets[path]!.push(predictor.demos)
      kinds.push({ kind, size })
    }
    for (let seed = -3; seed < options.count - 3; seed++) {
      if (seed === -3) {
        // Set 0 is always empty, whatever demos the student has.
        for (const path of paths) sets[path]!.push([])
        kinds.push({ kind: "zero-shot", size: undefined })
        continue
      }
      if (seed === -2 && options.maxLabeledDemos > 0) {
        add(
          LabeledFewShot.apply(student, options.trainset, options.maxLabeledDemos, (path) =>
            run.rng("mipro", options.seed, "demo-sets", seed, "labeled", path)
          ),
          "labeled",
          undefined
        )
        continue
      }
      const shuffled = seed !== -1
      const trainset = shuffled
        ? run.rng("mipro", options.seed, "demo-sets", seed, "shuffle").shuffle(options.trainset)
        : options.trainset
      const size = shuffled
        ? run.rng("mipro", options.seed, "demo-sets", seed, "size").between(minNumSamples, options.maxBootstrappedDemos)
        : options.maxBootstrappedDemos
      // Waves of at most 2 x the demos wanted: the walk's result is the same for any wave size, and a wave
      // of the full concurrency would run many teacher calls past the point where the walk stops.
      const env = { ...run, concurrency: Math.max(1, Math.min(run.concurrency, 2 * size)) }
      const result = yield* BootstrapFewShot.bootstrap(student, env, {
        trainset,
        teacher: run.teacher,
        settings: { ...resolved, maxBootstrappedDemos: size },
        scope: `mipro/demo-sets/${seed}`
      })
      if (result.stoppedByBudget) stoppedByBudget = true
      attempts += result.attempts
      add(result.program, shuffled ? "bootstrap-shuffled" : "bootstrap", size)
    }
    return { sets, kinds, stoppedByBudget, attempts }
  })
