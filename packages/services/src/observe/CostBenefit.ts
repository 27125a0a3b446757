/**
 * The cost-benefit report per module: the quality its optimizations gained (score points of the swapped-in
 * results over the serving versions), what the optimizations cost and what serving it cost, and the quality
 * gained per dollar, read from the metric history over a window.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { MetricHistoryError, ObserveInvalidInput } from "../ServicesError.js"
import { metrics } from "./HistoryFeed.js"
import type * as MetricHistory from "./MetricHistory.js"
import type * as Rollup from "./Rollup.js"

/**
 * One module's figures.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleFigures {
  readonly module: string
  /** Score points gained by swapped-in optimization results. */
  readonly qualityGain: number
  readonly optimizationCostUsd: number
  readonly servingCostUsd: number
  readonly calls: number
  /** Quality gained per dollar spent in all (NaN when nothing was spent). */
  readonly gainPerDollar: number
  /** Quality gained per dollar of optimization (NaN when none was spent). */
  readonly gainPerOptimizationDollar: number
}

const sumByModule = (points: ReadonlyArray<Rollup.Point>, field: "sum" | "count") => {
  const out = new Map<string, number>()
  for (const p of points) {
    if (p.series.module === undefined) continue
    out.set(p.series.module, (out.get(p.series.module) ?? 0) + p[field])
  }
  return out
}

/**
 * The report from the window's figures (pure).
 *
 * @since 0.1.0
 * @category constructors
 */
export const analyze = (figures: {
  readonly gains: ReadonlyArray<Rollup.Point>
  readonly optimizationCost: ReadonlyArray<Rollup.Point>
  readonly servingCost: ReadonlyArray<Rollup.Point>
  readonly calls: ReadonlyArray<Rollup.Point>
}): ReadonlyArray<ModuleFigures> => {
  const gains = sumByModule(figures.gains, "sum")
  const optimization = sumByModule(figures.optimizationCost, "sum")
  const serving = sumByModule(figures.servingCost, "sum")
  const calls = sumByModule(figures.calls, "count")
  const modules = new Set([...gains.keys(), ...optimization.keys(), ...serving.keys(), ...calls.keys()])
  return [...modules].sort().map((module) => {
    const qualityGain = gains.get(module) ?? 0
    const optimizationCostUsd = optimization.get(module) ?? 0
    const servingCostUsd = serving.get(module) ?? 0
    const spent = optimizationCostUsd + servingCostUsd
    return {
      module,
      qualityGain,
      optimizationCostUsd,
      servingCostUsd,
      calls: calls.get(module) ?? 0,
      gainPerDollar: spent > 0 ? qualityGain / spent : Number.NaN,
      gainPerOptimizationDollar: optimizationCostUsd > 0 ? qualityGain / optimizationCostUsd : Number.NaN
    }
  })
}

/**
 * The report over `[from, to)` of a history.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHistory = (
  history: MetricHistory.Service,
  from: number,
  to: number
): Effect.Effect<ReadonlyArray<ModuleFigures>, MetricHistoryError | ObserveInvalidInput> =>
  Effect.map(
    Effect.all({
      gains: history.summarize({ metric: metrics.optimizationGain }, from, to),
      optimizationCost: history.summarize({ metric: metrics.optimizationCost }, from, to),
      servingCost: history.summarize({ metric: metrics.moduleCost }, from, to),
      calls: history.summarize({ metric: metrics.moduleLatency }, from, to)
    }),
    analyze
  )
