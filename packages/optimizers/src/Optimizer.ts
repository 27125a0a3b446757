/**
 * The optimizer contract. An optimizer is a name, its settings and a `compile` function from a student
 * program and a {@link Run} (the run's data, seed, concurrency and helpers) to a new program. The runner
 * {@link compile} does everything every optimizer needs around it:
 *
 * - validates the training and validation data (`TrainingDataInvalid` lists every offending example);
 * - gives the optimizer keyed, seeded random numbers ({@link Run.rng}), a bounded order-preserving
 *   {@link Run.forEach}, and {@link Run.unit}: one unit of LM work under the budget and the checkpoint
 *   store, so that a restarted run resumes instead of starting over;
 * - publishes progress (`onProgress`, or a Stream with {@link compileWithProgress}), the design's
 *   `optimization_started` / `optimization_iteration` / `optimization_completed` / `optimization_failed`
 *   events under a correlation id (when `Events` is present), the `dspy.optimization.*` metrics and a span;
 * - accounts usage (LM calls, tokens, cost, cache hits) and wall time in the {@link Report}.
 *
 * The student is never changed (programs are immutable values); the result is a new program.
 *
 * ```ts
 * const { program, report } = yield* Optimizer.compile(BootstrapFewShot.make(), student, {
 *   trainset, metric: Evaluate.answerExactMatch, seed: 0, concurrency: 8
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Evaluate, type Example, LM, Module, type Trace } from "@effect-dspy/core"
import { CanonicalJson, Config, Correlation, Events, Metrics, Random } from "@effect-dspy/foundation"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Mailbox from "effect/Mailbox"
import * as EffectMetric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Budget from "./Budget.js"
import * as Checkpoint from "./Checkpoint.js"
import * as internal from "./internal/program.js"
import * as OptimizerEvents from "./OptimizerEvents.js"
import {
  BudgetExceeded,
  type CheckpointError,
  OptimizerConfigError,
  type OptimizerError,
  TooManyErrors
} from "./OptimizerError.js"
import type * as Progress from "./Progress.js"
import * as TrainingData from "./TrainingData.js"

/**
 * A metric as optimizers use it: Evaluate's metric over examples and predictions (`trace` is given while
 * bootstrapping).
 *
 * @since 0.1.0
 * @category models
 */
export type Metric = Evaluate.Metric<Example.Any, Evaluate.AnyPrediction>

/**
 * The options of a compile.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompileOptions {
  readonly trainset: ReadonlyArray<Example.Any>
  /** Where candidates are scored (each optimizer says its default; usually the trainset). */
  readonly valset?: ReadonlyArray<Example.Any>
  readonly metric: Metric
  /** The example fields the metric reads (default: the program's output fields, reasoning left out). */
  readonly metricFields?: ReadonlyArray<string>
  /** The teacher program for bootstrapping (default: the student). */
  readonly teacher?: Module.Program
  /** The seed of every random choice (default 0). */
  readonly seed?: number
  /** How many units of LM work run at once (default: config `optimization.concurrency`, else 8). */
  readonly concurrency?: number
  readonly budget?: Budget.Limits
  /** Names the run for checkpoints: with a `CheckpointStore` in the context, finished units are stored under it. */
  readonly runId?: string
  readonly onProgress?: (event: Progress.Event) => Effect.Effect<void>
  /**
   * Scores evaluations elsewhere (cluster mode: on the other runners). Each evaluation's examples not read back
   * from the checkpoints go out in shards; what a shard answers is checkpointed and counted as here. A shard whose
   * request fails is scored here instead. The results are the same either way (same program, LM and metric).
   */
  readonly remoteScoring?: RemoteScoring
}

/**
 * How an example's scoring ended: its score (0 when the program failed) and the failure, if any.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExampleScore {
  readonly score: number
  readonly error?: string
}

/**
 * Scoring of a program on examples somewhere else (see `CompileOptions.remoteScoring`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteScoring {
  /** Examples per request (default 16); an evaluation of no more examples than that is scored here. */
  readonly shardSize?: number
  /** Scores the examples with the program: one outcome per example, in input order, and the LM usage spent. */
  readonly score: (
    program: Module.Program,
    examples: ReadonlyArray<Example.Any>
  ) => Effect.Effect<{ readonly outcomes: ReadonlyArray<ExampleScore>; readonly usage: LM.UsageTotals }, unknown>
}

