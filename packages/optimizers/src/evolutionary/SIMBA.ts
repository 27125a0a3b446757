/**
 * SIMBA (stochastic introspective mini-batch ascent, DSPy's `SIMBA`). Each step takes a minibatch of the
 * trainset and runs it `numCandidates` times, each run with its own LM variant (rollout id, temperature 1)
 * and a program drawn from the pool's best by softmax over average scores (temperature 0.2). The examples
 * where the runs disagree most (largest max - min score spread) seed new programs: either the best run's
 * calls become demos (the oldest beyond `maxDemos` dropped) or an LM compares the best and worst runs and
 * writes advice per module, appended to its instructions. New programs are scored on the same minibatch and
 * join the pool; each step's best is a winner. At the end the winners (spread evenly, the student included)
 * are scored on the full trainset and the best is returned.
 *
 * ```ts
 * const { program, report } = yield* Optimizer.compile(SIMBA.make({ bsize: 16, maxSteps: 4 }), student, {
 *   trainset, metric, seed: 0, concurrency: 16
 * })
 * ```
 *
 * A metric with feedback (`Feedback.Metric`, given as `metric`) has its text shown to the advice LM (DSPy's
 * reward info). When the budget runs out before the winners are scored on the trainset, the student is
 * returned: no candidate has been shown better on the full trainset.
 *
 * Rollouts, advice calls and evaluations run concurrently (the run's concurrency) as budgeted, checkpointed
 * units; random choices are drawn up front from keyed generators, so the same seed gives the same program.
 *
 * @since 0.1.0
 */
import type { Example, LM } from "@effect-dspy/core"
import { Evaluate, Module } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import type * as Feedback from "../Feedback.js"
import * as Loop from "./internal/simbaLoop.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError } from "../OptimizerError.js"

/**
 * The options of SIMBA (DSPy's defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Minibatch size (default 32; capped at the trainset size). */
  readonly bsize?: number
  /** LM variants per step and new programs per step minus one (default 6). */
  readonly numCandidates?: number
  /** Steps (default 8). */
  readonly maxSteps?: number
  /** Demos per predictor (default 4; 0 disables the demo strategy). */
  readonly maxDemos?: number
  /** Softmax temperature when drawing programs for the rollouts (default 0.2). */
  readonly temperatureForSampling?: number
  /** Softmax temperature when drawing the source program of a new candidate (default 0.2). */
  readonly temperatureForCandidates?: number
  /** Sampling temperature of the LM variants (default 1.0, as DSPy). */
  readonly variantTemperature?: number
  /** The LM that writes advice (default: the LM in the context). */
  readonly promptModel?: LM.Service
  /** A metric with feedback, used instead of the run's metric; the advice LM sees its text. */
  readonly metric?: Feedback.Metric<Example.Any, Evaluate.AnyPrediction>
}

/**
 * The optimizer-specific part of the report (`report.details`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Details {
  readonly steps: ReadonlyArray<Loop.StepLog>
  readonly pool: ReadonlyArray<{
    readonly id: number
    readonly parent: number | null
    readonly strategy: "student" | "demo" | "rule"
    readonly applied: boolean
    readonly step: number
    readonly minibatchScore: number | null
  }>
  readonly winners: ReadonlyArray<number>
  readonly finalists: ReadonlyArray<{ readonly id: number; readonly score: number }>
  readonly bestId: number
  readonly metricCalls: number
  readonly advisorCalls: number
  readonly programErrors: number
  readonly budgetExhausted: boolean
}

const resolve = (options: Options): Loop.Settings => ({
  bsize: options.bsize ?? 32,
  numCandidates: options.numCandidates ?? 6,
  maxSteps: options.maxSteps ?? 8,
  maxDemos: options.maxDemos ?? 4,
  temperatureForSampling: options.temperatureForSampling ?? 0.2,
  temperatureForCandidates: options.temperatureForCandidates ?? 0.2,
  variantTemperature: options.variantTemperature ?? 1,
  promptModel: options.promptModel
})

/**
 * Checks the settings: sizes are positive integers (`maxDemos` may be 0), temperatures positive.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (settings: Loop.Settings): Effect.Effect<Loop.Settings, OptimizerConfigError> => {
  const ints: ReadonlyArray<readonly [string, number, number]> = [
    ["bsize", settings.bsize, 1],
    ["numCandidates", settings.numCandidates, 1],
    ["maxSteps", settings.maxSteps, 1],
    ["maxDemos", settings.maxDemos, 0]
  ]
  for (const [option, value, min] of ints) {
    if (!(Number.isInteger(value) && value >= min)) {
      return Effect.fail(
        new OptimizerConfigError({
          option: `SIMBA.${option}`,
          message: `SIMBA ${option} must be an integer >= ${min}, got ${value}`
        })
      )
    }
  }
  const temps: ReadonlyArray<readonly [string, number]> = [
    ["temperatureForSampling", settings.temperatureForSampling],
    ["temperatureForCandidates", settings.temperatureForCandidates]
  ]
  for (const [option, value] of temps) {
    if (!(Number.isFinite(value) && value > 0)) {
      return Effect.fail(
        new OptimizerConfigError({
          option: `SIMBA.${option}`,
          message: `SIMBA ${option} must be a positive number, got ${value}`
        })
      )
    }
  }
  if (!(Number.isFinite(settings.variantTemperature) && settings.variantTemperature >= 0)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "SIMBA.variantTemperature",
        message: `SIMBA variantTemperature must be >= 0, got ${settings.variantTemperature}`
      })
    )
  }
  return Effect.succeed(settings)
}

/**
 * The metric calls DSPy's SIMBA makes for the same settings when nothing fails: per step `numCandidates x
 * bsize` rollouts and `(numCandidates + 1) x bsize` candidate scores, then the finalists on the trainset.
 *
 * @since 0.1.0
 * @category accounting
 */
