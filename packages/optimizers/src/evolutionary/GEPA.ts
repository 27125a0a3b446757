/**
 * GEPA (reflective prompt evolution, DSPy's `GEPA`). The pool starts with the student scored on the valset;
 * for each valset example GEPA keeps the Pareto front: the candidates with the best score on it. Each
 * iteration draws a parent from the front (each non-dominated candidate weighted by how many examples it is
 * best on), runs it on a minibatch of 3 training examples with traces and the metric's feedback, and asks a
 * reflection LM to rewrite one predictor's instruction (round-robin over the predictors) from the current
 * instruction and the examples' inputs, outputs and feedback. When the rewritten program beats its parent on
 * the same minibatch it is scored on the full valset and joins the pool, updating the fronts. After an
 * accepted candidate, a merge may combine two front candidates that share an ancestor, component by
 * component. The run stops when the metric-call budget (an auto preset, `maxMetricCalls` or
 * `maxFullEvals`) cannot cover another iteration; the best candidate by average valset score is returned,
 * with the candidate tree and the fronts in the report.
 *
 * ```ts
 * const { program, report } = yield* Optimizer.compile(GEPA.make({ auto: "light" }), student, {
 *   trainset, valset, metric, seed: 0
 * })
 * ```
 *
 * The metric may give feedback (`Feedback.Metric`, passed as `metric` here) which the reflection LM sees;
 * plain metrics get DSPy's "This trajectory got a score of ..." text.
 *
 * @since 0.1.0
 */
import type { Example, LM } from "@effect-dspy/core"
import { Evaluate, Module, Predict } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import type * as Feedback from "../Feedback.js"
import * as Gepa from "./internal/gepa.js"
import * as Loop from "./internal/gepaLoop.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError } from "../OptimizerError.js"

/**
 * The options of GEPA. Give exactly one budget: `auto`, `maxMetricCalls` or `maxFullEvals`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A preset budget: DSPy's auto budget for 6 / 12 / 18 candidates. */
  readonly auto?: "light" | "medium" | "heavy"
  /** At most this many metric calls (each scored example is one). */
  readonly maxMetricCalls?: number
  /** At most this many full evaluations: `maxFullEvals x (trainset + valset)` metric calls. */
  readonly maxFullEvals?: number
  /** Training examples per reflection (default 3). */
  readonly reflectionMinibatchSize?: number
  /** Try merges of front candidates (default true). */
  readonly useMerge?: boolean
  /** At most this many merges tested (default 5). */
  readonly maxMergeInvocations?: number
  /** Valset examples a merge must hold up on before its full evaluation (default 5). */
  readonly mergeSubsampleSize?: number
  /** Skip the reflection when the parent is perfect on the minibatch (default true). */
  readonly skipPerfectScore?: boolean
  /** The perfect score (default 1). */
  readonly perfectScore?: number
  /** The LM that rewrites instructions (default: the LM in the context). */
  readonly reflectionLM?: LM.Service
  /** Its temperature (default 1.0, as DSPy recommends). */
  readonly reflectionTemperature?: number
  /** A metric with feedback, used instead of the run's metric. */
  readonly metric?: Feedback.Metric<Example.Any, Evaluate.AnyPrediction>
  /**
   * Writes a component's new instruction (DSPy's `instruction_proposer`); default {@link reflect}: the
   * reflection LM reads the current instruction and the examples with their outputs and feedback.
   */
  readonly instructionProposer?: InstructionProposer
}

/**
 * One example of the reflective dataset: the component's inputs, what it produced (or the program's error)
 * and the metric's feedback.
 *
 * @since 0.1.0
 * @category models
 */
export type ReflectionRecord = Gepa.ReflectionRecord

/**
 * What an instruction proposer gets: the component (predictor path) to rewrite, its current instruction,
 * the reflective dataset of the parent on the minibatch, and the reflection LM and temperature.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProposalInput {
  readonly component: string
  readonly currentInstruction: string
  readonly records: ReadonlyArray<ReflectionRecord>
  readonly reflectionLM: LM.Service | undefined
  readonly temperature: number
}

/**
 * Writes a new instruction for a component (an empty text or the current one means no proposal).
 *
 * @since 0.1.0
 * @category models
 */
