/**
 * What feeds the metric history from the running application: the events it already publishes (each module
 * execution, LM call and optimization trial, stamped by the ModuleManager with the module's id and version) and,
 * on each tick, gauges read from the providers (pool use, queueing, circuits) and the process's resources.
 * Outcomes are recorded as 0/1 values, so a rollup's mean is a rate (error rate, cache hit rate).
 *
 * @since 0.1.0
 */
import { CoreEvents } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import { OptimizerEvents } from "@effect-dspy/optimizers"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as LMProviders from "../LMProviders.js"
import * as ServicesEvents from "../ServicesEvents.js"
import type * as MetricHistory from "./MetricHistory.js"
import * as ResourceSampler from "./ResourceSampler.js"
import type * as Series from "./Series.js"

/**
 * The metrics the feed records.
 *
 * @since 0.1.0
 * @category constants
 */
export const metrics = {
  /** A top-level module execution's time (module, version). */
  moduleLatency: "module.latency_ms",
  /** 1 for a failed module execution, 0 for a successful one: the mean is the error rate. */
  moduleErrors: "module.errors",
  /** What a module execution's LM calls cost (USD). */
  moduleCost: "module.cost_usd",
  /** An LM call's time (provider, and module when made inside one). */
  lmLatency: "lm.latency_ms",
  /** 1 for a failed LM call, else 0. */
  lmErrors: "lm.errors",
  /** An LM call's cost (USD). */
  lmCost: "lm.cost_usd",
  /** 1 for an LM call answered from the cache, else 0: the mean is the hit rate. */
  lmCacheHit: "lm.cache_hit",
  /** A trial's score (job). */
  optimizationScore: "optimization.score",
  /** A finished run's wall time (job). */
  optimizationDuration: "optimization.duration_ms",
  /** A finished run's cost (job, module when known). */
  optimizationCost: "optimization.cost_usd",
  /** A swapped-in result's gain over the serving version, in score points (module). */
  optimizationGain: "optimization.gain",
  /** A completion's time on the provider that served it (after balancing; fail-over included). */
  providerLatency: "provider.latency_ms",
  /** 1 for a completion that failed on the provider asked, else 0. */
  providerErrors: "provider.errors",
  /** A completion's cost on the provider that served it. */
  providerCost: "provider.cost_usd",
  /** A provider's pool use, in-use over size (provider). */
  poolUtilization: "provider.pool_utilization",
  /** Requests waiting for a provider's pool worker (provider). */
  poolWaiting: "provider.pool_waiting",
  /** 1 while a provider's circuit is open, else 0 (provider). */
  circuitOpen: "provider.circuit_open"
} as const

const str = (u: unknown): string | undefined => (typeof u === "string" && u !== "" ? u : undefined)
const num = (u: unknown): number | undefined => (typeof u === "number" && Number.isFinite(u) ? u : undefined)

/** The module dimensions of an event: the ModuleManager's stamp, else the module's own name. */
const moduleOf = (data: Events.Data): Series.Dimensions => {
  const id = str(data.module_id)
  const version = num(data.module_version)
  return {
    module: id ?? str(data.module),
    version: version === undefined ? str(data.module_version) : String(version)
  }
}

/**
 * The types of the events the feed reads.
 *
 * @since 0.1.0
 * @category constants
 */
export const eventTypes: ReadonlyArray<string> = [
  CoreEvents.LMRequest.type,
  CoreEvents.ModuleExecutionStart.type,
  CoreEvents.ModuleExecutionComplete.type,
  OptimizerEvents.Iteration.type,
  OptimizerEvents.Completed.type,
  ServicesEvents.OptimizationQueued.type,
  ServicesEvents.OptimizationSwapped.type
]

/**
 * Records one event's figures in the history (events of other types are ignored). Exposed for tests and
 * replays; {@link subscribe} calls it for each event. The maps are the feed's state: `jobs` (job -> module),
 * `topLevel` (a top-level call's start event id -> its correlation id, until it completes) and `modulesByRequest`
 * (correlation id -> module: an LM call without a module stamp is the call's under the same correlation id).
 *
 * @since 0.1.0
 * @category ingestion
 */
