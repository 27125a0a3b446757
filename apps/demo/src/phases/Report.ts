/**
 * Phase 6, report: the traffic stops, every request still in flight is awaited, and the figures of every phase,
 * the providers and the cache make the demo's summary.
 */
import { CacheManager, LMProviders, Observability } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import type { ExperimentReport, ForecastSummary, Summary } from "../Summary.js"
import type { PhaseStats } from "../Traffic.js"
import type { Baseline } from "./Baseline.js"
import type { Crashes } from "./Crashes.js"
import type { Optimized } from "./Optimize.js"
import type { Outage } from "./Outage.js"
import type * as Stage from "./Stage.js"

/** What the earlier phases found. */
export interface Phases {
  readonly baseline: Baseline
  readonly optimized: Optimized
  readonly outage: Outage
  readonly crashes: Crashes
  readonly canary: ExperimentReport
}

/**
 * Drains the traffic and builds the summary; `started` is when the demo began (`performance.now()`). After an
 * early stop (`stopped` says why), the phases not reached are missing and the summary holds the figures so far.
 */
export const run = (
  stage: Stage.Stage,
  phases: Partial<Phases>,
  started: number,
  stopped: string | null = null
): Effect.Effect<Summary, unknown, LMProviders.LMProviders | CacheManager.CacheManager | Observability.Observability> =>
  Effect.gen(function* () {
    const { settings, requests } = stage
    const providers = yield* LMProviders.LMProviders
    const cache = yield* CacheManager.CacheManager
    const forecasts = yield* forecastsOf(stage)
    yield* requests.stop
    const report = yield* requests.report
    const statuses = yield* providers.status
    const cacheStats = yield* cache.stats
    // Every module's memo hits (`ModuleManager.memoHits`): the counter's series summed over their labels.
    const memoHits = (yield* Metric.snapshot).reduce(
      (total, pair) =>
        pair.metricKey.name === "dspy.services.module.memo_hits" && MetricState.isCounterState(pair.metricState)
          ? total + Number(pair.metricState.count)
          : total,
      0
    )
    const phaseP50 = (phase: string, seen: PhaseStats | undefined) =>
      seen?.latencyP50Ms ?? report.phases.find((p) => p.phase === phase)?.latencyP50Ms ?? 0
    const before = phases.baseline?.accuracy ?? null
    const swapped = (phases.optimized?.reports ?? []).flatMap((o) =>
      o.swappedVersion === null ? [] : [o.swappedVersion]
    )
    const sum = (f: (s: LMProviders.ProviderStatus) => number) => statuses.reduce((a, s) => a + f(s), 0)
    return {
      provider: settings.provider,
      stopped,
      accuracy: {
        before,
        after: phases.optimized?.accuracy ?? before,
        examples: stage.testset.length
      },
      servingVersion: {
        before: stage.firstVersion,
        after: phases.crashes?.servingVersion ?? Math.max(stage.firstVersion, ...swapped)
      },
      optimizations: phases.optimized?.reports ?? [],
      requests: {
        sent: report.total.sent,
        answered: report.total.answered,
        failed: report.total.failed,
        lost: report.total.sent - report.total.answered - report.total.failed
      },
      errorsByType: report.total.errors,
      latency: { p50Ms: report.total.latencyP50Ms, p99Ms: report.total.latencyP99Ms },
      servingDuringOptimization: {
        baselineP50Ms: phaseP50("baseline", phases.baseline?.traffic),
        optimizingP50Ms: phaseP50("optimizing", phases.optimized?.traffic)
      },
      phases: report.phases,
      lm: {
        calls: sum((s) => s.calls),
        promptTokens: sum((s) => s.promptTokens),
        completionTokens: sum((s) => s.completionTokens),
        tokens: sum((s) => s.promptTokens + s.completionTokens),
        costUsd: Math.round(sum((s) => s.costUsd) * 1e6) / 1e6,
        byProvider: Object.fromEntries(statuses.map((s) => [s.name, s.calls]))
      },
      cache: { hits: cacheStats.hits, misses: cacheStats.misses, hitRate: cacheStats.hitRate, memoHits },
      faults: {
        injected: settings.chaos.injected(settings.provider.primary),
        failovers: sum((s) => s.failovers),
        recoveries: sum((s) => s.recoveries),
        breakerStates: phases.outage?.breakerStates ?? []
      },
      restarts: phases.crashes?.restarts ?? [],
      experiments: phases.canary === undefined ? [] : [phases.canary],
      releases: null,
      loop: null,
      alerts: phases.outage?.alerts ?? [],
      forecasts,
      health: phases.outage?.health ?? null,
      durationMs: Math.round(performance.now() - started)
    }
  })

/**
 * Forecasts from the metric history's one-second rollups (the traffic still running): the LM cost per hour (the
 * per-interval cost forecast a minute ahead, scaled to an hour) and the serving module's p95 latency a minute
 * ahead, each with its 95% interval.
 */
const forecastsOf = (
  stage: Stage.Stage
): Effect.Effect<ReadonlyArray<ForecastSummary>, unknown, Observability.Observability> =>
  Effect.gen(function* () {
    const observability = yield* Observability.Observability
    const interval = observability.history.intervalMs
    const horizonMs = 60_000
    const perHour = 3_600_000 / interval
    const out: Array<ForecastSummary> = []
    const last = <A>(xs: ReadonlyArray<A>) => xs[xs.length - 1]
    const cost = yield* observability.forecast({
      selector: { metric: "lm.cost_usd" },
      statistic: "sum",
      windowMs: 120_000,
      horizonMs
    })
    // All series of the LM cost added up (one per provider and module).
    const ends = cost.flatMap((f) => {
      const p = last(f.points)
      return p === undefined ? [] : [p]
    })
    const finite = (f: { readonly mean: number; readonly lower: number; readonly upper: number }) =>
      Number.isFinite(f.mean) && Number.isFinite(f.lower) && Number.isFinite(f.upper)
    // A forecast still in its warm-up has no interval yet: it is left out rather than reported without one.
    if (ends.length > 0 && ends.every(finite)) {
      out.push({
        name: "LM cost per hour",
        metric: "lm.cost_usd",
        statistic: "sum",
        unit: "USD/h",
        horizonMs,
        history: Math.max(...cost.map((f) => f.history)),
        mean: perHour * ends.reduce((s, p) => s + p.mean, 0),
        lower:
          perHour *
          Math.max(
            0,
            ends.reduce((s, p) => s + p.lower, 0)
          ),
        upper: perHour * ends.reduce((s, p) => s + p.upper, 0)
      })
    }
    const latency = yield* observability.forecast({
      selector: { metric: "module.latency_ms", module: stage.moduleId },
      statistic: "p95",
      windowMs: 120_000,
      horizonMs
    })
    // The newest version's series (the one serving at the end).
    const busiest = latency.reduce<(typeof latency)[number] | undefined>(
      (best, f) => (best === undefined || Number(f.series.version ?? 0) > Number(best.series.version ?? 0) ? f : best),
      undefined
    )
    const end = busiest === undefined ? undefined : last(busiest.points)
    if (busiest !== undefined && end !== undefined && finite(end)) {
      out.push({
        name: `${stage.moduleId} p95 latency`,
        metric: "module.latency_ms",
        statistic: "p95",
        unit: "ms",
        horizonMs,
        history: busiest.history,
        mean: end.mean,
        lower: Math.max(0, end.lower),
        upper: end.upper
      })
    }
    return out
  })
