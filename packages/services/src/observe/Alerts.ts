/**
 * The alerts: rules evaluated over the metric history, one alert per (rule, series). A rule's condition must hold
 * for its `forMs` before its alert fires; while it fires, the rule holding again is the same alert (deduplicated);
 * when the condition no longer holds it resolves; after a resolution the same alert does not fire again for the
 * rule's `cooldownMs`. Each firing and resolution is handed to every sink (events, log, webhooks) through the
 * sink's own queue and fiber, recorded as an OpenTelemetry span (`dspy.alert.fired` / `dspy.alert.resolved`) and
 * counted by the `dspy.alerts.transitions` metric.
 *
 * @example
 * ```ts
 * import { AlertRule, AlertSink, Alerts, MetricHistory } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const history = yield* MetricHistory.make({ intervalMs: 1_000 })
 *   const alerts = yield* Alerts.make(history, {
 *     rules: [{ name: "errors", selector: { metric: "module.errors" }, statistic: "mean", windowMs: 10_000, condition: AlertRule.threshold(">", 0.1) }],
 *     sinks: [AlertSink.log]
 *   })
 *   yield* history.record({ metric: "module.errors", module: "qa" }, 1)
 *   return yield* alerts.evaluate // the alerts that fired or resolved now
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import { Events } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { type MetricHistoryError, ObserveInvalidInput } from "../ServicesError.js"
import * as ServicesEvents from "../ServicesEvents.js"
import type * as Alert from "./Alert.js"
import * as AlertRule from "./AlertRule.js"
import type * as AlertSink from "./AlertSink.js"
import type * as MetricHistory from "./MetricHistory.js"
import * as Rollup from "./Rollup.js"
import * as Series from "./Series.js"
import type * as SeriesModels from "./SeriesModels.js"

/**
 * The alerts' settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly rules?: ReadonlyArray<AlertRule.Input>
  readonly sinks?: ReadonlyArray<AlertSink.Sink>
  /** Forecasting and detection for the anomaly, rate-of-change and forecast rules (`@effect-dspy/analytics`). */
  readonly models?: SeriesModels.Models
  /** Where a sink's delivery failures are published (`alert_delivery_failed`). */
  readonly events?: Events.Service
  /** How many fired and resolved alerts `recent` keeps (default 500). */
  readonly recentLimit?: number
  /** Each sink's queue bound; past it the oldest notification waiting is dropped (default 1,024). */
  readonly sinkQueue?: number
}

/**
 * The Alerts service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly rules: Effect.Effect<ReadonlyArray<AlertRule.Rule>>
  /** Replaces the rules (all checked first; the alerts of removed rules resolve at the next evaluation). */
  readonly setRules: (rules: ReadonlyArray<AlertRule.Input>) => Effect.Effect<void, ObserveInvalidInput>
  /** Evaluates every rule now; returns the alerts that fired or resolved. */
  readonly evaluate: Effect.Effect<ReadonlyArray<Alert.Alert>, MetricHistoryError | ObserveInvalidInput>
  /** The alerts firing now. */
  readonly active: Effect.Effect<ReadonlyArray<Alert.Alert>>
  /** The latest firings and resolutions, oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<Alert.Alert>>
}

/**
 * Alert transitions, tagged `rule`, `severity` and `status` (`firing` / `resolved`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const transitions = Metric.counter("dspy.alerts.transitions", {
  description: "Alerts fired and resolved",
  incremental: true
})

/**
 * Alerts firing now.
 *
 * @since 0.1.0
 * @category metrics
 */
export const firing = Metric.gauge("dspy.alerts.firing", { description: "Alerts firing now" })

/** One (rule, series) pair's state between evaluations. */
interface Track {
  readonly rule: AlertRule.Rule
  readonly series: Series.Series
  pendingSince: number | undefined
  firing: Alert.Alert | undefined
  lastResolvedAt: number | undefined
}

/** A rule's judgement of one series now. */
interface Judgement {
  readonly holds: boolean
  readonly value: number
  readonly message: string
}

/**
 * The statistic of a rollup.
 *
 * @since 0.1.0
 * @category getters
 */
