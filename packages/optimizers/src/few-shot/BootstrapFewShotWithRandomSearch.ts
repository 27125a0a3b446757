/**
 * BootstrapFewShotWithRandomSearch (DSPy's): builds `numCandidatePrograms + 3` candidates and keeps the one
 * that scores best on the valset (the trainset when no valset is given):
 *
 * - seed -3: the student with no demos (zero-shot);
 * - seed -2: LabeledFewShot with `k = maxLabeledDemos`;
 * - seed -1: BootstrapFewShot on the trainset in order, with `maxBootstrappedDemos`;
 * - seeds 0..N-1: BootstrapFewShot on the trainset shuffled by the seed, with a demo count drawn by the seed
 *   in `[minNumSamples, maxBootstrappedDemos]` (`minNumSamples` default 1).
 *
 * DSPy builds and scores the candidates one after the other. Here, without `stopAtScore`, all candidates
 * are built and scored at once (their LM work shares the run's concurrency bound) and taken in seed order,
 * so the trials, ties and winner are the sequential algorithm's; with `stopAtScore` or a budget they run
 * one at a time (the search stops at the first candidate reaching the score; a budget is spent on whole
 * candidates in order). A later candidate replaces the best only with a
 * strictly higher score; a candidate whose scoring the budget cut short ends the search. Every candidate is a trial in the report and the progress; the report's
 * details list the candidates by score.
 *
 * @since 0.1.0
 */
import { type Example, type LM, Module } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as BootstrapFewShot from "./BootstrapFewShot.js"
import * as internal from "../internal/program.js"
import * as LabeledFewShot from "./LabeledFewShot.js"
import * as Optimizer from "../Optimizer.js"
import { OptimizerConfigError, type OptimizerError } from "../OptimizerError.js"

/**
 * Settings: BootstrapFewShot's, plus the number of random candidates (default 16), the minimum demo count
 * (default 1), an early-stop score (percentage) and the evaluation's max errors (default `maxErrors`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings extends BootstrapFewShot.Settings {
  readonly numCandidatePrograms?: number
  readonly minNumSamples?: number
  readonly stopAtScore?: number
  readonly labeledSample?: boolean
}

/**
 * One candidate: its seed (-3, -2, -1, 0..N-1), kind, demo count setting and score.
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly seed: number
  readonly kind: "zero-shot" | "labeled" | "bootstrap" | "bootstrap-shuffled"
  readonly maxBootstrappedDemos: number | undefined
  readonly score: number
  readonly complete: boolean
  /** Teacher runs of the candidate's bootstrap counted as DSPy's sequential walk makes them (0 for no bootstrap). */
  readonly teacherRuns: number
}

/**
 * The candidate seeds in the order they are built: -3, -2, -1, then 0..N-1.
 *
 * @since 0.1.0
 * @category accessors
 */
export const candidateSeeds = (numCandidatePrograms: number): ReadonlyArray<number> =>
  Array.from({ length: numCandidatePrograms + 3 }, (_, i) => i - 3)

const build = <P extends Module.Program>(
  student: P,
  run: Optimizer.Run,
  seed: number,
  resolved: BootstrapFewShot.Resolved,
  minNumSamples: number,
  labeledSample: boolean
): Effect.Effect<
  {
    readonly program: P
    readonly kind: Candidate["kind"]
    readonly size: number | undefined
    readonly teacherRuns: number
  },
  OptimizerError,
  LM.LM
> => {
  if (seed === -3) {
    return Effect.succeed({
      program: internal.withDemosEverywhere(student, []),
      kind: "zero-shot",
      size: undefined,
      teacherRuns: 0
    })
  }
  if (seed === -2) {
    return Effect.succeed({
      program: LabeledFewShot.apply(
        student,
        run.trainset,
        resolved.maxLabeledDemos,
        (path) => run.rng("random-search", seed, "labeled", path),
        labeledSample
      ),
      kind: "labeled",
      size: undefined,
      teacherRuns: 0
    })
  }
  const trainset: ReadonlyArray<Example.Any> =
    seed === -1 ? run.trainset : run.rng("random-search", seed, "shuffle").shuffle(run.trainset)
  const size =
    seed === -1
      ? resolved.maxBootstrappedDemos
      : run.rng("random-search", seed, "size").between(minNumSamples, resolved.maxBootstrappedDemos)
  return Effect.map(
    BootstrapFewShot.bootstrap(student, run, {
      trainset,
      teacher: run.teacher,
      settings: { ...resolved, maxBootstrappedDemos: size },
      scope: `random-search/${seed}/bootstrap`
    }),
    (result) => ({
      program: result.program,
      kind: seed === -1 ? "bootstrap" : "bootstrap-shuffled",
      size,
      teacherRuns: result.attempts
    })
  )
}

