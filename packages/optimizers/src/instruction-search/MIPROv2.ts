/**
 * MIPROv2 (DSPy's multi-prompt instruction proposal optimizer): proposes instructions and bootstraps demo sets
 * for every predictor, then searches their combinations with a Bayesian sampler ({@link TPE}) over minibatch
 * trials (docs/optimizers.md, "How they work").
 *
 * @example
 * ```ts
 * import { ChainOfThought, Evaluate, Example, Signature } from "@effect-dspy/core"
 * import { MIPROv2, Optimizer } from "@effect-dspy/optimizers"
 * import * as Effect from "effect/Effect"
 *
 * const example = (question: string, answer: number) => Example.make({ question, answer }).withInputs("question")
 * const trainset = [example("What is 2 + 3?", 5), example("What is 7 - 4?", 3), example("What is 6 + 1?", 7)]
 * const valset = [example("What is 9 + 3?", 12), example("What is 8 - 5?", 3)]
 * const student = ChainOfThought.make(Signature.make("question -> answer: int"))
 *
 * // the best program found, its valset score and the trials; it needs the `LM` service
 * const result = Effect.map(
 *   Optimizer.compile(MIPROv2.make({ auto: "light" }), student, {
 *     trainset,
 *     valset,
 *     metric: Evaluate.answerExactMatch,
 *     seed: 0
 *   }),
 *   ({ program, report }) => ({ program, score: report.bestScore, trials: report.trials.length })
 * )
 * ```
 *
 * @since 0.1.0
 */
import { type Example, LM, Module, Predict } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as GroundedProposer from "./GroundedProposer.js"
import * as Pool from "./internal/coproPool.js"
import * as MiproDemos from "./internal/miproDemos.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError } from "../OptimizerError.js"
import * as TPE from "./TPE.js"

/**
 * The run modes.
 *
 * @since 0.1.0
 * @category models
 */
export type Auto = "light" | "medium" | "heavy"

/**
 * The sizes of each run mode: candidates `n` and valset size.
 *
 * @since 0.1.0
 * @category constants
 */
export const AUTO_RUN_SETTINGS: { readonly [A in Auto]: { readonly n: number; readonly valSize: number } } = {
  light: { n: 6, valSize: 100 },
  medium: { n: 12, valSize: 300 },
  heavy: { n: 18, valSize: 1000 }
}

/**
 * Minibatching is on (with `auto`) when the valset has more than this many examples.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_MINIBATCH_SIZE = 50

/**
 * Settings of MIPROv2 (DSPy's defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The LM that proposes instructions; default the `LM` in the context. */
  readonly promptModel?: LM.Service
  /** The LM the program runs on while it is scored; default the `LM` in the context. */
  readonly taskModel?: LM.Service
  readonly maxBootstrappedDemos?: number
  readonly maxLabeledDemos?: number
  /** The run mode (default `"light"`); `null` to size the run with `numCandidates` and `numTrials`. */
  readonly auto?: Auto | null
  readonly numCandidates?: number
  readonly numTrials?: number
  /** Score trials on minibatches (default true; with `auto`, on when the valset has more than 50 examples). */
  readonly minibatch?: boolean
  readonly minibatchSize?: number
  readonly minibatchFullEvalSteps?: number
  /** The seed of MIPROv2's choices, combined with the run's seed; default 9. */
  readonly seed?: number
  /** The base temperature of instruction proposals; default 0.5. */
  readonly initTemperature?: number
  readonly viewDataBatchSize?: number
  readonly programAwareProposer?: boolean
  readonly dataAwareProposer?: boolean
  readonly tipAwareProposer?: boolean
  readonly fewshotAwareProposer?: boolean
  readonly metricThreshold?: number
  /** Failed examples tolerated per evaluation (default: none counted; a failed example scores 0). */
  readonly maxErrors?: number
  /** TPE's uniform startup trials; default 10 (Optuna's). */
  readonly nStartupTrials?: number
  /**
   * Trials suggested and scored at once (default 1: DSPy's sequential search). Above 1, TPE suggests a batch
   * with the constant-liar strategy (pending trials count as the worst score so far) and the batch's
   * minibatches run in one bounded pool; batches never cross a full-evaluation step.
   */
  readonly parallelTrials?: number
}

/**
 * The number of trials: `floor(max(2 V log2(n), 1.5 n))` with `V` the predictors, doubled with demos.
 *
 * @since 0.1.0
 * @category sizing
 */
export const numTrialsFor = (numPredictors: number, numCandidates: number, zeroShot: boolean): number => {
  const v = zeroShot ? numPredictors : numPredictors * 2
  return Math.floor(Math.max(2 * v * Math.log2(numCandidates), 1.5 * numCandidates))
}

