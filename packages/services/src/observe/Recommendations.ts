/**
 * A report that names the bottlenecks, each with the figures behind it, read from the metric history over a
 * window: the slowest stage of the request path (LM calls, provider queueing included, against the module's own
 * work), the provider whose latency tail dominates, the modules whose LM cache hit rate is low, and the process's
 * resources when they are the limit (event-loop delay, CPU).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { MetricHistoryError, ObserveInvalidInput } from "../ServicesError.js"
import { metrics } from "./HistoryFeed.js"
import type * as MetricHistory from "./MetricHistory.js"
import * as ResourceSampler from "./ResourceSampler.js"
import type * as Rollup from "./Rollup.js"

/**
 * One finding.
 *
 * @since 0.1.0
 * @category models
 */
export interface Finding {
  readonly kind: "slowest_stage" | "provider_tail" | "low_cache_hit_rate" | "event_loop" | "cpu"
  /** What it is about: a stage, a provider, a module, the process. */
  readonly subject: string
  /** The finding in words, with its figures. */
  readonly detail: string
  /** What to do about it. */
  readonly advice: string
  readonly figures: { readonly [name: string]: number }
}

/**
 * The report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly from: number
  readonly to: number
  readonly findings: ReadonlyArray<Finding>
}

/**
 * The thresholds of the report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A module's hit rate under this is low (default 0.2). */
  readonly lowHitRate?: number
  /** Fewer calls than this: not judged (default 20). */
  readonly minCalls?: number
  /** Event-loop delay p99 over this (ms) is a bottleneck (default 100). */
  readonly eventLoopDelayMs?: number
  /** CPU over this (percent of one core) is a bottleneck (default 90). */
  readonly cpuPercent?: number
}

const ms = (x: number) => `${x.toFixed(x >= 100 ? 0 : 1)} ms`

/**
 * The report from the figures of a window (pure: {@link fromHistory} reads them).
 *
 * @since 0.1.0
 * @category constructors
 */