export type InstructionProposer = (input: ProposalInput) => Effect.Effect<string, Predict.PredictError, LM.LM>

/**
 * The default proposer: one call of the reflection LM on {@link Gepa.proposeInstruction} with the current
 * instruction and the reflective dataset as markdown (per example its inputs, generated outputs, feedback).
 *
 * @since 0.1.0
 * @category proposers
 */
export const reflect: InstructionProposer = (input) =>
  Effect.map(
    Predict.forward(
      Predict.withLM(Predict.make(Gepa.proposeInstruction, { temperature: input.temperature }), input.reflectionLM),
      {
        current_instruction: input.currentInstruction,
        examples_with_feedback: Gepa.formatDataset(input.records)
      }
    ),
    (p) => String(p.get("new_instruction") ?? "").trim()
  )

/**
 * A candidate as the report shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CandidateInfo {
  readonly id: number
  readonly parents: ReadonlyArray<number>
  readonly origin: "seed" | "reflection" | "merge"
  readonly component: string | null
  readonly iteration: number
  /** Average valset score (0 to 1). */
  readonly average: number
  readonly valScores: ReadonlyArray<number>
  readonly instructions: { readonly [path: string]: string }
}

/**
 * The optimizer-specific part of the report (`report.details`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Details {
  readonly bestId: number
  readonly candidates: ReadonlyArray<CandidateInfo>
  /** Per valset example: the best score and the candidates achieving it. */
  readonly fronts: ReadonlyArray<{ readonly best: number; readonly members: ReadonlyArray<number> }>
  readonly iterations: ReadonlyArray<Loop.IterationLog>
  readonly metricCalls: number
  readonly maxMetricCalls: number
  readonly reflectionCalls: number
  readonly mergesTested: number
  readonly mergesAccepted: number
  readonly budgetExhausted: boolean
  readonly stopReason: string
}

const fail = (option: string, message: string) => Effect.fail(new OptimizerConfigError({ option, message }))

/**
 * The metric-call budget of a run: the explicit one, or `maxFullEvals x (train + val)`, or the auto
 * preset's (DSPy's formula over the number of predictors and the valset size).
 *
 * @since 0.1.0
 * @category budget
 */
export const resolveBudget = (
  options: Options,
  numPredictors: number,
  trainsetSize: number,
  valsetSize: number
): Effect.Effect<number, OptimizerConfigError> => {
  const given = [options.auto, options.maxMetricCalls, options.maxFullEvals].filter((x) => x !== undefined)
  if (given.length !== 1) {
    return fail(
      "GEPA.budget",
      `GEPA needs exactly one budget: auto ("light" | "medium" | "heavy"), maxMetricCalls or maxFullEvals; got ${given.length}`
    )
  }
  if (options.auto !== undefined) {
    if (!(options.auto in Gepa.autoCandidates)) {
      return fail("GEPA.auto", `GEPA auto must be "light", "medium" or "heavy", got ${String(options.auto)}`)
    }
    return Effect.succeed(Gepa.autoBudget(numPredictors, Gepa.autoCandidates[options.auto], valsetSize))
  }
  if (options.maxFullEvals !== undefined) {
    if (!(Number.isInteger(options.maxFullEvals) && options.maxFullEvals >= 1)) {
      return fail("GEPA.maxFullEvals", `GEPA maxFullEvals must be a positive integer, got ${options.maxFullEvals}`)
    }
    return Effect.succeed(options.maxFullEvals * (trainsetSize + valsetSize))
  }
  const calls = options.maxMetricCalls!
  if (!(Number.isInteger(calls) && calls >= 1)) {
    return fail("GEPA.maxMetricCalls", `GEPA maxMetricCalls must be a positive integer, got ${calls}`)
  }
  return Effect.succeed(calls)
}

