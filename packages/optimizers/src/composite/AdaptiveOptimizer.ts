/**
 * The adaptive optimizer: picks an optimizer for a run and delegates to it. The choice, in order:
 *
 * 1. an explicit `optimizer` name;
 * 2. the history of past runs on the same program (same fingerprint of its starting state): the optimizer
 *    with the best score gain per unit of cost (LM calls by default), when its gain was positive;
 * 3. the trainset size: BootstrapFewShot below 50 examples, SIMBA from 50, MIPROv2 from 100, GEPA from 200
 *    (the design's multi-stage thresholds; overridable).
 *
 * Each finished run is appended to the history (program fingerprint, optimizer, trainset size, score gain,
 * LM calls, cost) when a {@link History} is given. The gain is the delegate's reported best score minus its
 * baseline; when it reports neither, the student and the result are scored on the valset (those two
 * evaluations are in the run's report but not in the history's cost, which is the delegate's own); {@link historyFromCheckpoints} keeps it in the contract's
 * checkpoint store (memory or JSON-lines file), so it survives restarts. The report says which optimizer ran
 * and why (`report.details.adaptive`), next to the chosen optimizer's own details, and publishes it as an
 * `adaptive_optimizer_selected` event when the `Events` service is present.
 *
 * ```ts
 * const history = AdaptiveOptimizer.historyFromCheckpoints(Checkpoint.makeMemory())
 * const { program, report } = yield* Optimizer.compile(AdaptiveOptimizer.make({ history }), student, {
 *   trainset, metric
 * })
 * report.details.adaptive // { chosen: "SIMBA", rule: "size", reason: "..." }
 * ```
 *
 * @since 0.1.0
 */
import { LM, Module } from "@effect-dspy/core"
import { CanonicalJson, Events } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as BootstrapFewShot from "../few-shot/BootstrapFewShot.js"
import type * as Checkpoint from "../Checkpoint.js"
import * as GEPA from "../evolutionary/GEPA.js"
import * as MIPROv2 from "../instruction-search/MIPROv2.js"
import * as Optimizer from "../Optimizer.js"
import * as OptimizerEvents from "../OptimizerEvents.js"
import { type CheckpointError, OptimizerConfigError } from "../OptimizerError.js"
import * as SIMBA from "../evolutionary/SIMBA.js"

/**
 * The smallest trainset size at which each stage starts (below `simba`: BootstrapFewShot).
 *
 * @since 0.1.0
 * @category models
 */
export interface Thresholds {
  readonly simba: number
  readonly mipro: number
  readonly gepa: number
}

/**
 * The design's thresholds: SIMBA from 50 examples, MIPROv2 from 100, GEPA from 200.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultThresholds: Thresholds = { simba: 50, mipro: 100, gepa: 200 }

/**
 * The candidate names of the stages, in order of trainset size.
 *
 * @since 0.1.0
 * @category constants
 */
export const stageNames = {
  bootstrap: "BootstrapFewShot",
  simba: "SIMBA",
  mipro: "MIPROv2",
  gepa: "GEPA"
} as const

/**
 * One past run.
 *
 * @since 0.1.0
 * @category models
 */
export interface HistoryEntry {
  readonly programFingerprint: string
  readonly optimizer: string
  readonly trainsetSize: number
  /** Score after minus score before, in percentage points. */
  readonly scoreGain: number
  readonly lmCalls: number
  readonly costUsd: number
}

/**
 * Where past runs are kept.
 *
 * @since 0.1.0
 * @category models
 */
export interface History {
  readonly read: (programFingerprint: string) => Effect.Effect<ReadonlyArray<HistoryEntry>, CheckpointError>
  readonly record: (entry: HistoryEntry) => Effect.Effect<void, CheckpointError>
}

const HISTORY_NAMESPACE = "adaptive-optimizer/history"

/**
 * A history kept in a checkpoint store: one record per program fingerprint holding its runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const historyFromCheckpoints = (store: Checkpoint.Service): History => {
  const read = (fingerprint: string) =>
    Effect.map(store.get(HISTORY_NAMESPACE, fingerprint), (stored) =>
      Option.isSome(stored) && Array.isArray(stored.value) ? (stored.value as ReadonlyArray<HistoryEntry>) : []
    )
  return {
    read,
    record: (entry) =>
      Effect.flatMap(read(entry.programFingerprint), (runs) =>
        store.set(HISTORY_NAMESPACE, entry.programFingerprint, [...runs, entry])
      )
  }
}

/**
 * The fingerprint of a program's starting state (its name and every predictor's signature, instructions and
 * demos): runs on the same program share it.
 *
 * @since 0.1.0
 * @category history
 */