export const expectedMetricCalls = (
  settings: Pick<Loop.Settings, "bsize" | "numCandidates" | "maxSteps">,
  trainsetSize: number
): number => {
  const b = Math.min(settings.bsize, trainsetSize)
  const perStep = settings.numCandidates * b + (settings.numCandidates + 1) * b
  const finalists = Loop.finalistIndices(settings.maxSteps + 1, settings.numCandidates).length
  return settings.maxSteps * perStep + finalists * trainsetSize
}

/**
 * SIMBA as an optimizer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Optimizer.Optimizer => {
  const settings = resolve(options)
  return Optimizer.make({
    name: "SIMBA",
    settings: {
      bsize: settings.bsize,
      numCandidates: settings.numCandidates,
      maxSteps: settings.maxSteps,
      maxDemos: settings.maxDemos,
      temperatureForSampling: settings.temperatureForSampling,
      temperatureForCandidates: settings.temperatureForCandidates,
      variantTemperature: settings.variantTemperature,
      promptModel: settings.promptModel === undefined ? null : settings.promptModel.model,
      feedbackMetric: options.metric !== undefined
    },
    compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
      Effect.gen(function* () {
        yield* validate(settings)
        const metric = (options.metric ?? run.metric) as Feedback.Metric<Example.Any, never>
        const outcome = yield* Loop.run(student, settings, run, metric)
        const details: Details = {
          steps: outcome.steps,
          pool: outcome.pool.map((p) => ({
            id: p.id,
            parent: p.parent ?? null,
            strategy: p.strategy,
            applied: p.applied,
            step: p.step,
            minibatchScore:
              p.scores.length === 0 ? null : p.scores.reduce((a, b) => a + b, 0) / Math.max(1, p.scores.length)
          })),
          winners: outcome.winners,
          finalists: outcome.finalists,
          bestId: outcome.bestId,
          metricCalls: outcome.metricCalls,
          advisorCalls: outcome.advisorCalls,
          programErrors: outcome.programErrors,
          budgetExhausted: outcome.budgetExhausted
        }
        const percent = (x: number | undefined) =>
          x === undefined || Number.isNaN(x) ? undefined : Evaluate.roundHalfEven(100 * x)
        const bestScore = percent(outcome.bestScore)
        const baselineScore = percent(outcome.baselineScore)
        return {
          program: outcome.program as P,
          ...(bestScore === undefined ? {} : { bestScore }),
          ...(baselineScore === undefined ? {} : { baselineScore }),
          details: details as unknown as { readonly [key: string]: unknown }
        }
      })
  })
}

/**
 * The predictor paths whose instructions or demos differ between two programs (what SIMBA changed).
 *
 * @since 0.1.0
 * @category accessors
 */
export const changedPredictors = (before: Module.Program, after: Module.Program): ReadonlyArray<string> => {
  const a = Module.dumpState(before).predictors
  const b = Module.dumpState(after).predictors
  return Object.keys(b).filter((path) => JSON.stringify(a[path]) !== JSON.stringify(b[path]))
}