/**
 * The BootstrapFewShotWithRandomSearch optimizer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (settings: Settings = {}): Optimizer.Optimizer =>
  Optimizer.make({
    name: "BootstrapFewShotWithRandomSearch",
    settings: { ...settings },
    compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
      Effect.gen(function* () {
        const resolved = yield* BootstrapFewShot.resolve(settings)
        const numCandidatePrograms = settings.numCandidatePrograms ?? 16
        const minNumSamples = settings.minNumSamples ?? 1
        if (!(Number.isInteger(numCandidatePrograms) && numCandidatePrograms >= 0)) {
          return yield* new OptimizerConfigError({
            option: "numCandidatePrograms",
            message: `numCandidatePrograms must be a non-negative integer, got ${numCandidatePrograms}`
          })
        }
        if (
          !(Number.isInteger(minNumSamples) && minNumSamples >= 0 && minNumSamples <= resolved.maxBootstrappedDemos)
        ) {
          return yield* new OptimizerConfigError({
            option: "minNumSamples",
            message: `minNumSamples must be an integer in [0, maxBootstrappedDemos = ${resolved.maxBootstrappedDemos}], got ${minNumSamples}`
          })
        }
        const candidates: Array<Candidate> = []
        let best: { readonly program: P; readonly score: number } | undefined
        let baseline: number | undefined
        let stopped = false
        const seeds = candidateSeeds(numCandidatePrograms)
        const buildAndScore = (seed: number) =>
          Effect.flatMap(build(student, run, seed, resolved, minNumSamples, settings.labeledSample ?? true), (built) =>
            Effect.map(
              run.evaluate(built.program, run.valset, {
                key: `random-search/${seed}/eval`,
                maxErrors: resolved.maxErrors
              }),
              (evaluation) => ({ seed, built, evaluation })
            )
          )
        type Scored = Effect.Effect.Success<ReturnType<typeof buildAndScore>>
        // Takes a scored candidate in seed order: the sequential algorithm's selection.
        const take = ({ seed, built, evaluation }: Scored): Effect.Effect<void> => {
          if (stopped) return Effect.void
          candidates.push({
            seed,
            kind: built.kind,
            maxBootstrappedDemos: built.size,
            score: evaluation.score,
            complete: evaluation.complete,
            teacherRuns: built.teacherRuns
          })
          // A candidate cut short by the budget is not comparable with the others: the search ends there.
          if (!evaluation.complete) {
            stopped = true
            return Effect.void
          }
          if (seed === -3) baseline = evaluation.score
          if (best === undefined || evaluation.score > best.score)
            best = { program: built.program, score: evaluation.score }
          if (settings.stopAtScore !== undefined && evaluation.score >= settings.stopAtScore) stopped = true
          return run.trial({
            id: `seed ${seed}`,
            score: evaluation.score,
            details: {
              seed,
              kind: built.kind,
              maxBootstrappedDemos: built.size ?? null,
              demos: Object.fromEntries(
                Module.namedPredictors(built.program).map((p) => [p.path, p.predictor.demos.length])
              )
            }
          })
        }
        const limited =
          run.budget.maxLmCalls !== undefined ||
          run.budget.maxCostUsd !== undefined ||
          run.budget.maxWallMs !== undefined
        if (settings.stopAtScore !== undefined || limited) {
          // Early stopping needs each score before the next candidate, and a budget is best spent on whole
          // candidates in order: one candidate at a time.
          for (const seed of seeds) {
            if (stopped || (yield* run.budgetExhausted)) break
            yield* take(yield* buildAndScore(seed))
          }
        } else {
          // Every candidate at once (their LM work shares the run's concurrency bound); results are taken in
          // seed order as they become available, so trials, ties and the winner are the sequential ones.
          const done: Array<Scored | undefined> = seeds.map(() => undefined)
          let next = 0
          const lock = yield* Effect.makeSemaphore(1)
          const flush = lock.withPermits(1)(
            Effect.suspend(() => {
              const ready: Array<Scored> = []
              while (next < done.length && done[next] !== undefined) ready.push(done[next++]!)
              return Effect.forEach(ready, take, { discard: true })
            })
          )
          yield* Effect.forEach(
            seeds,
            (seed, i) =>
              Effect.flatMap(buildAndScore(seed), (scored) =>
                Effect.zipRight(
                  Effect.sync(() => {
                    done[i] = scored
                  }),
                  flush
                )
              ),
            { concurrency: "unbounded", discard: true }
          )
        }
        const ranked = [...candidates].sort((a, b) => b.score - a.score)
        return {
          program: best?.program ?? student,
          ...(best === undefined ? {} : { bestScore: best.score }),
          ...(baseline === undefined ? {} : { baselineScore: baseline }),
          details: { candidates: ranked, evaluated: candidates.length }
        }
      })
  })
