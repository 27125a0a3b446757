/**
 * Observability as one service of the application: the metric history fed by the application's events, the
 * alerts over it, weighted provider balancing, the resource controller, and a loop that, every interval, samples
 * the process and the providers, evaluates the alerts, re-weighs the balanced providers, steps the controller,
 * and flushes the closed rollups (compacting once an hour). `Application.layer` builds it from the `observe`
 * configuration section; {@link make} builds one over any history, events and providers (tests, tools).
 *
 * @since 0.1.0
 */
import type { Config, Events } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as LMProviders from "../LMProviders.js"
import type { MetricHistoryError, ObserveInvalidInput } from "../ServicesError.js"
import type * as Alert from "./Alert.js"
import * as AlertPresets from "./AlertPresets.js"
import type * as AlertRule from "./AlertRule.js"
import * as AlertSink from "./AlertSink.js"
import * as Alerts from "./Alerts.js"
import * as CostBenefit from "./CostBenefit.js"
import * as HistoryFeed from "./HistoryFeed.js"
import type * as MetricHistory from "./MetricHistory.js"
import * as ProviderBalancer from "./ProviderBalancer.js"
import * as Recommendations from "./Recommendations.js"
import * as ResourceController from "./ResourceController.js"
import * as ResourceSampler from "./ResourceSampler.js"
import type * as Rollup from "./Rollup.js"
import * as Series from "./Series.js"
import * as SeriesModels from "./SeriesModels.js"

/**
 * A forecast of one series' statistic per interval, with 95% intervals.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForecastReport {
  readonly series: Series.Series
  readonly statistic: AlertRule.Statistic
  readonly intervalMs: number
  /** The intervals the forecast was made from. */
  readonly history: number
  readonly points: ReadonlyArray<{
    readonly at: number
    readonly mean: number
    readonly lower: number
    readonly upper: number
  }>
}

/**
 * What one tick did.
 *
 * @since 0.1.0
 * @category models
 */
export interface TickReport {
  readonly at: number
  readonly alerts: ReadonlyArray<Alert.Alert>
  readonly adjustments: ReadonlyArray<ResourceController.Adjustment>
  readonly flushed: number
}

/**
 * The Observability service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly history: MetricHistory.Service
  readonly alerts: Alerts.Service
  readonly balancer: ProviderBalancer.Balancer
  readonly controller: ResourceController.Controller | undefined
  /** One iteration of the loop now. */
  readonly tick: Effect.Effect<TickReport, MetricHistoryError | ObserveInvalidInput>
  /** The bottlenecks over the last `windowMs`. */
  readonly recommendations: (
    windowMs: number,
    options?: Recommendations.Options
  ) => Effect.Effect<Recommendations.Report, MetricHistoryError | ObserveInvalidInput>
  /** The per-module cost-benefit over the last `windowMs`. */
  readonly costBenefit: (
    windowMs: number
  ) => Effect.Effect<ReadonlyArray<CostBenefit.ModuleFigures>, MetricHistoryError | ObserveInvalidInput>
  /**
   * Forecasts of the selected series' statistic per interval for `horizonMs`, from the last `windowMs` (an
   * interval without values is 0 for sum and count).
   */
  readonly forecast: (options: {
    readonly selector: Series.Selector
    readonly statistic: AlertRule.Statistic
    readonly windowMs: number
    readonly horizonMs: number
  }) => Effect.Effect<ReadonlyArray<ForecastReport>, MetricHistoryError | ObserveInvalidInput>
}

/**
 * The Observability service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Observability extends Context.Tag("@effect-dspy/services/Observability")<Observability, Service>() {}

/**
 * What {@link make} builds on.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly history: MetricHistory.Service
  readonly events: Events.Service
  readonly config?: Config.Service
  readonly providers?: LMProviders.Service
  readonly balancer?: ProviderBalancer.Balancer
  /** Balanced groups: primary -> peers. */
  readonly balancing?: { readonly [primary: string]: ReadonlyArray<string> }
  readonly rules?: ReadonlyArray<AlertRule.Input>
  /** Sinks besides the event store and the log (which are always there). */
  readonly sinks?: ReadonlyArray<AlertSink.Sink>
  readonly knobs?: ReadonlyArray<ResourceController.Knob>
  /** The optimization jobs now (for the `optimization.workers` knob); undefined while unknown. */
  readonly optimizationJobs?: Effect.Effect<
    | { readonly queued: number; readonly running: number; readonly finished: number; readonly failed: number }
    | undefined
  >
  readonly models?: SeriesModels.Models
  /** Feed the history from the events (default true). */
  readonly feed?: boolean
  /** Start the loop (default true); without it, call `tick`. */
  readonly loop?: boolean
}

