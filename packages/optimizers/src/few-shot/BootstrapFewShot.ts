/**
 * BootstrapFewShot (DSPy's `BootstrapFewShot`): a teacher runs on the training examples with tracing, and the
 * predictor calls of each run the metric accepts become demos for the student. The walk over the trainset runs
 * `concurrency` examples at once with the sequential walk's result (docs/optimizers.md, "How they work").
 *
 * @example
 * ```ts
 * import { ChainOfThought, Evaluate, Example, Module, Signature } from "@effect-dspy/core"
 * import { BootstrapFewShot, Optimizer } from "@effect-dspy/optimizers"
 * import * as Effect from "effect/Effect"
 *
 * const trainset = [
 *   Example.make({ question: "What is 2 + 3?", answer: 5 }).withInputs("question"),
 *   Example.make({ question: "What is 7 - 4?", answer: 3 }).withInputs("question")
 * ]
 * const student = ChainOfThought.make(Signature.make("question -> answer: int"))
 *
 * // a new program whose predictor has up to 4 bootstrapped demos; it needs the `LM` service
 * const demos = Effect.map(
 *   Optimizer.compile(BootstrapFewShot.make({ maxBootstrappedDemos: 4 }), student, {
 *     trainset,
 *     metric: Evaluate.answerExactMatch,
 *     seed: 0
 *   }),
 *   ({ program }) => Module.namedPredictors(program).map(({ path, predictor }) => [path, predictor.demos.length])
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Example, type LM, Module, Predict, Trace } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Equal from "effect/Equal"
import * as Option from "effect/Option"
import * as internal from "../internal/program.js"
import * as LabeledFewShot from "./LabeledFewShot.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError, type OptimizerError, TooManyErrors } from "../OptimizerError.js"

/**
 * Settings (DSPy's defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Success needs a metric value of at least this (default: any non-zero value). */
  readonly metricThreshold?: number
  /** Examples to bootstrap (default 4). */
  readonly maxBootstrappedDemos?: number
  /** Demos per predictor in total, labeled examples filling after the bootstrapped ones (default 16). */
  readonly maxLabeledDemos?: number
  /** Attempts per example (default 1). */
  readonly maxRounds?: number
  /** Failed teacher runs tolerated (default 10). */
  readonly maxErrors?: number
}

/**
 * Settings with the defaults filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly metricThreshold: number | undefined
  readonly maxBootstrappedDemos: number
  readonly maxLabeledDemos: number
  readonly maxRounds: number
  readonly maxErrors: number
}

/**
 * The defaults filled in and checked.
 *
 * @since 0.1.0
 * @category validation
 */
export const resolve = (settings: Settings): Effect.Effect<Resolved, OptimizerConfigError> => {
  const resolved: Resolved = {
    metricThreshold: settings.metricThreshold,
    maxBootstrappedDemos: settings.maxBootstrappedDemos ?? 4,
    maxLabeledDemos: settings.maxLabeledDemos ?? 16,
    maxRounds: settings.maxRounds ?? 1,
    maxErrors: settings.maxErrors ?? 10
  }
  const checks: Array<[string, number, number]> = [
    ["maxBootstrappedDemos", resolved.maxBootstrappedDemos, 0],
    ["maxLabeledDemos", resolved.maxLabeledDemos, 0],
    ["maxRounds", resolved.maxRounds, 1],
    ["maxErrors", resolved.maxErrors, 1]
  ]
  for (const [option, value, min] of checks) {
    if (!(Number.isInteger(value) && value >= min)) {
      return Effect.fail(
        new OptimizerConfigError({ option, message: `${option} must be an integer >= ${min}, got ${value}` })
      )
    }
  }
  if (resolved.metricThreshold !== undefined && !Number.isFinite(resolved.metricThreshold)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "metricThreshold",
        message: `metricThreshold must be a finite number, got ${resolved.metricThreshold}`
      })
    )
  }
  return Effect.succeed(resolved)
}

/**
 * What bootstrapping needs from a run (a full `Optimizer.Run` has it; KNNFewShot builds one per call).
 *
 * @since 0.1.0
 * @category models
 */
export type Env = Pick<Optimizer.Run, "unit" | "forEach" | "rng" | "metric" | "concurrency">