export const analyze = (
  window: {
    readonly from: number
    readonly to: number
    readonly moduleLatency: ReadonlyArray<Rollup.Point>
    readonly lmLatency: ReadonlyArray<Rollup.Point>
    /** Completion time per provider that served it (`provider.latency_ms`). */
    readonly providerLatency: ReadonlyArray<Rollup.Point>
    readonly cacheHits: ReadonlyArray<Rollup.Point>
    readonly eventLoopP99: ReadonlyArray<Rollup.Point>
    readonly cpu: ReadonlyArray<Rollup.Point>
  },
  options: Options = {}
): Report => {
  const minCalls = options.minCalls ?? 20
  const findings: Array<Finding> = []
  // The request path: time in LM calls (queueing at the provider included) against the modules' own work.
  const moduleTime = window.moduleLatency.reduce((s, p) => s + p.sum, 0)
  const moduleCalls = window.moduleLatency.reduce((s, p) => s + p.count, 0)
  const lmTime = window.lmLatency.filter((p) => p.series.module !== undefined).reduce((s, p) => s + p.sum, 0)
  if (moduleCalls >= minCalls && moduleTime > 0) {
    const lmShare = Math.min(1, lmTime / moduleTime)
    const stage = lmShare >= 0.5 ? "LM calls" : "module work (adapters, parsing, program code)"
    findings.push({
      kind: "slowest_stage",
      subject: stage,
      detail: `${stage} take ${(100 * Math.max(lmShare, 1 - lmShare)).toFixed(0)}% of module time (${ms(
        moduleTime / moduleCalls
      )} a call on average over ${moduleCalls} calls; LM ${ms((lmShare * moduleTime) / moduleCalls)})`,
      advice:
        lmShare >= 0.5
          ? "cache more (a higher TTL, fewer distinct prompts), use a faster model or provider, or fewer LM calls per module"
          : "profile the module: its adapters' parsing or program code dominate, not the LM",
      figures: {
        lm_share: lmShare,
        module_mean_ms: moduleTime / moduleCalls,
        lm_ms_per_call: (lmShare * moduleTime) / moduleCalls,
        calls: moduleCalls
      }
    })
  }
  // The provider whose tail dominates: the highest p99 among providers with enough calls (as served, after
  // balancing and fail-over).
  const byProvider = new Map<string, Array<Rollup.Point>>()
  for (const p of window.providerLatency) {
    if (p.series.provider === undefined) continue
    const list = byProvider.get(p.series.provider) ?? []
    list.push(p)
    byProvider.set(p.series.provider, list)
  }
  const providers = [...byProvider.entries()]
    .map(([provider, points]) => {
      const count = points.reduce((s, p) => s + p.count, 0)
      // The series of one provider (one per module) weighed by their calls.
      const weighted = (f: (p: Rollup.Point) => number) =>
        points.reduce((s, p) => s + (Number.isFinite(f(p)) ? f(p) * p.count : 0), 0) / Math.max(1, count)
      return { provider, count, p50: weighted((p) => p.p50), p99: Math.max(...points.map((p) => p.p99)) }
    })
    .filter((p) => p.count >= minCalls)
    .sort((a, b) => b.p99 - a.p99)
  const worst = providers[0]
  if (worst !== undefined) {
    const next = providers[1]
    findings.push({
      kind: "provider_tail",
      subject: worst.provider,
      detail: `provider ${worst.provider} has the longest tail: p99 ${ms(worst.p99)} (p50 ${ms(worst.p50)}, ${worst.count} calls)${
        next === undefined ? "" : `; next is ${next.provider} at p99 ${ms(next.p99)}`
      }`,
      advice:
        "hedge or time out its slow calls, give it a larger pool if it queues, or move traffic to a faster peer (weighted balancing)",
      figures: {
        p50_ms: worst.p50,
        p99_ms: worst.p99,
        tail_ratio: worst.p50 > 0 ? worst.p99 / worst.p50 : Number.NaN,
        calls: worst.count,
        ...(next === undefined ? {} : { next_p99_ms: next.p99 })
      }
    })
  }
  // Modules whose cache hit rate is low.
  const byModule = new Map<string, { hits: number; calls: number }>()
  for (const p of window.cacheHits) {
    if (p.series.module === undefined) continue
    const m = byModule.get(p.series.module) ?? { hits: 0, calls: 0 }
    m.hits += p.sum
    m.calls += p.count
    byModule.set(p.series.module, m)
  }
  const lowHit = options.lowHitRate ?? 0.2
  for (const [module, m] of [...byModule.entries()].sort((a, b) => a[1].hits / a[1].calls - b[1].hits / b[1].calls)) {
    const rate = m.hits / m.calls
    if (m.calls < minCalls || rate >= lowHit) continue
    findings.push({
      kind: "low_cache_hit_rate",
      subject: module,
      detail: `module ${module} hits the LM cache on ${(100 * rate).toFixed(1)}% of ${m.calls} LM calls`,
      advice:
        "check that its prompts are stable (no timestamps or ids in them), raise the cache TTL, or warm the cache",
      figures: { hit_rate: rate, calls: m.calls }
    })
  }
  const delay = Math.max(0, ...window.eventLoopP99.map((p) => p.max).filter(Number.isFinite))
  if (delay > (options.eventLoopDelayMs ?? 100)) {
    findings.push({
      kind: "event_loop",
      subject: "process",
      detail: `the event loop was blocked up to ${ms(delay)} (p99 of a sample)`,
      advice: "move synchronous work (large JSON, CPU-bound scoring) off the request path or into a worker",
      figures: { event_loop_delay_p99_ms: delay }
    })
  }
  const cpu = Math.max(0, ...window.cpu.map((p) => p.mean).filter(Number.isFinite))
  if (cpu > (options.cpuPercent ?? 90)) {
    findings.push({
      kind: "cpu",
      subject: "process",
      detail: `the process used ${cpu.toFixed(0)}% of a core on average in a sample`,
      advice: "lower the optimization workers or concurrency, or add processes",
      figures: { cpu_percent: cpu }
    })
  }
  return { from: window.from, to: window.to, findings }
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
  to: number,
  options: Options = {}
): Effect.Effect<Report, MetricHistoryError | ObserveInvalidInput> =>
  Effect.map(
    Effect.all({
      moduleLatency: history.summarize({ metric: metrics.moduleLatency }, from, to),
      lmLatency: history.summarize({ metric: metrics.lmLatency }, from, to),
      providerLatency: history.summarize({ metric: metrics.providerLatency }, from, to),
      cacheHits: history.summarize({ metric: metrics.lmCacheHit }, from, to),
      eventLoopP99: history.summarize({ metric: ResourceSampler.metrics.eventLoopDelayP99Ms }, from, to),
      cpu: history.query({ selector: { metric: ResourceSampler.metrics.cpuPercent }, from, to })
    }),
    (figures) => analyze({ from, to, ...figures }, options)
  )