/**
 * The rules of the `observe` configuration: the presets named, and the budget forecast when a budget is given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rulesOf = (settings: {
  readonly presets: ReadonlyArray<"seed000" | "seed004">
  readonly dailyBudgetUsd?: number | undefined
}): ReadonlyArray<AlertRule.Rule> => [
  ...(settings.presets.includes("seed000") ? AlertPresets.seed000() : []),
  ...(settings.presets.includes("seed004") ? AlertPresets.seed004() : []),
  ...(settings.dailyBudgetUsd === undefined ? [] : [AlertPresets.lmBudget(settings.dailyBudgetUsd)]),
  AlertPresets.poolSaturation()
]

/**
 * The controller's knobs for a configuration: each provider's pool size and rate limit, and the optimization
 * workers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const knobsOf = (
  current: { readonly providers: { readonly [name: string]: { readonly poolSize: number } } } & {
    readonly infrastructure: { readonly rateLimiters: { readonly [key: string]: { readonly limit: number } } }
    readonly optimization: { readonly workers: number }
  },
  settings: { readonly cooldownMs: number; readonly maxPoolSize: number; readonly maxWorkers: number }
): ReadonlyArray<ResourceController.Knob> => [
  ...Object.entries(current.providers).map(([name, p]) => ({
    path: `providers.${name}.poolSize`,
    kind: "capacity" as const,
    min: 1,
    max: Math.max(p.poolSize, settings.maxPoolSize),
    step: Math.max(1, Math.round(p.poolSize / 4)),
    cooldownMs: settings.cooldownMs
  })),
  ...Object.entries(current.infrastructure.rateLimiters)
    .filter(([key]) => key.startsWith("lm_provider_"))
    .map(([key, limiter]) => ({
      path: `infrastructure.rateLimiters.${key}.limit`,
      kind: "rate_limit" as const,
      min: 1,
      max: limiter.limit * 4,
      step: Math.max(1, Math.round(limiter.limit / 4)),
      cooldownMs: settings.cooldownMs
    })),
  {
    path: "optimization.workers",
    kind: "capacity" as const,
    min: 1,
    max: Math.max(current.optimization.workers, settings.maxWorkers),
    step: 1,
    cooldownMs: settings.cooldownMs
  }
]

/**
 * Builds the service for the scope: the feed from the events, the alerts with their sinks, the balancer, the
 * controller, and (unless `loop: false`) the loop.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, ObserveInvalidInput, Scope.Scope> =>
  Effect.gen(function* () {
    const { history, events } = options
    const models = options.models ?? SeriesModels.analytics()
    if (options.feed !== false) yield* HistoryFeed.subscribe(history, events)
    const sampler = yield* ResourceSampler.make
    const alerts = yield* Alerts.make(history, {
      rules: options.rules ?? [],
      sinks: [AlertSink.events(events), AlertSink.log, ...(options.sinks ?? [])],
      models,
      events
    })
    const balancer = options.balancer ?? ProviderBalancer.make()
    const balancing = options.balancing ?? {}
    const providers = options.providers
    const config = options.config
    const controller =
      config === undefined || (options.knobs ?? []).length === 0
        ? undefined
        : yield* ResourceController.make({
            config,
            events,
            knobs: options.knobs ?? [],
            signals: (knob) => signalsFor(knob)
          })

    /** A knob's signals from the last two intervals of the history (and the providers' pools now). */
    const signalsFor = (knob: ResourceController.Knob): Effect.Effect<ResourceController.Signals | undefined> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const from = now - 2 * history.intervalMs
        const provider =
          /^providers\.([^.]+)\.poolSize$/.exec(knob.path)?.[1] ??
          /^infrastructure\.rateLimiters\.lm_provider_([^.]+)\.limit$/.exec(knob.path)?.[1]
        const figure = (metric: string, dims: Series.Dimensions, f: (p: Rollup.Point) => number) =>
          Effect.map(
            Effect.orElseSucceed(history.summarize({ metric, ...dims }, from, now + 1), () => []),
            (points) => {
              const merged = points.length === 0 ? undefined : points.reduce((a, b) => (a.count >= b.count ? a : b))
              return merged === undefined ? Number.NaN : f(merged)
            }
          )
        if (provider !== undefined) {
          const status =
            providers === undefined ? undefined : (yield* providers.status).find((p) => p.name === provider)
          const lmErrors = yield* Effect.orElseSucceed(
            history.summarize({ metric: HistoryFeed.metrics.providerErrors, provider }, from, now + 1),
            () => []
          )
          const errors = lmErrors.reduce((s, p) => s + p.sum, 0)
          const calls = lmErrors.reduce((s, p) => s + p.count, 0)
          return {
            queueing:
              status?.pool.waiting ?? (yield* figure(HistoryFeed.metrics.poolWaiting, { provider }, (p) => p.mean)),
            utilization:
              status === undefined
                ? yield* figure(HistoryFeed.metrics.poolUtilization, { provider }, (p) => p.mean)
                : status.pool.inUse / Math.max(1, status.pool.size),
            latencyP95Ms: yield* figure(HistoryFeed.metrics.providerLatency, { provider }, (p) => p.p95),
            errorRate: calls === 0 ? Number.NaN : errors / calls
          }
        }
        if (knob.path === "optimization.workers" && options.optimizationJobs !== undefined && config !== undefined) {
          const jobs = yield* options.optimizationJobs
          if (jobs === undefined) return undefined
          const workers = yield* Effect.orElseSucceed(
            Effect.map(config.get("optimization.workers"), (w) => (typeof w === "number" ? w : 1)),
            () => 1
          )
          return {
            queueing: jobs.queued,
            utilization: jobs.running / Math.max(1, workers),
            latencyP95Ms: Number.NaN,
            errorRate: jobs.finished === 0 ? Number.NaN : jobs.failed / jobs.finished
          }
        }
        return undefined
      })

    const rebalance = Effect.gen(function* () {
      if (providers === undefined || Object.keys(balancing).length === 0) return
      const now = yield* Clock.currentTimeMillis
      const status = yield* providers.status
      const from = now - 60_000
      for (const [primary, peers] of Object.entries(balancing)) {
        const members = [primary, ...peers.filter((p) => p !== primary)]
        const candidates = yield* Effect.forEach(members, (name) =>
          Effect.gen(function* () {
            const s = status.find((p) => p.name === name)
            const latency = yield* Effect.orElseSucceed(
              history.summarize({ metric: HistoryFeed.metrics.providerLatency, provider: name }, from, now + 1),
              () => []
            )
            const cost = yield* Effect.orElseSucceed(
              history.summarize({ metric: HistoryFeed.metrics.providerCost, provider: name }, from, now + 1),
              () => []
            )
            const merged = (points: ReadonlyArray<Rollup.Point>, f: (p: Rollup.Point) => number) => {
              const count = points.reduce((n, p) => n + p.count, 0)
              return count === 0 ? Number.NaN : points.reduce((a, p) => a + f(p) * p.count, 0) / count
            }
            return {
              name,
              healthy: s !== undefined && s.circuit === "closed" && s.generation > 0,
              latencyMs: merged(latency, (p) => p.p95),
              costPerCall: merged(cost, (p) => p.mean)
            }
          })
        )
        balancer.set(primary, ProviderBalancer.weights(candidates))
      }
    })

    let ticks = 0
    const tick = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      HistoryFeed.recordResources(history, yield* sampler.sample, now)
      if (providers !== undefined) HistoryFeed.recordProviders(history, yield* providers.status, now)
      const fired = yield* alerts.evaluate
      yield* rebalance
      const adjustments = controller === undefined ? [] : yield* controller.step
      const flushed = yield* history.flush()
      ticks++
      if (ticks % Math.max(1, Math.round(3_600_000 / history.intervalMs)) === 0) yield* history.compact
      return { at: now, alerts: fired, adjustments, flushed }
    })

    if (options.loop !== false) {
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.catchAllCause(tick, (cause) => Effect.logWarning("observability tick failed", cause)),
          Schedule.spaced(history.intervalMs)
        )
      )
    }

    const forecast: Service["forecast"] = (q) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const from = now - q.windowMs
        const rollups = yield* history.rollups({ selector: q.selector, from, to: now + 1 })
        const bySeries = new Map<string, Array<Rollup.Rollup>>()
        for (const r of rollups) {
          const key = Series.key(r.series)
          bySeries.set(key, [...(bySeries.get(key) ?? []), r])
        }
        const interval = history.intervalMs
        const steps = Math.max(1, Math.ceil(q.horizonMs / interval))
        const base = now - (now % interval)
        return [...bySeries.values()].map((list) => {
          const values = Alerts.denseValues(list, q.statistic, from, now, interval)
          return {
            series: list[0]!.series,
            statistic: q.statistic,
            intervalMs: interval,
            history: values.length,
            points: models.forecast(values, steps).map((f, i) => ({ at: base + (i + 1) * interval, ...f }))
          }
        })
      })

    const window = (windowMs: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => ({ from: now - windowMs, to: now + 1 }))
    return {
      history,
      alerts,
      balancer,
      controller,
      tick,
      recommendations: (windowMs, recOptions) =>
        Effect.flatMap(window(windowMs), ({ from, to }) => Recommendations.fromHistory(history, from, to, recOptions)),
      costBenefit: (windowMs) =>
        Effect.flatMap(window(windowMs), ({ from, to }) => CostBenefit.fromHistory(history, from, to)),
      forecast
    }
  })