/**
 * The valset and trainset when no valset is given: the last 80% (at most 1,000, at least 1) is the valset.
 *
 * @since 0.1.0
 * @category sizing
 */
export const splitTrainset = <A>(
  trainset: ReadonlyArray<A>
): { readonly trainset: ReadonlyArray<A>; readonly valset: ReadonlyArray<A> } => {
  const valSize = Math.min(1000, Math.max(1, Math.floor(trainset.length * 0.8)))
  const cutoff = trainset.length - valSize
  return { trainset: trainset.slice(0, cutoff), valset: trainset.slice(cutoff) }
}

/**
 * The evaluations a run makes in step 3: one full evaluation of the default program, `numTrials` trials,
 * and (with minibatches) a full evaluation after every `steps` trials and after the last (DSPy's
 * "adjusted" trial count).
 *
 * @since 0.1.0
 * @category sizing
 */
export const adjustedTrials = (numTrials: number, steps: number, minibatch: boolean): number =>
  minibatch ? numTrials + Math.floor(numTrials / steps) + 1 + (numTrials % steps !== 0 ? 1 : 0) : numTrials

/**
 * One entry of the trial log.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrialLog {
  readonly trial: number
  readonly kind: "default" | "minibatch" | "full"
  readonly params: TPE.Params
  readonly score: number
  readonly examples: number
}

const fail = (option: string, message: string) => Effect.fail(new OptimizerConfigError({ option, message }))

const nonNegativeInt = (option: string, value: number) =>
  Number.isInteger(value) && value >= 0
    ? Effect.void
    : fail(option, `${option} must be a non-negative integer, got ${value}`)

const positiveInt = (option: string, value: number) =>
  Number.isInteger(value) && value >= 1
    ? Effect.void
    : fail(option, `${option} must be a positive integer, got ${value}`)

/**
 * MIPROv2 as an optimizer (see the module documentation).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Optimizer.Optimizer => {
  const maxB = options.maxBootstrappedDemos ?? 4
  const maxL = options.maxLabeledDemos ?? 4
  const auto = options.auto === undefined ? "light" : options.auto
  const seed = options.seed ?? 9
  const minibatchSize = options.minibatchSize ?? 35
  const steps = options.minibatchFullEvalSteps ?? 5
  const temperature = options.initTemperature ?? 0.5
  const settings = {
    maxBootstrappedDemos: maxB,
    maxLabeledDemos: maxL,
    auto,
    numCandidates: options.numCandidates ?? null,
    numTrials: options.numTrials ?? null,
    minibatch: options.minibatch ?? true,
    minibatchSize,
    minibatchFullEvalSteps: steps,
    seed,
    initTemperature: temperature,
    parallelTrials: options.parallelTrials ?? 1,
    promptModel:
      options.promptModel === undefined ? "task" : `${options.promptModel.provider}/${options.promptModel.model}`,
    taskModel: options.taskModel === undefined ? "context" : `${options.taskModel.provider}/${options.taskModel.model}`
  }
  return Optimizer.make({
    name: "MIPROv2",
    settings,
    compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
      Effect.gen(function* () {
        yield* nonNegativeInt("maxBootstrappedDemos", maxB)
        yield* nonNegativeInt("maxLabeledDemos", maxL)
        yield* positiveInt("minibatchSize", minibatchSize)
        yield* positiveInt("minibatchFullEvalSteps", steps)
        if (auto !== null && !(auto in AUTO_RUN_SETTINGS)) {
          return yield* fail("auto", `auto must be light, medium, heavy or null, got ${String(auto)}`)
        }
        if (auto === null && (options.numCandidates === undefined || options.numTrials === undefined)) {
          return yield* fail(
            "auto",
            `With auto: null, give numCandidates and numTrials${options.numCandidates === undefined ? "" : ` (about ${numTrialsFor(Module.namedPredictors(student).length, options.numCandidates, maxB === 0 && maxL === 0)} trials suit ${options.numCandidates} candidates)`}.`
          )
        }
        if (auto !== null && (options.numCandidates !== undefined || options.numTrials !== undefined)) {
          return yield* fail(
            "auto",
            "With auto set, numCandidates and numTrials come from the run mode: leave them out, or set auto: null."
          )
        }
        if (options.numCandidates !== undefined) yield* positiveInt("numCandidates", options.numCandidates)
        if (options.numTrials !== undefined) yield* positiveInt("numTrials", options.numTrials)
        const parallel = options.parallelTrials ?? 1
        yield* positiveInt("parallelTrials", parallel)
        const zeroShot = maxB === 0 && maxL === 0
        const predictors = Module.namedPredictors(student)
        const paths = predictors.map((p) => p.path)

        // Data.
        let trainset: ReadonlyArray<Example.Any> = run.trainset
        let valset: ReadonlyArray<Example.Any> = run.valset
        if (!run.valsetGiven) {
          if (run.trainset.length < 2) {
            return yield* fail(
              "trainset",
              "Without a valset, the trainset needs at least 2 examples (20% train, 80% val)."
            )
          }
          ;({ trainset, valset } = splitTrainset(run.trainset))
        }
        let minibatch = options.minibatch ?? true
        let numInstructions: number
        let numFewshot: number
        let numTrials: number
        if (auto !== null) {
          const preset = AUTO_RUN_SETTINGS[auto]
          valset = run.rng("mipro", seed, "valset").sample(valset, Math.min(preset.valSize, valset.length))
          minibatch = valset.length > MIN_MINIBATCH_SIZE
          numInstructions = zeroShot ? preset.n : Math.floor(preset.n * 0.5)
          numFewshot = preset.n
          numTrials = numTrialsFor(paths.length, preset.n, zeroShot)
        } else {
          numInstructions = options.numCandidates!
          numFewshot = options.numCandidates!
          numTrials = options.numTrials!
        }
        if (minibatch && minibatchSize > valset.length) {
          return yield* fail(
            "minibatchSize",
            `The minibatch size (${minibatchSize}) exceeds the valset (${valset.length} examples): lower it or give more data.`
          )
        }
        const outer = yield* LM.LM
        const promptModel = options.promptModel ?? outer

        const body = Effect.gen(function* () {
          // Step 1: demo sets.
          const demoSets = yield* MiproDemos.build(student, run, {
            count: numFewshot,
            trainset,
            maxBootstrappedDemos: zeroShot ? 3 : maxB,
            maxLabeledDemos: zeroShot ? 0 : maxL,
            seed,
            ...(options.metricThreshold !== undefined ? { metricThreshold: options.metricThreshold } : {})
          })
          // Step 2: instruction candidates.
          const proposerRng = run.rng("mipro", seed, "proposer")
          const proposed = yield* GroundedProposer.proposeInstructions(
            {
              program: student,
              trainset,
              demoCandidates: demoSets.sets,
              numCandidates: numInstructions,
              temperature,
              promptModel,
              random: proposerRng,
              concurrency: run.concurrency,
              programAware: options.programAwareProposer ?? true,
              useDatasetSummary: options.dataAwareProposer ?? true,
              useTip: options.tipAwareProposer ?? true,
              useTaskDemos: options.fewshotAwareProposer ?? true,
              ...(options.viewDataBatchSize !== undefined ? { viewDataBatchSize: options.viewDataBatchSize } : {})
            },
            (key, work) =>
              run.unit(
                `mipro/propose/${key}`,
                Effect.mapError(work, (e) => Pool.proposalFailed("MIPROv2's instruction proposal", e))
              )
          )
          const instructionCandidates = proposed.instructions
          const demoCandidates = zeroShot ? undefined : demoSets.sets

          // Step 3: the search.
          const space: Record<string, number> = {}
          paths.forEach((path, i) => {
            space[`${i}_predictor_instruction`] = instructionCandidates[path]!.length
            if (demoCandidates !== undefined) space[`${i}_predictor_demos`] = demoCandidates[path]!.length
          })
          const sampler = yield* Either.match(
            TPE.make(space, {
              seed: run.rng("mipro", seed, "tpe").int(2 ** 31),
              ...(options.nStartupTrials !== undefined ? { nStartupTrials: options.nStartupTrials } : {})
            }),
            {
              onLeft: (e) => fail("space", e.message),
              onRight: (s) => Effect.succeed(s)
            }
          )
          const assemble = (params: TPE.Params): P =>
            Module.mapPredictors(student, (p, path) => {
              const i = paths.indexOf(path)
              const withInstruction = Predict.withInstructions(
                p,
                instructionCandidates[path]![params[`${i}_predictor_instruction`]!]!
              )
              return demoCandidates === undefined
                ? withInstruction
                : Predict.withDemos(withInstruction, demoCandidates[path]![params[`${i}_predictor_demos`]!]!)
            })
          const evalOptions = (key: string) => ({
            key,
            ...(options.maxErrors !== undefined ? { maxErrors: options.maxErrors } : {})
          })
          const log: Array<TrialLog> = []
          const defaults: TPE.Params = Object.fromEntries(Object.keys(space).map((k) => [k, 0]))
          const baseline = yield* run.evaluate(student, valset, evalOptions("mipro/full/default"))
          let stoppedByBudget = demoSets.stoppedByBudget || proposed.stoppedByBudget || !baseline.complete
          let best: { program: P; score: number; params: TPE.Params } | undefined
          if (baseline.complete) {
            best = { program: student, score: baseline.score, params: defaults }
            yield* Either.match(sampler.tell(defaults, baseline.score), {
              onLeft: (e) => fail("space", e.message),
              onRight: () => Effect.void
            })
            log.push({ trial: 1, kind: "default", params: defaults, score: baseline.score, examples: valset.length })
            yield* run.trial({ id: "default", score: baseline.score, details: { kind: "full", params: defaults } })
          }
          const byCombo = new Map<string, { scores: Array<number>; params: TPE.Params }>()
          const fullyEvaluated = new Map<string, number>()
          const minibatchRng = run.rng("mipro", seed, "minibatch")
          const comboKey = (params: TPE.Params) =>
            Object.keys(space)
              .map((k) => params[k])
              .join(",")

          const fullEvaluation = (after: number) =>
            Effect.gen(function* () {
              const ranked = [...byCombo.entries()]
                .map(([key, v]) => ({
                  key,
                  params: v.params,
                  mean: v.scores.reduce((a, b) => a + b, 0) / v.scores.length
                }))
                .sort((a, b) => b.mean - a.mean)
              const next = ranked.find((r) => !fullyEvaluated.has(r.key))
              if (next === undefined) return
              const program = assemble(next.params)
              const full = yield* run.evaluate(program, valset, evalOptions(`mipro/full/${after}`))
              if (!full.complete) {
                stoppedByBudget = true
                return
              }
              fullyEvaluated.set(next.key, full.score)
              sampler.tell(next.params, full.score)
              log.push({
                trial: log.length + 1,
                kind: "full",
                params: next.params,
                score: full.score,
                examples: valset.length
              })
              yield* run.trial({
                id: `full after ${after}`,
                score: full.score,
                details: { kind: "full", params: next.params, minibatchMean: next.mean }
              })
              if (best === undefined || full.score > best.score)
                best = { program, score: full.score, params: next.params }
            })

          for (let k = 1; k <= numTrials && !stoppedByBudget; ) {
            // A batch of trials (one unless parallelTrials > 1) that never crosses a full-evaluation step.
            const untilStep = minibatch ? steps - ((k - 1) % steps) : numTrials
            const count = Math.min(parallel, numTrials - k + 1, untilStep)
            const asked = count === 1 ? [sampler.ask()] : sampler.askBatch(count)
            const plans = asked.map((params, j) => ({
              k: k + j,
              params,
              program: assemble(params),
              batch: minibatch ? minibatchRng.sample(valset, minibatchSize) : valset
            }))
            const results = yield* Effect.forEach(
              plans,
              (plan) => run.evaluate(plan.program, plan.batch, evalOptions(`mipro/trial/${plan.k}`)),
              { concurrency: "unbounded" }
            )
            for (let j = 0; j < plans.length; j++) {
              const { params, program, batch } = plans[j]!
              const result = results[j]!
              if (!result.complete) {
                stoppedByBudget = true
                break
              }
              sampler.tell(params, result.score)
              log.push({
                trial: log.length + 1,
                kind: minibatch ? "minibatch" : "full",
                params,
                score: result.score,
                examples: batch.length
              })
              yield* run.trial({
                id: `trial ${plans[j]!.k}`,
                score: result.score,
                details: { kind: minibatch ? "minibatch" : "full", params, examples: batch.length }
              })
              const key = comboKey(params)
              const entry = byCombo.get(key) ?? { scores: [], params }
              entry.scores.push(result.score)
              byCombo.set(key, entry)
              if (!minibatch && (best === undefined || result.score > best.score)) {
                best = { program, score: result.score, params }
              }
            }
            const last = k + count - 1
            if (!stoppedByBudget && minibatch && (last % steps === 0 || last === numTrials)) yield* fullEvaluation(last)
            k += count
          }

          return {
            program: best?.program ?? student,
            ...(best !== undefined ? { bestScore: best.score } : {}),
            ...(baseline.complete ? { baselineScore: baseline.score } : {}),
            details: {
              numTrials,
              adjustedTrials: adjustedTrials(numTrials, steps, minibatch),
              minibatch,
              valsetSize: valset.length,
              trainsetSize: trainset.length,
              numInstructionCandidates: numInstructions,
              numFewshotCandidates: numFewshot,
              bestParams: best?.params ?? defaults,
              instructionCandidates,
              demoSets: demoSets.kinds.map((k, i) => ({
                ...k,
                demos: Object.fromEntries(
                  paths.map((path) => [
                    path,
                    {
                      total: demoSets.sets[path]![i]!.length,
                      augmented: demoSets.sets[path]![i]!.filter(GroundedProposer.isAugmented).length
                    }
                  ])
                )
              })),
              bootstrapAttempts: demoSets.attempts,
              datasetSummary: proposed.datasetSummary ?? null,
              proposerCalls: proposed.calls,
              trialLog: log,
              stoppedByBudget
            }
          }
        })
        return yield* options.taskModel === undefined ? body : Effect.provideService(body, LM.LM, options.taskModel)
      })
  })
}
