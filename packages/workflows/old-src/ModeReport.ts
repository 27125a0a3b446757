/**
 * The mode comparison of a workflow: per step and end to end, time, cost, quality and success rate by arm
 * (`traditional`, `optimized`), from stored runs, built on the experiments machinery's `ModeComparison` (the same
 * statistics and always-valid tests as experiments). An `evaluation` step counts twice: its served arm and its
 * shadow, both recorded.
 *
 * @example
 * ```ts
 * import { ModeReport, RunStore } from "@effect-dspy/workflows"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RunStore.RunStore
 *   const runs = yield* store.list("triage")
 *   const records = yield* Effect.forEach(runs, (r) => store.get(r.runId))
 *   return ModeReport.render(ModeReport.compare(records.filter((r) => r !== undefined)))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { ModeComparison } from "@effect-dspy/services"
import type * as RunRecord from "./RunRecord.js"

/**
 * A workflow's mode comparison: one report per module step, and one for the whole run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly steps: { readonly [step: string]: ModeComparison.Report }
  readonly endToEnd: ModeComparison.Report
}

/**
 * Options: the quality of a step's outputs and of a run's result (0..1, when known), and the baseline arm.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly quality?: (step: string, outputs: { readonly [field: string]: unknown }) => number | undefined
  readonly runQuality?: (run: RunRecord.RunRecord) => number | undefined
  readonly baseline?: string
}

/**
 * The arm a whole run counts for: the arm every served module step used, else `mixed`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const runArm = (run: RunRecord.RunRecord): string => {
  const arms = new Set(run.steps.filter((s) => s.kind === "module" && s.arm !== undefined).map((s) => s.arm!))
  return arms.size === 1 ? [...arms][0]! : arms.size === 0 ? "none" : "mixed"
}

/**
 * Compares the modes over stored runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const compare = (runs: ReadonlyArray<RunRecord.RunRecord>, options: Options = {}): Report => {
  const baseline = options.baseline ?? "traditional"
  const byStep = new Map<string, Array<ModeComparison.CallRecord>>()
  const push = (step: string, record: ModeComparison.CallRecord) => {
    let list = byStep.get(step)
    if (list === undefined) byStep.set(step, (list = []))
    list.push(record)
  }
  const endToEnd: Array<ModeComparison.CallRecord> = []
  for (const run of runs) {
    for (const s of run.steps) {
      if (s.kind !== "module" || s.arm === undefined) continue
      push(s.step, {
        arm: s.arm,
        timeMs: s.timeMs,
        costUsd: s.costUsd,
        quality: s.outputs === undefined ? undefined : options.quality?.(s.step, s.outputs),
        success: s.success && s.fallback === undefined
      })
      if (s.shadow !== undefined && s.shadow.skipped === undefined) {
        push(s.step, {
          arm: s.shadow.arm,
          timeMs: s.shadow.timeMs,
          costUsd: s.shadow.costUsd,
          quality: s.shadow.outputs === undefined ? undefined : options.quality?.(s.step, s.shadow.outputs),
          success: s.shadow.success
        })
      }
    }
    if (run.status === "running") continue
    endToEnd.push({
      arm: runArm(run),
      timeMs: run.steps.reduce((t, s) => t + s.timeMs, 0),
      costUsd: run.steps.reduce((t, s) => t + s.costUsd, 0),
      quality: options.runQuality?.(run),
      success: run.status === "succeeded"
    })
  }
  const steps: Record<string, ModeComparison.Report> = {}
  for (const [step, records] of byStep) steps[step] = ModeComparison.compare({ baseline, records })
  return { steps, endToEnd: ModeComparison.compare({ baseline, records: endToEnd }) }
}

/**
 * The report as Markdown: one table per step, then the end-to-end table (`ModeComparison.render`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const render = (report: Report): string =>
  [
    ...Object.entries(report.steps).flatMap(([step, r]) => [`### Step ${step}`, "", ModeComparison.render(r), ""]),
    "### End to end",
    "",
    ModeComparison.render(report.endToEnd)
  ].join("\n")