/**
 * Scores a program on one example as an evaluation does: the metric's score of its prediction, or 0 with the
 * failure when the program fails. What a {@link RemoteScoring} runs per example.
 *
 * @since 0.1.0
 * @category running
 */
export const scoreExample = (
  metric: Metric,
  program: Module.Program,
  example: Example.Any
): Effect.Effect<ExampleScore, never, LM.LM> =>
  Effect.matchEffect(
    Effect.flatMap(internal.callProgram(program, example), (prediction) => score(metric, example, prediction)),
    {
      onFailure: (error) => Effect.succeed<ExampleScore>({ score: 0, error: internal.describeError(error) }),
      onSuccess: (value) => Effect.succeed<ExampleScore>({ score: value })
    }
  )

/**
 * What an optimizer's `compile` returns: the new program, its score if it was measured, the student's score
 * if it was measured, and optimizer-specific details for the report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome<P> {
  readonly program: P
  readonly bestScore?: number
  readonly baselineScore?: number
  readonly details?: { readonly [key: string]: unknown }
}

/**
 * The report of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly optimizer: string
  readonly runId: string | undefined
  readonly correlationId: string
  readonly seed: number
  readonly concurrency: number
  readonly bestScore: number | undefined
  readonly baselineScore: number | undefined
  readonly trials: ReadonlyArray<Progress.Trial>
  /** LM calls made by this run (units read back from a checkpoint cost none). */
  readonly lmCalls: number
  readonly cacheHits: number
  readonly failedCalls: number
  readonly tokens: { readonly prompt: number; readonly completion: number; readonly total: number }
  readonly costUsd: number
  readonly wallMs: number
  readonly budgetExhausted: boolean
  /** Units of LM work finished in this run, and those read back from the checkpoint store. */
  readonly units: number
  readonly resumedUnits: number
  readonly details: { readonly [key: string]: unknown }
}

/**
 * A compiled program with its report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Compiled<P> {
  readonly program: P
  readonly report: Report
}

/**
 * The scores of a program over a set of examples.
 *
 * @since 0.1.0
 * @category models
 */
export interface Evaluation {
  /** Percentage over the examples that were scored, rounded to 2 decimals (as Evaluate). */
  readonly score: number
  /** Per example, in input order; `undefined` when the budget ran out before it was scored. */
  readonly scores: ReadonlyArray<number | undefined>
  readonly errors: number
  /** True when every example was scored. */
  readonly complete: boolean
}

/**
 * A run as an optimizer sees it: the validated data and settings, and the helpers that make LM work
 * budgeted, resumable, concurrent and deterministic.
 *
 * @since 0.1.0
 * @category models
 */
export interface Run {
  readonly optimizer: string
  readonly runId: string | undefined
  readonly trainset: ReadonlyArray<Example.Any>
  /** The given valset, or the trainset. */
  readonly valset: ReadonlyArray<Example.Any>
  readonly valsetGiven: boolean
  readonly metric: Metric
  readonly teacher: Module.Program | undefined
  readonly seed: number
  readonly concurrency: number
  /** The generator for a key (seeded by the run's seed): use a distinct key per random choice. */
  readonly rng: (...key: ReadonlyArray<Random.KeyPart>) => Random.Random
  /**
   * One unit of LM work. Read back from the checkpoint store when a previous run finished it (no LM call);
   * else it waits for one of the run's `concurrency` permits (the run-wide bound on LM work), then, if the
   * budget is spent, is not started (`None`; with `onExhausted: "fail"` the run fails); else runs, its usage
   * charged to the budget, its value stored (it must survive a JSON round trip) and a `Step` published. Keys
   * must be unique within the run and stable across runs. Units must not nest (a unit's work calling `unit`
   * could wait forever for a permit).
   */
  readonly unit: <A, E>(
    key: string,
    work: Effect.Effect<A, E, LM.LM>
  ) => Effect.Effect<Option.Option<A>, E | CheckpointError | BudgetExceeded, LM.LM>
  /** Runs `f` over the items with the run's concurrency bound; results in input order. */
  readonly forEach: <A, B, E, R>(
    items: ReadonlyArray<A>,
    f: (item: A, index: number) => Effect.Effect<B, E, R>
  ) => Effect.Effect<Array<B>, E, R>
  /**
   * Scores a program over examples (DSPy's Evaluate: failed runs score 0; more than `maxErrors` failures
   * fail the run). Each example is one unit keyed `${key}/${index}`.
   */
  readonly evaluate: (
    program: Module.Program,
    examples: ReadonlyArray<Example.Any>,
    options: { readonly key: string; readonly maxErrors?: number }
  ) => Effect.Effect<Evaluation, OptimizerError, LM.LM>
  /** Records a scored candidate: in the report, as a `Trial` progress event, event and metrics. */
  readonly trial: (trial: Progress.Trial) => Effect.Effect<void>
  /** Publishes a progress event. */
  readonly progress: (event: Progress.Event) => Effect.Effect<void>
  /** The budget's limits (`{}` when none was given). */
  readonly budget: Budget.Limits
  readonly budgetExhausted: Effect.Effect<boolean>
  readonly spent: Effect.Effect<Budget.Spend>
}

