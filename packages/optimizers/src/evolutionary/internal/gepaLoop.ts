/**
 * GEPA's search loop (reflective prompt evolution with a per-instance Pareto front and merges) on the
 * optimizer contract's {@link Optimizer.Run}. Metric calls are counted and never exceed `maxMetricCalls`:
 * an iteration starts only when the budget covers its worst case.
 *
 * @since 0.1.0
 */
import { type Example, type LM, Module, Predict, Trace } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Feedback from "../../Feedback.js"
import type * as Optimizer from "../../Optimizer.js"
import type { OptimizerError } from "../../OptimizerError.js"
import * as Gepa from "./gepa.js"
import { callProgram, describeError } from "../../internal/program.js"

/**
 * The resolved settings of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly maxMetricCalls: number
  readonly minibatchSize: number
  readonly useMerge: boolean
  readonly maxMergeInvocations: number
  readonly mergeSubsampleSize: number
  readonly skipPerfectScore: boolean
  readonly perfectScore: number
  readonly reflectionLM: LM.Service | undefined
  readonly reflectionTemperature: number
  /** Writes the new instruction of a component from the reflective dataset. */
  readonly proposer: (input: {
    readonly component: string
    readonly currentInstruction: string
    readonly records: ReadonlyArray<Gepa.ReflectionRecord>
    readonly reflectionLM: LM.Service | undefined
    readonly temperature: number
  }) => Effect.Effect<string, Predict.PredictError, LM.LM>
}

/**
 * A candidate program of the pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly id: number
  readonly program: Module.Program
  /** Instructions by predictor path (the components GEPA evolves). */
  readonly texts: { readonly [path: string]: string }
  readonly parents: ReadonlyArray<number>
  readonly origin: "seed" | "reflection" | "merge"
  /** The component the reflection rewrote. */
  readonly component: string | null
  readonly valScores: ReadonlyArray<number>
  readonly average: number
  readonly iteration: number
  /** The next component of this candidate in round-robin order. */
  pointer: number
}

/**
 * One iteration of the log.
 *
 * @since 0.1.0
 * @category models
 */
export interface IterationLog {
  readonly iteration: number
  readonly kind: "reflection" | "merge"
  readonly parents: ReadonlyArray<number>
  readonly component: string | null
  readonly minibatch: ReadonlyArray<number>
  readonly parentScore: number | null
  readonly childScore: number | null
  readonly accepted: boolean
  readonly candidate: number | null
  readonly note: string
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
  readonly candidates: ReadonlyArray<Candidate>
  readonly fronts: Gepa.Fronts
  readonly iterations: ReadonlyArray<IterationLog>
  readonly metricCalls: number
  readonly reflectionCalls: number
  readonly mergesTested: number
  readonly mergesAccepted: number
  readonly budgetExhausted: boolean
  readonly stopReason: string
}

interface Scored {
  readonly score: number
  readonly feedback: string | null
  readonly trace: ReadonlyArray<Trace.Entry>
  readonly error: string | null
}

const squash = (cause: import("effect/Cause").Cause<unknown>): unknown =>
  cause._tag === "Fail" ? cause.error : cause._tag === "Die" ? cause.defect : String(cause)

/**
 * Runs a program on an example and scores it with the feedback metric (a failed run or metric scores 0 and
 * keeps its error as feedback).
 *
 * @since 0.1.0
 * @category running
 */
export const scoreOne = <R>(
  metric: Feedback.Metric<Example.Any, never, R>,
  program: Module.Program,
  example: Example.Any,
  component: string | undefined
): Effect.Effect<Scored, never, R | LM.LM> =>
  Effect.flatMap(Trace.tracedExit(callProgram(program, example)), ({ exit, trace }) => {
    if (Exit.isFailure(exit)) {
      const error = describeError(squash(exit.cause))
      return Effect.succeed<Scored>({ score: 0, feedback: null, trace, error })
    }
    const target =
      component === undefined
        ? undefined
        : { predictorPath: component, predictorTrace: trace.filter((e) => e.predictorPath === component) }
    return Effect.map(
      Effect.either(Feedback.run(metric, example, exit.value as never, trace, target)),
      (result): Scored =>
        Either.isRight(result) && Number.isFinite(result.right.score)
          ? { score: result.right.score, feedback: result.right.feedback ?? null, trace, error: null }
          : {
              score: 0,
              feedback: null,
              trace,
              error: Either.isLeft(result)
                ? `metric failed: ${describeError(result.left)}`
                : `metric returned ${result.right.score}`
            }
    )
  })

class BudgetStop {
  readonly _tag = "BudgetStop"
}

const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