export const fingerprint = (program: Module.Program): string =>
  CanonicalJson.sha256(Module.dumpState(program)).slice(0, 16)

/**
 * How cost is measured when comparing past runs.
 *
 * @since 0.1.0
 * @category models
 */
export type CostMeasure = "lmCalls" | "costUsd"

/**
 * A choice and why it was made.
 *
 * @since 0.1.0
 * @category models
 */
export interface Choice {
  readonly optimizer: string
  readonly rule: "override" | "history" | "size"
  readonly reason: string
  /** Gain per cost of each optimizer found in the history (when it was read). */
  readonly history: ReadonlyArray<{
    readonly optimizer: string
    readonly runs: number
    readonly meanGain: number
    readonly meanCost: number
    readonly gainPerCost: number
  }>
}

/**
 * The stage for a trainset size under the thresholds.
 *
 * @since 0.1.0
 * @category selection
 */
export const bySize = (trainsetSize: number, thresholds: Thresholds = defaultThresholds): string =>
  trainsetSize >= thresholds.gepa
    ? stageNames.gepa
    : trainsetSize >= thresholds.mipro
      ? stageNames.mipro
      : trainsetSize >= thresholds.simba
        ? stageNames.simba
        : stageNames.bootstrap

/**
 * Chooses an optimizer: the override, else the best gain per cost among past runs of the program (when
 * positive), else by trainset size. Only names in `available` are chosen from the history.
 *
 * @since 0.1.0
 * @category selection
 */
export const select = (input: {
  readonly trainsetSize: number
  readonly thresholds?: Thresholds
  readonly override?: string
  readonly history?: ReadonlyArray<HistoryEntry>
  readonly available: ReadonlyArray<string>
  readonly costMeasure?: CostMeasure
}): Choice => {
  const thresholds = input.thresholds ?? defaultThresholds
  const measure = input.costMeasure ?? "lmCalls"
  const groups = new Map<string, Array<HistoryEntry>>()
  for (const entry of input.history ?? []) {
    if (!input.available.includes(entry.optimizer)) continue
    const list = groups.get(entry.optimizer)
    if (list === undefined) groups.set(entry.optimizer, [entry])
    else list.push(entry)
  }
  const summary = [...groups.entries()].map(([optimizer, runs]) => {
    const meanGain = runs.reduce((a, r) => a + r.scoreGain, 0) / runs.length
    const meanCost = runs.reduce((a, r) => a + r[measure], 0) / runs.length
    return { optimizer, runs: runs.length, meanGain, meanCost, gainPerCost: meanGain / Math.max(meanCost, 1e-9) }
  })
  if (input.override !== undefined) {
    return { optimizer: input.override, rule: "override", reason: `${input.override} was asked for`, history: summary }
  }
  const best = [...summary].sort((a, b) => b.gainPerCost - a.gainPerCost)[0]
  if (best !== undefined && best.meanGain > 0) {
    return {
      optimizer: best.optimizer,
      rule: "history",
      reason: `${best.optimizer} gave the best gain per ${measure === "lmCalls" ? "LM call" : "dollar"} in ${summary.reduce((a, s) => a + s.runs, 0)} past runs on this program (${best.meanGain.toFixed(2)} points for ${best.meanCost.toFixed(measure === "lmCalls" ? 0 : 4)} on average)`,
      history: summary
    }
  }
  const chosen = bySize(input.trainsetSize, thresholds)
  const why =
    chosen === stageNames.bootstrap
      ? `below ${thresholds.simba}`
      : chosen === stageNames.simba
        ? `at least ${thresholds.simba} and below ${thresholds.mipro}`
        : chosen === stageNames.mipro
          ? `at least ${thresholds.mipro} and below ${thresholds.gepa}`
          : `at least ${thresholds.gepa}`
  return {
    optimizer: chosen,
    rule: "size",
    reason: `${input.trainsetSize} training examples (${why})${summary.length > 0 ? "; no past run on this program gained" : ""}: ${chosen}`,
    history: summary
  }
}

/**
 * The options of the adaptive optimizer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The optimizers to choose from, by name (default: BootstrapFewShot, SIMBA, MIPROv2, GEPA light). */
  readonly candidates?: { readonly [name: string]: Optimizer.Optimizer }
  /** Run this one (a name of `candidates`). */
  readonly optimizer?: string
  readonly thresholds?: Partial<Thresholds>
  /** Past runs: read to choose, appended to after the run. */
  readonly history?: History
  readonly costMeasure?: CostMeasure
}