/**
 * An optimizer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Optimizer {
  readonly name: string
  /** The settings, as JSON-ready data (they are part of the checkpoint fingerprint and the events). */
  readonly settings: { readonly [key: string]: unknown }
  readonly compile: <P extends Module.Program>(student: P, run: Run) => Effect.Effect<Outcome<P>, OptimizerError, LM.LM>
}

/**
 * Builds an optimizer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (optimizer: Optimizer): Optimizer => optimizer

/**
 * Runs a program on an example's inputs (a module's `forward` or a bare predictor).
 *
 * @since 0.1.0
 * @category running
 */
export const callProgram: (
  program: Module.Program,
  example: Example.Any
) => Effect.Effect<Evaluate.AnyPrediction, unknown, LM.LM> = internal.callProgram

/**
 * Scores a prediction with the metric (booleans count 1/0); the metric's own failures are failures.
 *
 * @since 0.1.0
 * @category running
 */
export const score = (
  metric: Metric,
  example: Example.Any,
  prediction: Evaluate.AnyPrediction,
  trace?: ReadonlyArray<Trace.Entry>
): Effect.Effect<number, unknown> =>
  Effect.suspend(() => {
    const value = trace === undefined ? metric(example, prediction) : metric(example, prediction, trace)
    return Effect.isEffect(value) ? Effect.map(value, Evaluate.toScore) : Effect.succeed(Evaluate.toScore(value))
  })

/**
 * A one-line description of a failure (for reports and errors).
 *
 * @since 0.1.0
 * @category running
 */
export const describeError: (error: unknown) => string = internal.describeError

const positiveInt = (option: string, value: number | undefined): Effect.Effect<void, OptimizerConfigError> =>
  value === undefined || (Number.isInteger(value) && value >= 1)
    ? Effect.void
    : Effect.fail(new OptimizerConfigError({ option, message: `${option} must be a positive integer, got ${value}` }))

const defaultConcurrency: Effect.Effect<number> = Effect.flatMap(Effect.serviceOption(Config.Config), (config) =>
  Option.isNone(config) ? Effect.succeed(8) : Effect.map(config.value.current, (c) => c.optimization.concurrency)
)

const fingerprint = (optimizer: Optimizer, student: Module.Program, options: CompileOptions, seed: number): string =>
  CanonicalJson.sha256({
    optimizer: optimizer.name,
    settings: optimizer.settings,
    seed,
    student: dumpProgram(student),
    teacher: options.teacher === undefined ? null : dumpProgram(options.teacher),
    trainset: options.trainset,
    valset: options.valset ?? null,
    metricFields: options.metricFields ?? null
  }).slice(0, 16)

const dumpProgram = (program: Module.Program): unknown => Module.dumpState(program)

const noUsage: LM.UsageTotals = {
  calls: 0,
  cacheHits: 0,
  failures: 0,
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  costUsd: 0
}

const addUsage = (a: LM.UsageTotals, b: LM.UsageTotals): LM.UsageTotals =>
  b === noUsage
    ? a
    : {
        calls: a.calls + b.calls,
        cacheHits: a.cacheHits + b.cacheHits,
        failures: a.failures + b.failures,
        promptTokens: a.promptTokens + b.promptTokens,
        completionTokens: a.completionTokens + b.completionTokens,
        totalTokens: a.totalTokens + b.totalTokens,
        costUsd: a.costUsd + b.costUsd
      }

/**
 * Compiles a student with an optimizer: validates the data, runs the optimizer with budget, checkpoints,
 * progress, events, metrics and usage accounting, and returns the new program with its report.
 *
 * @since 0.1.0
 * @category running
 */
