/**
 * SIMBA's search loop (DSPy's `SIMBA.compile`) on the optimizer contract's {@link Optimizer.Run}: every
 * rollout, advice call and evaluation is a budgeted, checkpointed unit with a stable key.
 *
 * @since 0.1.0
 */
import { type Example, type LM, type Module, Predict, Trace } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Feedback from "../../Feedback.js"
import type * as Optimizer from "../../Optimizer.js"
import type { OptimizerError } from "../../OptimizerError.js"
import { callProgram, describeError } from "../../internal/program.js"
import * as Simba from "./simba.js"

/**
 * The settings of a run (DSPy's defaults: bsize 32, 6 candidates, 8 steps, 4 demos, temperatures 0.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly bsize: number
  readonly numCandidates: number
  readonly maxSteps: number
  readonly maxDemos: number
  readonly temperatureForSampling: number
  readonly temperatureForCandidates: number
  /** The sampling temperature of the LM variants (DSPy: 1.0). */
  readonly variantTemperature: number
  readonly promptModel: LM.Service | undefined
}

/**
 * A program of the pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolEntry {
  readonly id: number
  readonly program: Module.Program
  /** Minibatch scores (empty for the student). */
  readonly scores: ReadonlyArray<number>
  readonly parent: number | undefined
  readonly strategy: "student" | "demo" | "rule"
  /** False when the strategy was skipped (score below the 10th percentile, ...). */
  readonly applied: boolean
  readonly step: number
}

/**
 * The log of one step.
 *
 * @since 0.1.0
 * @category models
 */
export interface StepLog {
  readonly step: number
  readonly batch: ReadonlyArray<number>
  /** The pool id run for each (variant, example) pair, variant-major. */
  readonly sampledPrograms: ReadonlyArray<number>
  readonly rollouts: number
  /** LM calls that wrote advice in this step. */
  readonly adviceCalls: number
  readonly baselineScore: number
  readonly candidates: ReadonlyArray<{
    readonly id: number
    readonly source: number
    readonly strategy: "demo" | "rule"
    readonly applied: boolean
    readonly score: number
  }>
  readonly winner: number | undefined
}

/**
 * The outcome of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly program: Module.Program
  readonly bestId: number
  /** The best finalist's average trainset score (0 to 1). */
  readonly bestScore: number
  /** The student's average trainset score, when it was measured. */
  readonly baselineScore: number | undefined
  readonly pool: ReadonlyArray<PoolEntry>
  readonly steps: ReadonlyArray<StepLog>
  readonly winners: ReadonlyArray<number>
  /** The step winners evaluated on the full trainset, with their average scores. */
  readonly finalists: ReadonlyArray<{ readonly id: number; readonly score: number }>
  readonly metricCalls: number
  readonly advisorCalls: number
  readonly programErrors: number
  readonly budgetExhausted: boolean
}

/**
 * Python's `round` (half to even), used to spread the finalists over the winners.
 *
 * @since 0.1.0
 * @category math
 */
export const roundHalfEven = (x: number): number => {
  const f = Math.floor(x)
  const d = x - f
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1
}

/**
 * Which step winners get the full evaluation: `numCandidates + 1` indices spread evenly over the winners
 * (always the student, always the last winner).
 *
 * @since 0.1.0
 * @category selection
 */
export const finalistIndices = (winners: number, numCandidates: number): Array<number> => {
  const m = winners - 1
  const n = numCandidates + 1
  if (m < 1) return [0]
  return [...new Set(Array.from({ length: n }, (_, i) => roundHalfEven((i * m) / (n - 1))))]
}

/**
 * The JSON-ready result of one rollout (what a checkpointed unit stores).
 *
 * @since 0.1.0
 * @category models
 */
export interface RolloutResult {
  readonly outputs: { readonly [key: string]: unknown } | undefined
  readonly trace: ReadonlyArray<Trace.Entry>
  readonly score: number
  readonly error: string | undefined
  /** The metric's feedback text, if it gave one. */
  readonly feedback?: string
  /** True when the metric ran (the program succeeded). */
  readonly metricCalled: boolean
}