const resolve = (
  options: Options,
  maxMetricCalls: number,
  valsetSize: number
): Effect.Effect<Loop.Settings, OptimizerConfigError> => {
  const settings: Loop.Settings = {
    maxMetricCalls,
    minibatchSize: options.reflectionMinibatchSize ?? 3,
    useMerge: options.useMerge ?? true,
    maxMergeInvocations: options.maxMergeInvocations ?? 5,
    mergeSubsampleSize: options.mergeSubsampleSize ?? 5,
    skipPerfectScore: options.skipPerfectScore ?? true,
    perfectScore: options.perfectScore ?? 1,
    reflectionLM: options.reflectionLM,
    reflectionTemperature: options.reflectionTemperature ?? 1,
    proposer: options.instructionProposer ?? reflect
  }
  const ints: ReadonlyArray<readonly [string, number, number]> = [
    ["reflectionMinibatchSize", settings.minibatchSize, 1],
    ["maxMergeInvocations", settings.maxMergeInvocations, 0],
    ["mergeSubsampleSize", settings.mergeSubsampleSize, 1]
  ]
  for (const [option, value, min] of ints) {
    if (!(Number.isInteger(value) && value >= min)) {
      return fail(`GEPA.${option}`, `GEPA ${option} must be an integer >= ${min}, got ${value}`)
    }
  }
  if (!(Number.isFinite(settings.reflectionTemperature) && settings.reflectionTemperature >= 0)) {
    return fail(
      "GEPA.reflectionTemperature",
      `GEPA reflectionTemperature must be >= 0, got ${settings.reflectionTemperature}`
    )
  }
  if (maxMetricCalls < valsetSize) {
    return fail(
      "GEPA.maxMetricCalls",
      `GEPA's budget of ${maxMetricCalls} metric calls cannot cover one evaluation of the ${valsetSize}-example valset: raise the budget or use a smaller valset`
    )
  }
  return Effect.succeed(settings)
}

/**
 * GEPA as an optimizer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Optimizer.Optimizer =>
  Optimizer.make({
    name: "GEPA",
    settings: {
      auto: options.auto ?? null,
      maxMetricCalls: options.maxMetricCalls ?? null,
      maxFullEvals: options.maxFullEvals ?? null,
      reflectionMinibatchSize: options.reflectionMinibatchSize ?? 3,
      useMerge: options.useMerge ?? true,
      maxMergeInvocations: options.maxMergeInvocations ?? 5,
      mergeSubsampleSize: options.mergeSubsampleSize ?? 5,
      skipPerfectScore: options.skipPerfectScore ?? true,
      perfectScore: options.perfectScore ?? 1,
      reflectionLM: options.reflectionLM === undefined ? null : options.reflectionLM.model,
      reflectionTemperature: options.reflectionTemperature ?? 1,
      feedbackMetric: options.metric !== undefined,
      instructionProposer: options.instructionProposer === undefined ? "reflect" : "custom"
    },
    compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
      Effect.gen(function* () {
        const numPredictors = Module.namedPredictors(student).length
        if (numPredictors === 0) {
          return yield* fail("student", "GEPA needs a program with at least one predictor to rewrite")
        }
        const budget = yield* resolveBudget(options, numPredictors, run.trainset.length, run.valset.length)
        const settings = yield* resolve(options, budget, run.valset.length)
        const metric = (options.metric ?? run.metric) as Feedback.Metric<Example.Any, never>
        const outcome = yield* Loop.run(student, settings, run, metric)
        const details: Details = {
          bestId: outcome.bestId,
          candidates: outcome.candidates.map((c) => ({
            id: c.id,
            parents: c.parents,
            origin: c.origin,
            component: c.component,
            iteration: c.iteration,
            average: c.average,
            valScores: c.valScores,
            instructions: c.texts
          })),
          fronts: outcome.fronts.best.map((best, i) => ({
            best,
            members: [...outcome.fronts.members[i]!].sort((a, b) => a - b)
          })),
          iterations: outcome.iterations,
          metricCalls: outcome.metricCalls,
          maxMetricCalls: budget,
          reflectionCalls: outcome.reflectionCalls,
          mergesTested: outcome.mergesTested,
          mergesAccepted: outcome.mergesAccepted,
          budgetExhausted: outcome.budgetExhausted,
          stopReason: outcome.stopReason
        }
        const best = outcome.candidates[outcome.bestId]
        const seed = outcome.candidates[0]
        return {
          program: outcome.program as P,
          ...(best === undefined ? {} : { bestScore: Evaluate.roundHalfEven(100 * best.average) }),
          ...(seed === undefined ? {} : { baselineScore: Evaluate.roundHalfEven(100 * seed.average) }),
          details: details as unknown as { readonly [key: string]: unknown }
        }
      })
  })