export const compile = <P extends Module.Program>(
  optimizer: Optimizer,
  student: P,
  options: CompileOptions
): Effect.Effect<Compiled<P>, OptimizerError, LM.LM> =>
  Effect.gen(function* () {
    yield* positiveInt("concurrency", options.concurrency)
    const seed = options.seed ?? 0
    if (!Number.isInteger(seed)) {
      return yield* new OptimizerConfigError({ option: "seed", message: `seed must be an integer, got ${seed}` })
    }
    if (options.trainset.length === 0) {
      return yield* new OptimizerConfigError({
        option: "trainset",
        message: "The trainset is empty: give at least one example."
      })
    }
    if (options.valset !== undefined && options.valset.length === 0) {
      return yield* new OptimizerConfigError({
        option: "valset",
        message: "The valset is empty: give at least one example or leave it out to use the trainset."
      })
    }
    const validation = options.metricFields === undefined ? {} : { metricFields: options.metricFields }
    yield* TrainingData.validate(student, options.trainset, { set: "trainset", ...validation })
    if (options.valset !== undefined) {
      yield* TrainingData.validate(student, options.valset, { set: "valset", ...validation })
    }
    const concurrency = options.concurrency ?? (yield* defaultConcurrency)
    const tracker = yield* Budget.make(options.budget ?? {})
    const permits = yield* Effect.makeSemaphore(concurrency)
    const store = yield* Effect.serviceOption(Checkpoint.CheckpointStore)
    const events = yield* Effect.serviceOption(Events.Events)
    const correlationId = yield* Correlation.currentOrMake
    const namespace =
      options.runId !== undefined && Option.isSome(store)
        ? `${options.runId}/${fingerprint(optimizer, student, options, seed)}`
        : undefined
    const optimizationId = options.runId ?? correlationId
    const onExhausted = options.budget?.onExhausted ?? "best-so-far"
    const trials: Array<Progress.Trial> = []
    let best: number | undefined
    let units = 0
    let resumedUnits = 0
    // LM usage spent elsewhere by remote scoring (the compile's own tracking sees only this process's calls).
    let remoteUsage: LM.UsageTotals = noUsage
    let exhaustedAnnounced = false

    const progress = (event: Progress.Event): Effect.Effect<void> =>
      options.onProgress === undefined ? Effect.void : options.onProgress(event)

    const announceExhausted = Effect.suspend(() => {
      if (exhaustedAnnounced) return Effect.void
      exhaustedAnnounced = true
      return Effect.flatMap(tracker.spent, (spent) =>
        progress({ _tag: "BudgetExhausted", lmCalls: spent.lmCalls, costUsd: spent.costUsd })
      )
    })

    const budgetError = Effect.flatMap(Effect.zip(tracker.reached, tracker.spent), ([limit, spent]) =>
      Effect.fail(
        new BudgetExceeded({
          limit: limit ?? "maxLmCalls",
          max:
            (limit === "maxCostUsd"
              ? options.budget?.maxCostUsd
              : limit === "maxWallMs"
                ? options.budget?.maxWallMs
                : options.budget?.maxLmCalls) ?? 0,
          lmCalls: spent.lmCalls,
          costUsd: spent.costUsd,
          message: `The optimizer ${optimizer.name} spent its budget (${spent.lmCalls} LM calls, $${spent.costUsd.toFixed(4)}): raise the budget or use onExhausted: "best-so-far" to keep the best program found.`
        })
      )
    )

    const unit = <A, E>(
      key: string,
      work: Effect.Effect<A, E, LM.LM>
    ): Effect.Effect<Option.Option<A>, E | CheckpointError | BudgetExceeded, LM.LM> =>
      Effect.gen(function* () {
        if (namespace !== undefined && Option.isSome(store)) {
          const stored = yield* store.value.get(namespace, key)
          if (Option.isSome(stored)) {
            resumedUnits++
            yield* progress({ _tag: "Step", key, resumed: true, lmCalls: (yield* tracker.spent).lmCalls })
            return Option.some(stored.value as A)
          }
        }
        // The run-wide bound on LM work: a unit runs only with one of `concurrency` permits, whatever the
        // nesting of forEach calls above it (so candidates can be built concurrently). The budget is checked
        // once the permit is held.
        return yield* permits.withPermits(1)(
          Effect.gen(function* () {
            if (yield* tracker.exhausted) {
              yield* announceExhausted
              if (onExhausted === "fail") return yield* budgetError
              return Option.none<A>()
            }
            const { result, usage } = yield* LM.trackUsage(work)
            yield* tracker.record(usage)
            if (namespace !== undefined && Option.isSome(store)) yield* store.value.set(namespace, key, result)
            units++
            yield* progress({ _tag: "Step", key, resumed: false, lmCalls: (yield* tracker.spent).lmCalls })
            return Option.some(result)
          })
        )
      })

    const forEach = <A, B, E, R>(
      items: ReadonlyArray<A>,
      f: (item: A, index: number) => Effect.Effect<B, E, R>
    ): Effect.Effect<Array<B>, E, R> => Effect.forEach(items, f, { concurrency })

    /** The outcomes of `indexes` scored by `remote` in one request, checkpointed and counted; none on failure. */
    const scoreRemotely = (
      remote: RemoteScoring,
      program: Module.Program,
      examples: ReadonlyArray<Example.Any>,
      key: string,
      indexes: ReadonlyArray<number>
    ): Effect.Effect<Option.Option<ReadonlyArray<Option.Option<ExampleScore>>>, CheckpointError | BudgetExceeded> =>
      permits.withPermits(1)(
        Effect.gen(function* () {
          if (yield* tracker.exhausted) {
            yield* announceExhausted
            if (onExhausted === "fail") return yield* budgetError
            return Option.some(indexes.map(() => Option.none<ExampleScore>()))
          }
          const answered = yield* Effect.either(
            remote.score(
              program,
              indexes.map((i) => examples[i]!)
            )
          )
          if (answered._tag === "Left" || answered.right.outcomes.length !== indexes.length) {
            yield* Effect.logWarning(
              `optimizer ${optimizer.name}: remote scoring of ${indexes.length} examples of ${key} failed (${
                answered._tag === "Left"
                  ? internal.describeError(answered.left)
                  : `${answered.right.outcomes.length} outcomes`
              }); scoring them here`
            )
            return Option.none()
          }
          yield* tracker.record(answered.right.usage)
          remoteUsage = addUsage(remoteUsage, answered.right.usage)
          const outcomes = answered.right.outcomes
          for (let n = 0; n < indexes.length; n++) {
            const given = outcomes[n]!
            const outcome: ExampleScore =
              given.error === undefined ? { score: given.score } : { score: given.score, error: given.error }
            const unitKey = `${key}/${indexes[n]}`
            if (namespace !== undefined && Option.isSome(store)) yield* store.value.set(namespace, unitKey, outcome)
            units++
            yield* progress({ _tag: "Step", key: unitKey, resumed: false, lmCalls: (yield* tracker.spent).lmCalls })
          }
          return Option.some(outcomes.map((o) => Option.some(o)))
        })
      )

    /** Every example's outcome, its shards scored by `remote` (read back from the checkpoints first). */
    const outcomesRemote = (
      remote: RemoteScoring,
      shardSize: number,
      program: Module.Program,
      examples: ReadonlyArray<Example.Any>,
      key: string
    ): Effect.Effect<Array<Option.Option<ExampleScore>>, CheckpointError | BudgetExceeded, LM.LM> =>
      Effect.gen(function* () {
        const results: Array<Option.Option<ExampleScore>> = examples.map(() => Option.none())
        const pending: Array<number> = []
        for (let i = 0; i < examples.length; i++) {
          const stored =
            namespace !== undefined && Option.isSome(store)
              ? yield* store.value.get(namespace, `${key}/${i}`)
              : Option.none()
          if (Option.isSome(stored)) {
            resumedUnits++
            yield* progress({
              _tag: "Step",
              key: `${key}/${i}`,
              resumed: true,
              lmCalls: (yield* tracker.spent).lmCalls
            })
            results[i] = Option.some(stored.value as ExampleScore)
          } else pending.push(i)
        }
        const shards: Array<ReadonlyArray<number>> = []
        for (let i = 0; i < pending.length; i += shardSize) shards.push(pending.slice(i, i + shardSize))
        yield* Effect.forEach(
          shards,
          (indexes) =>
            Effect.flatMap(scoreRemotely(remote, program, examples, key, indexes), (answered) =>
              Option.isSome(answered)
                ? Effect.sync(() => {
                    for (let n = 0; n < indexes.length; n++) results[indexes[n]!] = answered.value[n]!
                  })
                : // The request failed: the shard is scored here, a unit per example.
                  Effect.forEach(
                    indexes,
                    (i) =>
                      Effect.map(unit(`${key}/${i}`, scoreExample(options.metric, program, examples[i]!)), (r) => {
                        results[i] = r
                      }),
                    { concurrency }
                  )
            ),
          { concurrency, discard: true }
        )
        return results
      })

    const evaluate = (
      program: Module.Program,
      examples: ReadonlyArray<Example.Any>,
      evalOptions: { readonly key: string; readonly maxErrors?: number }
    ): Effect.Effect<Evaluation, OptimizerError, LM.LM> =>
      Effect.gen(function* () {
        let errors = 0
        let lastError = ""
        const count = (result: Option.Option<ExampleScore>): Effect.Effect<number | undefined, TooManyErrors> => {
          if (Option.isNone(result)) return Effect.succeed(undefined)
          const error = result.value.error
          if (error !== undefined) {
            errors++
            lastError = error
            if (evalOptions.maxErrors !== undefined && errors >= evalOptions.maxErrors) {
              return Effect.fail(
                new TooManyErrors({
                  errors,
                  maxErrors: evalOptions.maxErrors,
                  lastError,
                  message: `Evaluation ${evalOptions.key} stopped: ${errors} examples failed (maxErrors = ${evalOptions.maxErrors}); last error: ${lastError}. Fix the program or raise maxErrors.`
                })
              )
            }
          }
          return Effect.succeed(result.value.score)
        }
        const remote = options.remoteScoring
        const shardSize = remote?.shardSize ?? 16
        const results =
          remote !== undefined && examples.length > shardSize
            ? yield* Effect.flatMap(outcomesRemote(remote, shardSize, program, examples, evalOptions.key), (all) =>
                Effect.forEach(all, count)
              )
            : yield* forEach(examples, (example, index) =>
                Effect.flatMap(
                  unit(`${evalOptions.key}/${index}`, scoreExample(options.metric, program, example)),
                  count
                )
              )
        const scored = results.filter((s): s is number => s !== undefined)
        const sum = scored.reduce((a, b) => a + b, 0)
        return {
          score: scored.length === 0 ? 0 : Evaluate.roundHalfEven((100 * sum) / scored.length),
          scores: results,
          errors,
          complete: scored.length === examples.length
        }
      })

    const trial = (t: Progress.Trial): Effect.Effect<void> =>
      Effect.suspend(() => {
        trials.push(t)
        best = best === undefined ? t.score : Math.max(best, t.score)
        const iteration = trials.length
        return Effect.all(
          [
            progress({ _tag: "Trial", iteration, trial: t, bestScore: best }),
            Events.publishOrLog(
              OptimizerEvents.Iteration,
              {
                optimization_id: optimizationId,
                optimizer: optimizer.name,
                iteration,
                trial_id: t.id,
                evaluation_score: t.score,
                best_score: best,
                details: t.details
              },
              { events }
            ),
            EffectMetric.update(EffectMetric.tagged(Metrics.optimizationIteration, "optimizer", optimizer.name), 1),
            EffectMetric.update(EffectMetric.tagged(Metrics.optimizationScore, "optimizer", optimizer.name), t.score)
          ],
          { discard: true }
        )
      })

    const run: Run = {
      optimizer: optimizer.name,
      runId: options.runId,
      trainset: options.trainset,
      valset: options.valset ?? options.trainset,
      valsetGiven: options.valset !== undefined,
      metric: options.metric,
      teacher: options.teacher,
      seed,
      concurrency,
      rng: (...key) => Random.make(seed, ...key),
      unit,
      forEach,
      evaluate,
      trial,
      progress,
      budget: options.budget ?? {},
      budgetExhausted: tracker.exhausted,
      spent: tracker.spent
    }

    const start = yield* Clock.currentTimeMillis
    yield* progress({
      _tag: "Started",
      optimizer: optimizer.name,
      runId: options.runId,
      trainsetSize: options.trainset.length,
      valsetSize: run.valset.length
    })
    yield* Events.publishOrLog(
      OptimizerEvents.Started,
      {
        optimization_id: optimizationId,
        optimizer: optimizer.name,
        student_module: Module.nameOf(student),
        trainset_size: options.trainset.length,
        valset_size: run.valset.length,
        seed,
        concurrency,
        config: optimizer.settings
      },
      { events }
    )

    const exit = yield* Effect.exit(
      LM.trackUsage(optimizer.compile(student, run)).pipe(
        Effect.onInterrupt(() =>
          Effect.zipRight(
            progress({ _tag: "Failed", error: "interrupted" }),
            Effect.flatMap(tracker.spent, (spent) =>
              Events.publishOrLog(
                OptimizerEvents.Failed,
                {
                  optimization_id: optimizationId,
                  optimizer: optimizer.name,
                  error: "interrupted",
                  lm_calls: spent.lmCalls
                },
                { events }
              )
            )
          )
        )
      )
    )
    const end = yield* Clock.currentTimeMillis
    const wallMs = end - start
    yield* EffectMetric.update(EffectMetric.tagged(Metrics.optimizationDuration, "optimizer", optimizer.name), wallMs)
    if (Exit.isFailure(exit)) {
      const error = exit.cause._tag === "Fail" ? internal.describeError(exit.cause.error) : Cause.pretty(exit.cause)
      yield* progress({ _tag: "Failed", error })
      yield* Events.publishOrLog(
        OptimizerEvents.Failed,
        {
          optimization_id: optimizationId,
          optimizer: optimizer.name,
          error,
          lm_calls: (yield* tracker.spent).lmCalls
        },
        { events }
      )
      return yield* Effect.failCause(exit.cause)
    }
    const usage = addUsage(exit.value.usage, remoteUsage)
    const outcome = exit.value.result
    const budgetExhausted = yield* tracker.exhausted
    const bestScore = outcome.bestScore ?? best
    const report: Report = {
      optimizer: optimizer.name,
      runId: options.runId,
      correlationId,
      seed,
      concurrency,
      bestScore,
      baselineScore: outcome.baselineScore,
      trials,
      lmCalls: usage.calls,
      cacheHits: usage.cacheHits,
      failedCalls: usage.failures,
      tokens: { prompt: usage.promptTokens, completion: usage.completionTokens, total: usage.totalTokens },
      costUsd: usage.costUsd,
      wallMs,
      budgetExhausted,
      units,
      resumedUnits,
      details: outcome.details ?? {}
    }
    yield* progress({ _tag: "Completed", bestScore, trials: trials.length, lmCalls: usage.calls })
    yield* Events.publishOrLog(
      OptimizerEvents.Completed,
      {
        optimization_id: optimizationId,
        optimizer: optimizer.name,
        final_score: bestScore ?? null,
        baseline_score: outcome.baselineScore ?? null,
        iterations: trials.length,
        lm_calls: usage.calls,
        cost_usd: usage.costUsd,
        budget_exhausted: budgetExhausted,
        wall_ms: wallMs
      },
      { events }
    )
    return { program: outcome.program, report }
  }).pipe(
    Correlation.ensureCorrelationId,
    Effect.withSpan(`optimizer.${optimizer.name}`, { attributes: { optimizer: optimizer.name } })
  )