/**
 * The default candidates: each stage's optimizer with its DSPy defaults (GEPA with the light preset).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultCandidates = (): { readonly [name: string]: Optimizer.Optimizer } => ({
  [stageNames.bootstrap]: BootstrapFewShot.make(),
  [stageNames.simba]: SIMBA.make(),
  [stageNames.mipro]: MIPROv2.make(),
  [stageNames.gepa]: GEPA.make({ auto: "light" })
})

const announce = (choice: Choice, trainsetSize: number, programFingerprint: string): Effect.Effect<void> =>
  Effect.asVoid(
    Events.publishOrLog(OptimizerEvents.AdaptiveOptimizerSelected, {
      optimizer: choice.optimizer,
      rule: choice.rule,
      reason: choice.reason,
      trainset_size: trainsetSize,
      program_fingerprint: programFingerprint
    })
  )

const validateThresholds = (t: Thresholds): Effect.Effect<Thresholds, OptimizerConfigError> =>
  [t.simba, t.mipro, t.gepa].every((x) => Number.isInteger(x) && x >= 0) && t.simba <= t.mipro && t.mipro <= t.gepa
    ? Effect.succeed(t)
    : Effect.fail(
        new OptimizerConfigError({
          option: "AdaptiveOptimizer.thresholds",
          message: `thresholds must be non-negative integers with simba <= mipro <= gepa, got ${JSON.stringify(t)}`
        })
      )

/**
 * The adaptive optimizer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Optimizer.Optimizer => {
  const candidates = options.candidates ?? defaultCandidates()
  const thresholds: Thresholds = { ...defaultThresholds, ...options.thresholds }
  return Optimizer.make({
    name: "AdaptiveOptimizer",
    settings: {
      candidates: Object.fromEntries(
        Object.entries(candidates).map(([k, o]) => [k, { name: o.name, settings: o.settings }])
      ),
      optimizer: options.optimizer ?? null,
      thresholds,
      costMeasure: options.costMeasure ?? "lmCalls"
    },
    compile: <P extends Module.Program>(student: P, run: Optimizer.Run) =>
      Effect.gen(function* () {
        yield* validateThresholds(thresholds)
        const available = Object.keys(candidates)
        if (options.optimizer !== undefined && !available.includes(options.optimizer)) {
          return yield* new OptimizerConfigError({
            option: "AdaptiveOptimizer.optimizer",
            message: `No candidate named ${options.optimizer}; the candidates are ${available.join(", ")}`
          })
        }
        const programFingerprint = fingerprint(student)
        const past = options.history === undefined ? [] : yield* options.history.read(programFingerprint)
        const choice = select({
          trainsetSize: run.trainset.length,
          thresholds,
          available,
          history: past,
          ...(options.optimizer === undefined ? {} : { override: options.optimizer }),
          ...(options.costMeasure === undefined ? {} : { costMeasure: options.costMeasure })
        })
        const chosen = candidates[choice.optimizer]
        if (chosen === undefined) {
          return yield* new OptimizerConfigError({
            option: "AdaptiveOptimizer.candidates",
            message: `The trainset size calls for ${choice.optimizer}, which is not among the candidates (${available.join(", ")}): add it or lower the thresholds`
          })
        }
        yield* announce(choice, run.trainset.length, programFingerprint)
        const { result: outcome, usage } = yield* LM.trackUsage(chosen.compile(student, run))
        const baseline =
          outcome.baselineScore ?? (yield* run.evaluate(student, run.valset, { key: "adaptive/baseline" })).score
        const final =
          outcome.bestScore ?? (yield* run.evaluate(outcome.program, run.valset, { key: "adaptive/final" })).score
        const entry: HistoryEntry = {
          programFingerprint,
          optimizer: choice.optimizer,
          trainsetSize: run.trainset.length,
          scoreGain: final - baseline,
          lmCalls: usage.calls,
          costUsd: usage.costUsd
        }
        if (options.history !== undefined) yield* options.history.record(entry)
        return {
          program: outcome.program,
          bestScore: final,
          baselineScore: baseline,
          details: {
            ...outcome.details,
            adaptive: {
              chosen: choice.optimizer,
              rule: choice.rule,
              reason: choice.reason,
              history: choice.history,
              pastRuns: past.length,
              thresholds,
              run: entry
            }
          }
        }
      })
  })
}