/**
 * Runs GEPA on a student.
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
    const { trainset, valset } = ctx
    const components = Module.namedPredictors(student).map((p) => p.path)
    const candidates: Array<Candidate> = []
    const iterations: Array<IterationLog> = []
    let metricCalls = 0
    let reflectionCalls = 0
    let mergesTested = 0
    let mergesAccepted = 0
    let mergesDue = 0
    let lastAccepted = false
    let budgetExhausted = false
    let stopReason = "metric-call budget spent"
    const tried = new Set<string>()
    const averageOf = (id: number) => candidates[id]!.average
    const remaining = () => settings.maxMetricCalls - metricCalls

    const unit = <A>(key: string, work: Effect.Effect<A, never, LM.LM>) =>
      Effect.flatMap(ctx.unit(key, work), (result) =>
        Option.isNone(result) ? Effect.fail(new BudgetStop()) : Effect.succeed(result.value)
      )
    const scored = (key: string, program: Module.Program, example: Example.Any, component?: string) =>
      Effect.tap(
        unit(key, scoreOne(metric, program, example, component)),
        // Every scored example counts as one metric call (as GEPA counts evaluations), failed runs included.
        () =>
          Effect.sync(() => {
            metricCalls++
          })
      )
    const valScores = (prefix: string, program: Module.Program, indices: ReadonlyArray<number>) =>
      ctx.forEach(indices, (i) => Effect.map(scored(`${prefix}/${i}`, program, valset[i]!), (s) => s.score))

    const addCandidate = (
      c: Omit<Candidate, "id" | "average" | "pointer"> & { readonly pointer: number }
    ): Effect.Effect<Candidate> =>
      Effect.suspend(() => {
        const id = candidates.length
        const candidate: Candidate = { ...c, id, average: sum(c.valScores) / Math.max(1, c.valScores.length) }
        candidates.push(candidate)
        return Effect.as(
          ctx.trial({
            id: `gepa-${id}`,
            score: 100 * candidate.average,
            details: { parents: c.parents, origin: c.origin, component: c.component, scope: "valset" }
          }),
          candidate
        )
      })

    const loop = Effect.gen(function* () {
      // The seed program on the full valset.
      const allVal = valset.map((_, i) => i)
      if (remaining() < valset.length) {
        stopReason = `the metric-call budget (${settings.maxMetricCalls}) is below one valset evaluation (${valset.length})`
        return
      }
      const seedScores = yield* valScores("gepa/seed", student, allVal)
      yield* addCandidate({
        program: student,
        texts: Module.instructions(student),
        parents: [],
        origin: "seed",
        component: null,
        valScores: seedScores,
        iteration: 0,
        pointer: 0
      })
      fronts.best.push(...seedScores)
      fronts.members.push(...seedScores.map(() => new Set([0])))

      for (let iteration = 1; ; iteration++) {
        if (yield* ctx.budgetExhausted) {
          budgetExhausted = true
          stopReason = "LM budget spent"
          return
        }
        // A merge, right after an accepted candidate, when one is due.
        if (settings.useMerge && mergesDue > 0 && lastAccepted) {
          lastAccepted = false
          const plan = Gepa.findMerge({
            candidates: Gepa.dominators(fronts, averageOf),
            parentsOf: (id) => candidates[id]!.parents,
            textsOf: (id) => candidates[id]!.texts,
            averageOf,
            tried,
            rng: ctx.rng("gepa", "merge", iteration)
          })
          if (plan !== undefined && remaining() >= valset.length) {
            tried.add(`${plan.a},${plan.b},${plan.ancestor}`)
            const a = candidates[plan.a]!
            const b = candidates[plan.b]!
            const texts = Gepa.mergeComponents(
              candidates[plan.ancestor]!.texts,
              { texts: a.texts, score: a.average },
              { texts: b.texts, score: b.average }
            )
            const same = (x: { readonly [k: string]: string }) => components.every((k) => x[k] === texts[k])
            if (!candidates.some((c) => same(c.texts))) {
              mergesDue--
              mergesTested++
              const program = Module.mapPredictors(student, (p, path) => Predict.withInstructions(p, texts[path]!))
              const sub = Gepa.mergeSubsample(
                a.valScores,
                b.valScores,
                settings.mergeSubsampleSize,
                ctx.rng("gepa", "merge-subsample", iteration)
              )
              const subScores = yield* valScores(`gepa/${iteration}/merge`, program, sub)
              const merged = sum(subScores)
              const best = Math.max(sum(sub.map((i) => a.valScores[i]!)), sum(sub.map((i) => b.valScores[i]!)))
              const accepted = merged >= best
              let candidate: number | null = null
              if (accepted) {
                const rest = allVal.filter((i) => !sub.includes(i))
                const restScores = yield* valScores(`gepa/${iteration}/merge`, program, rest)
                const full = allVal.map((i) => {
                  const at = sub.indexOf(i)
                  return at >= 0 ? subScores[at]! : restScores[rest.indexOf(i)]!
                })
                const c = yield* addCandidate({
                  program,
                  texts,
                  parents: [plan.a, plan.b],
                  origin: "merge",
                  component: null,
                  valScores: full,
                  iteration,
                  pointer: Math.max(a.pointer, b.pointer)
                })
                Gepa.updateFronts(fronts, c.id, full)
                candidate = c.id
                mergesAccepted++
              }
              iterations.push({
                iteration,
                kind: "merge",
                parents: [plan.a, plan.b, plan.ancestor],
                component: null,
                minibatch: sub,
                parentScore: best,
                childScore: merged,
                accepted,
                candidate,
                note: accepted ? "merge kept" : "merge below its parents on the subsample"
              })
              continue
            }
          }
        }

        // A reflective mutation.
        if (remaining() < 2 * Math.min(settings.minibatchSize, trainset.length) + valset.length) {
          stopReason = "metric-call budget spent"
          return
        }
        const parentId = Gepa.selectParent(fronts, averageOf, ctx.rng("gepa", "parent", iteration))
        const parent = candidates[parentId]!
        const { component, next } = Gepa.roundRobin(components, parent.pointer)
        parent.pointer = next
        const batch = Gepa.minibatch(ctx.seed, trainset.length, settings.minibatchSize, iteration - 1)
        const parentRuns = yield* ctx.forEach(batch, (i, k) =>
          scored(`gepa/${iteration}/parent/${k}`, parent.program, trainset[i]!, component)
        )
        const parentScores = parentRuns.map((r) => r.score)
        const log = (fields: Partial<IterationLog> & { readonly note: string }): IterationLog => ({
          iteration,
          kind: "reflection",
          parents: [parentId],
          component,
          minibatch: batch,
          parentScore: sum(parentScores),
          childScore: null,
          accepted: false,
          candidate: null,
          ...fields
        })
        if (settings.skipPerfectScore && parentScores.every((s) => s >= settings.perfectScore)) {
          iterations.push(log({ note: "parent perfect on the minibatch" }))
          continue
        }
        const records = Gepa.reflectiveDataset(
          component,
          parentRuns.map((r, k) => ({
            inputs: trainset[batch[k]!]!.inputs().toRecord(),
            trace: r.trace,
            scored: { score: r.score, feedback: r.feedback ?? r.error ?? undefined },
            error: r.error ?? undefined
          }))
        )
        const proposal = yield* Effect.either(
          unit(
            `gepa/${iteration}/reflect`,
            Effect.either(
              Trace.untraced(
                Effect.map(
                  settings.proposer({
                    component,
                    currentInstruction: parent.texts[component]!,
                    records,
                    reflectionLM: settings.reflectionLM,
                    temperature: settings.reflectionTemperature
                  }),
                  (text) => text.trim()
                )
              )
            ).pipe(Effect.map((e) => (Either.isRight(e) ? { text: e.right } : { error: describeError(e.left) })))
          )
        )
        if (Either.isLeft(proposal)) return yield* Effect.fail(proposal.left)
        reflectionCalls++
        const result = proposal.right
        if ("error" in result || result.text === "" || result.text === parent.texts[component]) {
          iterations.push(
            log({ note: "error" in result ? `reflection failed: ${result.error}` : "no new instruction proposed" })
          )
          continue
        }
        const texts = { ...parent.texts, [component]: result.text }
        const child = Module.mapPredictors(parent.program, (p, path) =>
          path === component ? Predict.withInstructions(p, result.text) : p
        )
        const childScores = yield* ctx.forEach(batch, (i, k) =>
          Effect.map(scored(`gepa/${iteration}/child/${k}`, child, trainset[i]!), (r) => r.score)
        )
        if (!(sum(childScores) > sum(parentScores))) {
          lastAccepted = false
          iterations.push(log({ childScore: sum(childScores), note: "no improvement on the minibatch" }))
          continue
        }
        const full = yield* valScores(`gepa/${iteration}/val`, child, allVal)
        const c = yield* addCandidate({
          program: child,
          texts,
          parents: [parentId],
          origin: "reflection",
          component,
          valScores: full,
          iteration,
          pointer: next
        })
        Gepa.updateFronts(fronts, c.id, full)
        lastAccepted = true
        if (settings.useMerge && mergesTested + mergesDue < settings.maxMergeInvocations) mergesDue++
        iterations.push(
          log({ childScore: sum(childScores), accepted: true, candidate: c.id, note: "improved on the minibatch" })
        )
      }
    })

    const fronts: Gepa.Fronts = { best: [], members: [] }
    const stopped = yield* Effect.either(loop)
    if (Either.isLeft(stopped)) {
      if (stopped.left instanceof BudgetStop) {
        budgetExhausted = true
        stopReason = "LM budget spent"
      } else return yield* Effect.fail(stopped.left)
    }
    let bestId = 0
    for (const c of candidates) if (c.average > candidates[bestId]!.average) bestId = c.id
    return {
      program: candidates[bestId]?.program ?? student,
      bestId,
      candidates,
      fronts,
      iterations,
      metricCalls,
      reflectionCalls,
      mergesTested,
      mergesAccepted,
      budgetExhausted,
      stopReason
    }
  })