/**
 * Scores a program on one example: a traced run (with the variant's rollout id and temperature, if any),
 * then the metric. A failed run or metric scores 0, as in DSPy, and the error is kept.
 *
 * @since 0.1.0
 * @category running
 */
export const rollout = <R>(
  metric: Feedback.Metric<Example.Any, never, R>,
  program: Module.Program,
  example: Example.Any,
  variant: { readonly rolloutId: number; readonly temperature: number } | undefined
): Effect.Effect<RolloutResult, never, R | LM.LM> => {
  const call = callProgram(program, example)
  const run = variant === undefined ? call : Predict.withOverrides(variant)(call)
  return Effect.flatMap(Trace.tracedExit(run), ({ exit, trace }) => {
    if (Exit.isFailure(exit)) {
      return Effect.succeed<RolloutResult>({
        outputs: undefined,
        trace,
        score: 0,
        error: describeError(Exit.isFailure(exit) ? squash(exit.cause) : undefined),
        metricCalled: false
      })
    }
    const prediction = exit.value
    return Effect.map(
      Effect.either(Feedback.run(metric, example, prediction as never, trace)),
      (scored): RolloutResult => {
        const outputs = prediction.toRecord() as { readonly [key: string]: unknown }
        if (Either.isRight(scored) && Number.isFinite(scored.right.score)) {
          const feedback = scored.right.feedback
          return feedback === undefined
            ? { outputs, trace, score: scored.right.score, error: undefined, metricCalled: true }
            : { outputs, trace, score: scored.right.score, error: undefined, metricCalled: true, feedback }
        }
        return {
          outputs,
          trace,
          score: 0,
          error: Either.isLeft(scored)
            ? `metric failed: ${describeError(scored.left)}`
            : `metric returned ${scored.right.score}`,
          metricCalled: true
        }
      }
    )
  })
}

const squash = (cause: import("effect/Cause").Cause<unknown>): unknown =>
  cause._tag === "Fail" ? cause.error : cause._tag === "Die" ? cause.defect : String(cause)

class BudgetStop {
  readonly _tag = "BudgetStop"
}

type Variant = { readonly rolloutId: number; readonly temperature: number } | undefined

