/**
 * Phase 6, report: the traffic stops, every request still in flight is awaited, and the figures of every phase,
 * the providers and the cache make the demo's summary.
 */
import { CacheManager, LMProviders } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import type { ExperimentReport, Summary } from "../Summary.js"
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
): Effect.Effect<Summary, unknown, LMProviders.LMProviders | CacheManager.CacheManager> =>
  Effect.gen(function* () {
    const { settings, requests } = stage
    const providers = yield* LMProviders.LMProviders
    const cache = yield* CacheManager.CacheManager
    yield* requests.stop
    const report = yield* requests.report
    const statuses = yield* providers.status
    const cacheStats = yield* cache.stats
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
      cache: { hits: cacheStats.hits, misses: cacheStats.misses, hitRate: cacheStats.hitRate },
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
      durationMs: Math.round(performance.now() - started)
    }
  })