/**
 * The outcome of one teacher run, as stored in checkpoints.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt {
  readonly success: boolean
  readonly error?: string
  readonly trace: ReadonlyArray<Trace.Entry>
}

/**
 * The result of bootstrapping: the student with its new demos, the teacher used, the trainset indexes that
 * were bootstrapped (in order), the augmented demos by predictor path, the teacher runs counted (those the
 * sequential walk makes) and failed, and whether the budget stopped the walk.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bootstrapped<P> {
  readonly program: P
  readonly teacher: Module.Program
  readonly bootstrapped: ReadonlyArray<number>
  readonly traces: { readonly [path: string]: ReadonlyArray<Example.Any> }
  readonly attempts: number
  readonly errors: number
  readonly stoppedByBudget: boolean
}

const paths = (program: Module.Program): ReadonlyArray<string> => Module.namedPredictors(program).map((p) => p.path)

const withoutExample = <P extends Module.Program>(program: P, example: Example.Any): P =>
  internal.mapWithPath(program, (predictor) =>
    predictor.demos.some((d) => Equal.equals(d, example))
      ? Predict.withDemos(
          predictor,
          predictor.demos.filter((d) => !Equal.equals(d, example))
        )
      : predictor
  )

/**
 * The teacher of a bootstrap: the given one (or the student), with LabeledFewShot demos when it has none and
 * `maxLabeledDemos > 0`. Fails when the teacher's predictors are not the student's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepareTeacher = (
  student: Module.Program,
  teacher: Module.Program | undefined,
  trainset: ReadonlyArray<Example.Any>,
  settings: Resolved,
  env: Pick<Env, "rng">,
  scope: string
): Effect.Effect<Module.Program, OptimizerConfigError> => {
  const base = teacher ?? student
  const studentPaths = paths(student).join(",")
  if (paths(base).join(",") !== studentPaths) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "teacher",
        message: `The teacher's predictors [${paths(base).join(", ")}] are not the student's [${studentPaths}]: give a teacher with the same structure.`
      })
    )
  }
  if (settings.maxLabeledDemos > 0 && !internal.hasDemos(base)) {
    return Effect.succeed(
      LabeledFewShot.apply(base, trainset, settings.maxLabeledDemos, (path) => env.rng(scope, "teacher-labeled", path))
    )
  }
  return Effect.succeed(base)
}

const runTeacher = (
  teacher: Module.Program,
  example: Example.Any,
  round: number,
  env: Env,
  settings: Resolved
): Effect.Effect<Attempt, never, LM.LM> => {
  const run = Trace.traced(internal.callProgram(withoutExample(teacher, example), example))
  const overridden = round > 0 ? Predict.withOverrides({ rolloutId: round, temperature: 1.0 })(run) : run
  return Effect.matchEffect(
    Effect.flatMap(overridden, ({ trace, value }) =>
      Effect.map(Optimizer.score(env.metric, example, value, trace), (score) => ({ score, trace }))
    ),
    {
      onFailure: (error) =>
        Effect.succeed<Attempt>({ success: false, error: internal.describeError(error), trace: [] }),
      onSuccess: ({ score, trace }) => {
        const success = settings.metricThreshold === undefined ? score !== 0 : score >= settings.metricThreshold
        return Effect.succeed<Attempt>({ success, trace: success ? trace : [] })
      }
    }
  )
}

/**
 * Bootstraps demos for a student (steps 1-4 above). `scope` names this bootstrap in unit keys and random
 * choices: two bootstraps of one run (random search candidates) need different scopes.
 *
 * @since 0.1.0
 * @category bootstrapping
 */