/**
 * A running compile: its progress as a Stream (ending when the run ends), its result, and its fiber
 * (interrupt it to stop the run; the scope also interrupts it when closed).
 *
 * @since 0.1.0
 * @category models
 */
export interface Running<P> {
  readonly progress: Stream.Stream<Progress.Event>
  readonly result: Effect.Effect<Compiled<P>, OptimizerError>
  readonly fiber: Fiber.RuntimeFiber<Compiled<P>, OptimizerError>
}

/**
 * Starts a compile in the current scope and returns its progress stream, result and fiber.
 *
 * @since 0.1.0
 * @category running
 */
export const compileWithProgress = <P extends Module.Program>(
  optimizer: Optimizer,
  student: P,
  options: CompileOptions
): Effect.Effect<Running<P>, never, LM.LM | Scope.Scope> =>
  Effect.gen(function* () {
    const mailbox = yield* Mailbox.make<Progress.Event>()
    const fiber = yield* compile(optimizer, student, {
      ...options,
      onProgress: (event) =>
        Effect.zipRight(
          options.onProgress === undefined ? Effect.void : options.onProgress(event),
          Effect.asVoid(mailbox.offer(event))
        )
    }).pipe(Effect.ensuring(mailbox.end), Effect.forkScoped)
    return { progress: Mailbox.toStream(mailbox), result: Fiber.join(fiber), fiber }
  })