export const statistic = (rollup: Rollup.Rollup, stat: AlertRule.Statistic): number => {
  switch (stat) {
    case "mean":
      return rollup.count === 0 ? Number.NaN : rollup.sum / rollup.count
    case "p50":
      return Rollup.quantile(rollup, 0.5)
    case "p95":
      return Rollup.quantile(rollup, 0.95)
    case "p99":
      return Rollup.quantile(rollup, 0.99)
    case "min":
      return rollup.count === 0 ? Number.NaN : rollup.min
    case "max":
      return rollup.count === 0 ? Number.NaN : rollup.max
    case "sum":
      return rollup.sum
    case "count":
      return rollup.count
    case "per_second":
      return rollup.count / (rollup.intervalMs / 1_000)
  }
}

const round = (x: number): string =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3)

/** `HH:MM UTC` of an epoch time. */
const clockTime = (ms: number): string => `${new Date(ms).toISOString().slice(11, 16)} UTC`

/** Statistics for which an interval without values counts as 0 (a sum of nothing is 0; a mean is unknown). */
const additive = (stat: AlertRule.Statistic) => stat === "sum" || stat === "count" || stat === "per_second"

/**
 * The equally spaced values of a statistic over the closed intervals of a window, from the first interval with
 * values: an interval without values is 0 for an additive statistic, else the previous value.
 *
 * @since 0.1.0
 * @category getters
 */
export const denseValues = (
  rollups: ReadonlyArray<Rollup.Rollup>,
  stat: AlertRule.Statistic,
  from: number,
  now: number,
  intervalMs: number
): Array<number> => {
  const byStart = new Map(rollups.map((r) => [r.start, r]))
  const out: Array<number> = []
  // From the first interval with values: the time before the series began is not a run of zeros.
  const earliest = rollups.reduce((m, r) => (r.count > 0 ? Math.min(m, r.start) : m), Number.POSITIVE_INFINITY)
  const first = Math.max(from - (from % intervalMs), earliest - (earliest % intervalMs))
  let previous: number | undefined
  for (let start = first; start + intervalMs <= now; start += intervalMs) {
    const r = byStart.get(start)
    if (r !== undefined && r.count > 0) {
      previous = statistic(r, stat)
      out.push(previous)
    } else if (additive(stat)) out.push(0)
    else if (previous !== undefined) out.push(previous)
  }
  return out
}

const missingModels = (rule: AlertRule.Rule): Judgement => ({
  holds: false,
  value: Number.NaN,
  message: `rule ${rule.name} needs forecasting and detection models (the Alerts were made without them)`
})