export const bootstrap = <P extends Module.Program>(
  student: P,
  env: Env,
  options: {
    readonly trainset: ReadonlyArray<Example.Any>
    readonly teacher?: Module.Program | undefined
    readonly settings: Resolved
    readonly scope: string
  }
): Effect.Effect<Bootstrapped<P>, OptimizerError, LM.LM> =>
  Effect.gen(function* () {
    const { trainset, settings, scope } = options
    const teacher = yield* prepareTeacher(student, options.teacher, trainset, settings, env, scope)
    const successes: Array<number> = []
    const traces: Record<string, Array<Example.Any>> = Object.fromEntries(paths(student).map((p) => [p, []]))
    let attempts = 0
    let errors = 0
    let stoppedByBudget = false

    // One example: its rounds in order until one succeeds (None: the budget stopped it before that round).
    const attemptExample = (index: number) =>
      Effect.gen(function* () {
        const rounds: Array<Option.Option<Attempt>> = []
        for (let round = 0; round < settings.maxRounds; round++) {
          const attempt = yield* env.unit(
            `${scope}/${index}/r${round}`,
            runTeacher(teacher, trainset[index]!, round, env, settings)
          )
          rounds.push(attempt)
          if (Option.isNone(attempt) || attempt.value.success) break
        }
        return rounds
      })

    // The sequential walk, taking finished examples in trainset order.
    const results: Array<ReadonlyArray<Option.Option<Attempt>> | undefined> = new Array(trainset.length)
    let taken = 0
    let done = false
    let failure: TooManyErrors | undefined
    const takeReady = () => {
      while (!done && successes.length < settings.maxBootstrappedDemos && results[taken] !== undefined) {
        const index = taken++
        for (const attempt of results[index]!) {
          if (Option.isNone(attempt)) {
            stoppedByBudget = true
            done = true
            break
          }
          attempts++
          if (attempt.value.error !== undefined) {
            errors++
            if (errors >= settings.maxErrors) {
              failure = new TooManyErrors({
                errors,
                maxErrors: settings.maxErrors,
                lastError: attempt.value.error,
                message: `Bootstrapping stopped: ${errors} teacher runs failed (maxErrors = ${settings.maxErrors}); last error: ${attempt.value.error}. Fix the program or raise maxErrors.`
              })
              done = true
              break
            }
          }
          if (attempt.value.success) {
            successes.push(index)
            addTraces(traces, attempt.value.trace, env, scope, index)
            break
          }
        }
      }
      if (successes.length >= settings.maxBootstrappedDemos || taken >= trainset.length) done = true
    }

    // Fed by a sliding window: at most `concurrency` examples in flight, none more than `concurrency - 1`
    // past the first one not yet taken. When the walk ends, examples still in flight are interrupted.
    const width = Math.max(1, env.concurrency)
    yield* Effect.scoped(
      Effect.gen(function* () {
        const finished =
          yield* Queue.unbounded<readonly [number, Exit.Exit<ReadonlyArray<Option.Option<Attempt>>, OptimizerError>]>()
        let launched = 0
        let inFlight = 0
        const launch = Effect.suspend(() => {
          const starts: Array<number> = []
          while (!done && inFlight < width && launched < Math.min(trainset.length, taken + width)) {
            starts.push(launched++)
            inFlight++
          }
          return Effect.forEach(
            starts,
            (index) =>
              Effect.forkScoped(
                Effect.flatMap(Effect.exit(attemptExample(index)), (exit) => finished.offer([index, exit]))
              ),
            { discard: true }
          )
        })
        takeReady()
        yield* launch
        while (!done && inFlight > 0) {
          const [index, exit] = yield* finished.take
          inFlight--
          if (Exit.isFailure(exit)) return yield* exit
          results[index] = exit.value
          takeReady()
          yield* launch
        }
      })
    )
    if (failure !== undefined) return yield* failure

    // Step 4: bootstrapped traces first, then labeled examples from the rest (seeded shuffle and samples).
    const bootstrappedSet = new Set(successes)
    let raw = env.rng(scope, "validation").shuffle(trainset.filter((_, i) => !bootstrappedSet.has(i)))
    const fill = env.rng(scope, "labeled-fill")
    const demos: Record<string, ReadonlyArray<Predict.Demo>> = {}
    for (const path of paths(student)) {
      const augmented = (traces[path] ?? []).slice(0, settings.maxBootstrappedDemos)
      const size = Math.max(0, Math.min(settings.maxLabeledDemos - augmented.length, raw.length))
      raw = fill.sample(raw, size)
      demos[path] = [...augmented, ...raw]
    }
    return {
      program: internal.withDemos(student, demos),
      teacher,
      bootstrapped: successes,
      traces,
      attempts,
      errors,
      stoppedByBudget
    }
  })

const addTraces = (
  traces: Record<string, Array<Example.Any>>,
  trace: ReadonlyArray<Trace.Entry>,
  env: Pick<Env, "rng">,
  scope: string,
  index: number
): void => {
  const byPath = new Map<string, Array<Example.Any>>()
  for (const entry of trace) {
    if (!(entry.predictorPath in traces)) continue
    const demo = Example.make({ augmented: true, ...entry.inputs, ...entry.outputs })
    const list = byPath.get(entry.predictorPath) ?? []
    list.push(demo)
    byPath.set(entry.predictorPath, list)
  }
  for (const [path, list] of byPath) {
    if (list.length > 1) {
      const rng = env.rng(scope, "trace-choice", index, path)
      traces[path]!.push(rng.next() < 0.5 ? rng.pick(list.slice(0, -1))! : list[list.length - 1]!)
    } else traces[path]!.push(list[0]!)
  }
}

/**
 * The BootstrapFewShot optimizer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (settings: Settings = {}): Optimizer.Optimizer =>
  Optimizer.make({
    name: "BootstrapFewShot",
    settings: { ...settings },
    compile: (student, run) =>
      Effect.gen(function* () {
        const resolved = yield* resolve(settings)
        const result = yield* bootstrap(student, run, {
          trainset: run.trainset,
          teacher: run.teacher,
          settings: resolved,
          scope: "bootstrap"
        })
        return {
          program: result.program,
          details: {
            bootstrapped: result.bootstrapped.length,
            bootstrappedIndexes: result.bootstrapped,
            attempts: result.attempts,
            errors: result.errors,
            stoppedByBudget: result.stoppedByBudget,
            demos: Object.fromEntries(
              Module.namedPredictors(result.program).map((p) => [p.path, p.predictor.demos.length])
            )
          }
        }
      })
  })