/**
 * Runs SIMBA on a student.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <P extends Module.Program>(
  student: P,
  settings: Settings,
  ctx: Optimizer.Run,
  metric: Feedback.Metric<Example.Any, never>
): Effect.Effect<Outcome, OptimizerError, LM.LM> =>
  Effect.gen(function* () {
    const trainset = ctx.trainset
    const pool: Array<PoolEntry> = [
      { id: 0, program: student, scores: [], parent: undefined, strategy: "student", applied: true, step: -1 }
    ]
    const avg = (id: number) => Simba.mean(pool[id]!.scores)
    const ids = () => pool.map((p) => p.id)
    const winners: Array<number> = [0]
    const steps: Array<StepLog> = []
    let metricCalls = 0
    let advisorCalls = 0
    let programErrors = 0
    let budgetExhausted = false

    // One unit of LM work (a run and its metric): fails with BudgetStop once the budget is spent.
    const scored = (key: string, program: Module.Program, example: Example.Any, variant: Variant) =>
      Effect.flatMap(ctx.unit(key, rollout(metric, program, example, variant)), (result) => {
        if (Option.isNone(result)) return Effect.fail(new BudgetStop())
        if (result.value.metricCalled) metricCalls++
        if (result.value.error !== undefined) programErrors++
        return Effect.succeed(result.value)
      })
    const untilBudget = <A, E, R>(effect: Effect.Effect<A, E | BudgetStop, R>) =>
      Effect.catchIf(
        Effect.map(effect, Option.some),
        (e): e is BudgetStop => e instanceof BudgetStop,
        () => Effect.succeed(Option.none<A>())
      ) as Effect.Effect<Option.Option<A>, Exclude<E, BudgetStop>, R>

    const n = trainset.length
    const bsize = Math.min(settings.bsize, n)
    const shuffleRng = ctx.rng("simba", "shuffle")
    let order = shuffleRng.shuffle(Array.from({ length: n }, (_, i) => i))
    let at = 0
    const strategies: ReadonlyArray<"demo" | "rule"> = settings.maxDemos > 0 ? ["demo", "rule"] : ["rule"]

    for (let step = 0; step < settings.maxSteps; step++) {
      // 1. The minibatch.
      if (at + bsize > n) {
        order = shuffleRng.shuffle(order)
        at = 0
      }
      const batchIdx = order.slice(at, at + bsize)
      at += bsize
      const batch = batchIdx.map((i) => trainset[i]!)

      // 2. Trajectories: numCandidates LM variants x the batch, each from a program drawn by softmax.
      const sampleRng = ctx.rng("simba", "sample", step)
      const top = Simba.topKPlusBaseline(ids(), avg, settings.numCandidates)
      const plan: Array<{ variant: number; exampleIndex: number; programId: number }> = []
      for (let v = 0; v < settings.numCandidates; v++) {
        for (let e = 0; e < batch.length; e++) {
          plan.push({
            variant: v,
            exampleIndex: e,
            programId: Simba.softmaxSample(sampleRng, top, avg, settings.temperatureForSampling)
          })
        }
      }
      const sampled = yield* untilBudget(
        ctx.forEach(plan, (p, i) =>
          Effect.map(
            scored(`simba/${step}/sample/${i}`, pool[p.programId]!.program, batch[p.exampleIndex]!, {
              rolloutId: p.variant,
              temperature: settings.variantTemperature
            }),
            (r): Simba.Rollout => ({
              exampleIndex: p.exampleIndex,
              example: batch[p.exampleIndex]!,
              programId: p.programId,
              variant: p.variant,
              outputs: r.outputs,
              trace: r.trace,
              score: r.score,
              error: r.error,
              feedback: r.feedback
            })
          )
        )
      )
      if (Option.isNone(sampled)) {
        budgetExhausted = true
        break
      }
      const rollouts = sampled.value

      // 3. Buckets by score spread.
      const sortedBuckets = Simba.buckets(rollouts)
      const allScores = rollouts.map((r) => r.score)
      const p10 = Simba.percentile(allScores, 10)
      const p90 = Simba.percentile(allScores, 90)
      const baselineScore = Simba.mean(allScores)

      // 4. New candidates from the top buckets: the random draws first (in bucket order), then the
      // strategies' LM calls concurrently; a failed strategy is replaced by the next bucket, as in DSPy.
      const candRng = ctx.rng("simba", "candidates", step)
      const built: Array<{ program: Module.Program; source: number; strategy: "demo" | "rule"; applied: boolean }> = []
      let next = 0
      let stopped = false
      let stepAdvice = 0
      while (built.length < settings.numCandidates + 1 && next < sortedBuckets.length && !stopped) {
        const wave: Array<{
          bucketIndex: number
          bucket: Simba.Bucket
          source: number
          base: Module.Program
          strategy: "demo" | "rule"
        }> = []
        while (built.length + wave.length < settings.numCandidates + 1 && next < sortedBuckets.length) {
          const bucketIndex = next++
          const bucket = sortedBuckets[bucketIndex]!
          const source = Simba.softmaxSample(
            candRng,
            Simba.topKPlusBaseline(ids(), avg, settings.numCandidates),
            avg,
            settings.temperatureForCandidates
          )
          const base = Simba.dropDemos(pool[source]!.program, candRng, settings.maxDemos)
          const strategy = strategies[candRng.int(strategies.length)]!
          wave.push({ bucketIndex, bucket, source, base, strategy })
        }
        const results = yield* ctx.forEach(wave, (w) =>
          w.strategy === "demo"
            ? Effect.succeed(Exit.succeed(Simba.appendDemo(w.base, w.bucket, { maxDemos: settings.maxDemos, p10 })))
            : Effect.exit(
                Effect.flatMap(
                  ctx.unit(
                    `simba/${step}/advice/${w.bucketIndex}`,
                    Effect.map(
                      Simba.adviceFor(w.base, w.bucket, { p10, p90, promptModel: settings.promptModel }),
                      (advice) => ({ advice: advice ?? null })
                    )
                  ),
                  (result) => {
                    if (Option.isNone(result)) return Effect.fail(new BudgetStop())
                    const advice = result.value.advice
                    if (advice === null) return Effect.succeed({ program: w.base, applied: false })
                    advisorCalls++
                    stepAdvice++
                    return Effect.succeed(Simba.applyAdvice(w.base, advice))
                  }
                )
              )
        )
        results.forEach((exit, i) => {
          if (Exit.isSuccess(exit)) {
            const w = wave[i]!
            built.push({
              program: exit.value.program,
              source: w.source,
              strategy: w.strategy,
              applied: exit.value.applied
            })
          } else if (Exit.isFailure(exit) && squash(exit.cause) instanceof BudgetStop) stopped = true
          else programErrors++
        })
      }
      if (stopped) {
        budgetExhausted = true
        break
      }

      // 5-6. Score the candidates on the same minibatch.
      const evaluated = yield* untilBudget(
        ctx.forEach(
          built.flatMap((c, ci) => batch.map((example, e) => ({ ci, e, program: c.program, example }))),
          (x) =>
            Effect.map(scored(`simba/${step}/candidate/${x.ci}/${x.e}`, x.program, x.example, undefined), (r) => ({
              ci: x.ci,
              score: r.score
            }))
        )
      )
      if (Option.isNone(evaluated)) {
        budgetExhausted = true
        break
      }
      const perCandidate = built.map((_, ci) => evaluated.value.filter((x) => x.ci === ci).map((x) => x.score))
      const candScores = perCandidate.map(Simba.mean)

      // 7-8. The step winner; every candidate joins the pool.
      const logCandidates: Array<StepLog["candidates"][number]> = []
      let winner: number | undefined
      let winnerScore = Number.NEGATIVE_INFINITY
      for (let ci = 0; ci < built.length; ci++) {
        const c = built[ci]!
        const id = pool.length
        pool.push({
          id,
          program: c.program,
          scores: perCandidate[ci]!,
          parent: c.source,
          strategy: c.strategy,
          applied: c.applied,
          step
        })
        logCandidates.push({ id, source: c.source, strategy: c.strategy, applied: c.applied, score: candScores[ci]! })
        if (candScores[ci]! > winnerScore) {
          winnerScore = candScores[ci]!
          winner = id
        }
        yield* ctx.trial({
          id: `simba-${id}`,
          score: 100 * candScores[ci]!,
          details: { step, source: c.source, strategy: c.strategy, applied: c.applied, scope: "minibatch" }
        })
      }
      if (winner !== undefined) winners.push(winner)
      steps.push({
        step,
        batch: batchIdx,
        sampledPrograms: plan.map((p) => p.programId),
        rollouts: rollouts.length,
        adviceCalls: stepAdvice,
        baselineScore,
        candidates: logCandidates,
        winner
      })
    }

    // Final: the step winners, spread evenly, on the full trainset.
    const picks = finalistIndices(winners.length, settings.numCandidates).map((i) => winners[i]!)
    // All finalists at once (they are independent); one that is not fully scored (budget) is left out.
    const finalScores = yield* ctx.forEach(
      picks.flatMap((id) => trainset.map((example, e) => ({ id, example, e }))),
      (x) =>
        Effect.map(
          untilBudget(scored(`simba/final/${x.id}/${x.e}`, pool[x.id]!.program, x.example, undefined)),
          (r) => ({ id: x.id, score: Option.map(r, (v) => v.score) })
        )
    )
    const finalists: Array<{ id: number; score: number }> = []
    for (const id of picks) {
      const mine = finalScores.filter((x) => x.id === id)
      if (!mine.every((x) => Option.isSome(x.score))) {
        budgetExhausted = true
        continue
      }
      const score = Simba.mean(mine.map((x) => Option.getOrElse(x.score, () => 0)))
      finalists.push({ id, score })
      yield* ctx.trial({ id: `simba-${id}-trainset`, score: 100 * score, details: { scope: "trainset", id } })
    }
    let best = finalists[0] ?? { id: 0, score: Number.NaN }
    for (const f of finalists) if (f.score > best.score) best = f
    const baseline = finalists.find((f) => f.id === 0)
    return {
      program: pool[best.id]!.program,
      bestId: best.id,
      bestScore: best.score,
      baselineScore: baseline?.score,
      pool,
      steps,
      winners,
      finalists,
      metricCalls,
      advisorCalls,
      programErrors,
      budgetExhausted
    }
  })