/**
 * Makes the alerts over a history for the scope (its sinks' fibers stop with it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  history: MetricHistory.Service,
  options: Options = {}
): Effect.Effect<Service, ObserveInvalidInput, Scope.Scope> =>
  Effect.gen(function* () {
    const validate = (inputs: ReadonlyArray<AlertRule.Input>) =>
      Effect.gen(function* () {
        const rules: Array<AlertRule.Rule> = []
        const names = new Set<string>()
        for (const input of inputs) {
          const rule = yield* Either.match(AlertRule.validate(input), { onLeft: Effect.fail, onRight: Effect.succeed })
          if (names.has(rule.name)) {
            return yield* new ObserveInvalidInput({
              field: `rules.${rule.name}.name`,
              message: `Two alert rules are named ${JSON.stringify(rule.name)}: give each rule its own name.`
            })
          }
          names.add(rule.name)
          rules.push(rule)
        }
        return rules
      })
    let rules = yield* validate(options.rules ?? [])
    const tracks = new Map<string, Track>()
    const recent: Array<Alert.Alert> = []
    const recentLimit = options.recentLimit ?? 500
    const models = options.models
    const intervalMs = history.intervalMs

    // Each sink's queue and delivery fiber.
    const queues = yield* Effect.forEach(options.sinks ?? [], (sink) =>
      Effect.gen(function* () {
        const queue = yield* Queue.sliding<Alert.Alert>(options.sinkQueue ?? 1_024)
        yield* Effect.addFinalizer(() => Queue.shutdown(queue))
        const deliverOne = (alert: Alert.Alert) =>
          sink.deliver(alert).pipe(
            Effect.catchAll((error) =>
              Effect.zipRight(
                Effect.logWarning(error.message),
                options.events === undefined
                  ? Effect.void
                  : Events.publishOrLog(
                      ServicesEvents.AlertDeliveryFailed,
                      { alert_id: alert.id, sink: error.sink, attempts: error.attempts, reason: error.reason },
                      { events: options.events }
                    )
              )
            ),
            Effect.catchAllDefect((defect) => Effect.logWarning(`alert sink ${sink.name} died: ${String(defect)}`))
          )
        yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(queue), deliverOne)))
        return queue
      })
    )

    const judge = (
      rule: AlertRule.Rule,
      list: ReadonlyArray<Rollup.Rollup>,
      now: number
    ): Effect.Effect<Judgement, MetricHistoryError | ObserveInvalidInput> =>
      Effect.gen(function* () {
        const from = now - rule.windowMs
        const merged = Rollup.combine(list, from, rule.windowMs)!
        const c = rule.condition
        const name = Series.format(list[0]!.series)
        switch (c._tag) {
          case "Threshold": {
            const value = statistic(merged, rule.statistic)
            return {
              holds: Number.isFinite(value) && AlertRule.compare(value, c.op, c.value),
              value,
              message: `${rule.statistic} of ${name} over ${rule.windowMs / 1000} s is ${round(value)} (${c.op} ${c.value})`
            }
          }
          case "RateOfChange": {
            if (models === undefined) return missingModels(rule)
            const values = denseValues(list, rule.statistic, from, now, intervalMs)
            const slope = models.slope(values)
            if (slope === undefined) return { holds: false, value: Number.NaN, message: "too few intervals" }
            const perMinute = (slope * 60_000) / intervalMs
            const judged = c.absolute ? Math.abs(perMinute) : perMinute
            return {
              holds: AlertRule.compare(judged, c.op, c.perMinute),
              value: perMinute,
              message: `${rule.statistic} of ${name} changes by ${round(perMinute)} a minute (${c.absolute ? "|rate| " : ""}${c.op} ${c.perMinute})`
            }
          }
          case "Anomaly": {
            if (models === undefined) return missingModels(rule)
            const values = denseValues(list, rule.statistic, from, now, intervalMs)
            const verdict = models.detect(c.detector, values)
            const value = values[values.length - 1] ?? Number.NaN
            return {
              holds: verdict.anomalous,
              value,
              message: `${rule.statistic} of ${name} is ${round(value)}: ${verdict.detail}`
            }
          }
          case "ForecastCrossing": {
            if (models === undefined) return missingModels(rule)
            const values = denseValues(list, rule.statistic, from, now, intervalMs)
            const steps = Math.max(1, Math.ceil(c.horizonMs / intervalMs))
            const forecast = models.forecast(values, steps)
            // The newest closed interval's end: forecast step i covers the interval ending at base + (i + 1) * interval.
            const base = now - (now % intervalMs)
            let running = 0
            if (c.cumulative !== undefined) {
              const resetAt = now - (now % c.cumulative.resetEveryMs)
              const since = yield* history.summarize(rule.selector, resetAt, now + 1)
              running = since
                .filter((p) => Series.key(p.series) === Series.key(list[0]!.series))
                .reduce((total, p) => total + (rule.statistic === "count" ? p.count : p.sum), 0)
            }
            let crossing: number | undefined
            let early: number | undefined
            let runMean = running
            let runUpper = running
            for (let i = 0; i < forecast.length; i++) {
              const step = forecast[i]!
              runMean = c.cumulative === undefined ? step.mean : runMean + Math.max(0, step.mean)
              runUpper = c.cumulative === undefined ? step.upper : runUpper + Math.max(0, step.upper)
              const at = base + (i + 1) * intervalMs
              if (early === undefined && runUpper >= c.limit) early = at
              if (runMean >= c.limit) {
                crossing = at
                break
              }
            }
            const what = c.cumulative === undefined ? `${rule.statistic} of ${name}` : `the running total of ${name}`
            const current = c.cumulative === undefined ? (values[values.length - 1] ?? Number.NaN) : running
            if (crossing === undefined) {
              return {
                holds: false,
                value: current,
                message: `${what} (${round(current)}) stays under ${c.limit} for the next ${Math.round(c.horizonMs / 60_000)} min`
              }
            }
            const minutes = Math.max(1, Math.round((crossing - now) / 60_000))
            return {
              holds: true,
              value: current,
              message: `${what} (${round(current)} now) reaches ${c.limit} at this rate by ${clockTime(crossing)} (in ~${minutes} min${
                early !== undefined && early < crossing ? `; as early as ${clockTime(early)}` : ""
              })`
            }
          }
        }
      })

    const publish = (alert: Alert.Alert): Effect.Effect<void> =>
      Effect.gen(function* () {
        recent.push(alert)
        if (recent.length > recentLimit) recent.splice(0, recent.length - recentLimit)
        yield* Metric.increment(
          Metric.tagged(
            Metric.tagged(Metric.tagged(transitions, "rule", alert.rule), "severity", alert.severity),
            "status",
            alert.status
          )
        ).pipe(
          Effect.withSpan(`dspy.alert.${alert.status === "firing" ? "fired" : "resolved"}`, {
            attributes: {
              "dspy.alert.id": alert.id,
              "dspy.alert.rule": alert.rule,
              "dspy.alert.severity": alert.severity,
              "dspy.alert.series": Series.format(alert.series),
              "dspy.alert.message": alert.message
            }
          })
        )
        for (const queue of queues) yield* Queue.offer(queue, alert)
      })

    const evaluate = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const changed: Array<Alert.Alert> = []
      const seen = new Set<string>()
      for (const rule of rules) {
        const rollups = yield* history.rollups({ selector: rule.selector, from: now - rule.windowMs, to: now + 1 })
        const bySeries = new Map<string, Array<Rollup.Rollup>>()
        for (const r of rollups) {
          const key = Series.key(r.series)
          const list = bySeries.get(key)
          if (list === undefined) bySeries.set(key, [r])
          else list.push(r)
        }
        // Series that had a track but no values now are judged as not holding (they resolve).
        for (const track of tracks.values()) {
          if (track.rule.name === rule.name && !bySeries.has(Series.key(track.series))) {
            bySeries.set(Series.key(track.series), [])
          }
        }
        for (const [seriesKey, list] of bySeries) {
          const trackKey = `${rule.name}|${seriesKey}`
          seen.add(trackKey)
          const count = list.reduce((n, r) => n + r.count, 0)
          const judgement: Judgement =
            list.length === 0 || count < rule.minCount
              ? { holds: false, value: Number.NaN, message: `fewer than ${rule.minCount} values in the window` }
              : yield* judge(rule, list, now)
          let track = tracks.get(trackKey)
          if (track === undefined) {
            if (!judgement.holds) continue
            track = {
              rule,
              series: list[0]!.series,
              pendingSince: undefined,
              firing: undefined,
              lastResolvedAt: undefined
            }
            tracks.set(trackKey, track)
          }
          const alert = step(track, rule, judgement, now)
          if (alert !== undefined) changed.push(alert)
        }
      }
      // Tracks of rules that were removed resolve.
      for (const [trackKey, track] of tracks) {
        if (seen.has(trackKey)) continue
        const alert = step(track, track.rule, { holds: false, value: Number.NaN, message: "rule removed" }, now)
        if (alert !== undefined) changed.push(alert)
        tracks.delete(trackKey)
      }
      for (const alert of changed) yield* publish(alert)
      firing.unsafeUpdate([...tracks.values()].filter((t) => t.firing !== undefined).length, [])
      return changed
    })

    return {
      rules: Effect.sync(() => rules),
      setRules: (inputs) =>
        Effect.map(validate(inputs), (next) => {
          rules = next
        }),
      evaluate,
      active: Effect.sync(() => [...tracks.values()].flatMap((t) => (t.firing === undefined ? [] : [t.firing]))),
      recent: Effect.sync(() => [...recent])
    }
  })

/**
 * One (rule, series) pair's transition on a judgement: the alert that fired or resolved, if any.
 */
const step = (track: Track, rule: AlertRule.Rule, judgement: Judgement, now: number): Alert.Alert | undefined => {
  if (judgement.holds) {
    if (track.firing !== undefined) return undefined // deduplicated: the same alert goes on firing
    track.pendingSince ??= now
    const held = now - track.pendingSince >= rule.forMs
    const cooled = track.lastResolvedAt === undefined || now - track.lastResolvedAt >= rule.cooldownMs
    if (!held || !cooled) return undefined
    const alert: Alert.Alert = {
      id: `${rule.name}:${Series.key(track.series)}:${now}`,
      rule: rule.name,
      severity: rule.severity,
      series: track.series,
      status: "firing",
      value: judgement.value,
      message: judgement.message,
      pendingSince: track.pendingSince,
      firedAt: now,
      resolvedAt: undefined
    }
    track.firing = alert
    return alert
  }
  track.pendingSince = undefined
  if (track.firing === undefined) return undefined
  const resolved: Alert.Alert = {
    ...track.firing,
    status: "resolved",
    value: judgement.value,
    message: `resolved: ${judgement.message}`,
    resolvedAt: now
  }
  track.firing = undefined
  track.lastResolvedAt = now
  return resolved
}