export const ingest = (
  history: MetricHistory.Service,
  jobs: Map<string, string>,
  topLevel: Map<string, string | undefined> = new Map(),
  modulesByRequest: Map<string, string> = new Map()
) => {
  // The recorders of the series seen, by a key made of the series' fields (no Series key or normalisation per
  // event: a module execution's events record seven values).
  const recorders = new Map<string, MetricHistory.Recorder>()
  const recorderOf = (series: Series.Series): MetricHistory.Recorder => {
    let key = series.metric
    for (const field in series) if (field !== "metric") key += `\u0000${field}=${String(series[field as "metric"])}`
    let recorder = recorders.get(key)
    if (recorder === undefined) {
      if (recorders.size > 10_000) recorders.clear()
      recorder = history.recorder(series)
      recorders.set(key, recorder)
    }
    return recorder
  }
  return (event: Events.Event): void => {
    const d = event.data
    const at = event.timestamp
    const rec = (series: Series.Series, value: number | undefined) => {
      if (value !== undefined) recorderOf(series)(value, at)
    }
    switch (event.type) {
      case CoreEvents.ModuleExecutionStart.type:
        // A top-level call's start has no parent; a nested call's (a predictor in a program) is its caller's start.
        if (event.parentId === undefined) {
          if (topLevel.size > 100_000) topLevel.clear()
          topLevel.set(event.id, event.correlationId)
          const module = moduleOf(d).module
          if (event.correlationId !== undefined && module !== undefined) {
            if (modulesByRequest.size > 100_000) modulesByRequest.clear()
            modulesByRequest.set(event.correlationId, module)
          }
        }
        return
      case CoreEvents.ModuleExecutionComplete.type: {
        // A call's complete event has its start as parent: only top-level calls count (nested ones are inside).
        if (event.parentId === undefined || !topLevel.has(event.parentId)) return
        const request = topLevel.get(event.parentId)
        topLevel.delete(event.parentId)
        if (request !== undefined) modulesByRequest.delete(request)
        const dims = moduleOf(d)
        rec({ metric: metrics.moduleLatency, ...dims }, num(d.duration_ms))
        rec({ metric: metrics.moduleErrors, ...dims }, d.status === "error" ? 1 : 0)
        rec({ metric: metrics.moduleCost, ...dims }, num(d.cost))
        return
      }
      case CoreEvents.LMRequest.type: {
        // The module: the ModuleManager's stamp, else the top-level call under the same correlation id.
        const module =
          moduleOf(d).module ??
          (event.correlationId === undefined ? undefined : modulesByRequest.get(event.correlationId))
        const dims = { provider: str(d.provider), module }
        if (d.cache_hit !== true) rec({ metric: metrics.lmLatency, ...dims }, num(d.duration_ms))
        rec({ metric: metrics.lmErrors, ...dims }, d.error === undefined ? 0 : 1)
        rec({ metric: metrics.lmCost, ...dims }, num(d.cost_usd))
        rec({ metric: metrics.lmCacheHit, ...dims }, d.cache_hit === true ? 1 : 0)
        return
      }
      case OptimizerEvents.Iteration.type:
        rec({ metric: metrics.optimizationScore, job: str(d.optimization_id) }, num(d.evaluation_score))
        return
      case OptimizerEvents.Completed.type: {
        const job = str(d.optimization_id)
        const module = job === undefined ? undefined : jobs.get(job)
        rec({ metric: metrics.optimizationDuration, job }, num(d.wall_ms))
        rec({ metric: metrics.optimizationCost, job, module }, num(d.cost_usd))
        return
      }
      case ServicesEvents.OptimizationQueued.type: {
        const job = str(d.optimization_id)
        const module = str(d.module_id)
        if (job !== undefined && module !== undefined) {
          if (jobs.size > 10_000) jobs.clear()
          jobs.set(job, module)
        }
        return
      }
      case ServicesEvents.OptimizationSwapped.type:
        rec({ metric: metrics.optimizationGain, module: str(d.module_id) }, num(d.gain))
        return
    }
  }
}

/**
 * Feeds the history from the event store for the scope (a fiber reading the events as they are published).
 *
 * @since 0.1.0
 * @category ingestion
 */
export const subscribe = (
  history: MetricHistory.Service,
  events: Events.Service
): Effect.Effect<void, never, Scope.Scope> => {
  const fold = ingest(history, new Map())
  // A queue take per event rather than a stream pull (which costs tens of us a wake-up): the feed runs on every
  // execution's events. Subscribed when this returns, so nothing published after is missed.
  return Events.forEachEvent(events, eventTypes, fold)
}

/**
 * Records the providers' gauges now (pool utilization and waiting, circuit open).
 *
 * @since 0.1.0
 * @category ingestion
 */
export const recordProviders = (
  history: MetricHistory.Service,
  providers: ReadonlyArray<LMProviders.ProviderStatus>,
  now: number
): void => {
  for (const p of providers) {
    const size = Math.max(1, p.pool.size)
    history.recorder({ metric: metrics.poolUtilization, provider: p.name })(p.pool.inUse / size, now)
    history.recorder({ metric: metrics.poolWaiting, provider: p.name })(p.pool.waiting, now)
    history.recorder({ metric: metrics.circuitOpen, provider: p.name })(p.circuit === "open" ? 1 : 0, now)
  }
}

/**
 * Records a resource sample now.
 *
 * @since 0.1.0
 * @category ingestion
 */
export const recordResources = (history: MetricHistory.Service, sample: ResourceSampler.Sample, now: number): void => {
  for (const field of Object.keys(ResourceSampler.metrics) as Array<keyof ResourceSampler.Sample>) {
    history.recorder({ metric: ResourceSampler.metrics[field] })(sample[field], now)
  }
}

/**
 * A recorder of each completion's outcome per provider, for `LMProviders.make`'s `observe` (the router calls it on
 * the provider it chose, after balancing).
 *
 * @since 0.1.0
 * @category ingestion
 */
export const providerObserver = (
  history: MetricHistory.Service,
  now: () => number
): ((provider: string, latencyMs: number, ok: boolean, costUsd: number) => void) => {
  const recorders = new Map<
    string,
    { latency: MetricHistory.Recorder; errors: MetricHistory.Recorder; cost: MetricHistory.Recorder }
  >()
  return (provider, latencyMs, ok, costUsd) => {
    let r = recorders.get(provider)
    if (r === undefined) {
      r = {
        latency: history.recorder({ metric: metrics.providerLatency, provider }),
        errors: history.recorder({ metric: metrics.providerErrors, provider }),
        cost: history.recorder({ metric: metrics.providerCost, provider })
      }
      recorders.set(provider, r)
    }
    const at = now()
    if (ok) r.latency(latencyMs, at)
    r.errors(ok ? 0 : 1, at)
    r.cost(costUsd, at)
  }
}
