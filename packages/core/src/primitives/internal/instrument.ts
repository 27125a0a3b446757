/**
 * What every module call does around its body: a span `module.<name>`, the `dspy.module.execution.*`
 * metrics, and, when the `Events` service is in the context, `module_execution_start` /
 * `module_execution_complete` events under the request's correlation id. Nested calls record their events
 * with the enclosing call's start event as parent.
 *
 * The path without `Events` is kept lean (one service lookup, two clock reads, a span, two metric updates):
 * it runs on every predictor call.
 */
import { Correlation, Events, Metrics } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as LM from "../../lm/LM.js"

interface ModuleMetrics {
  readonly duration: Metric.Metric.Histogram<number>
  readonly success: Metric.Metric.Counter<number>
  readonly error: Metric.Metric.Counter<number>
}

const metricsByModule = new Map<string, ModuleMetrics>()

/** The module metrics tagged with `module = name` (built once per name). */
export const metricsFor = (name: string): ModuleMetrics => {
  let metrics = metricsByModule.get(name)
  if (metrics === undefined) {
    metrics = {
      duration: Metric.tagged(Metrics.moduleExecutionDuration, "module", name),
      success: Metric.tagged(Metrics.moduleExecutionSuccess, "module", name),
      error: Metric.tagged(Metrics.moduleExecutionError, "module", name)
    }
    metricsByModule.set(name, metrics)
  }
  return metrics
}

const publish = (events: Events.Service, input: Events.EventInput): Effect.Effect<Option.Option<Events.Event>> =>
  events.publish(input).pipe(
    Effect.map(Option.some),
    Effect.catchAll((e) =>
      Effect.as(Effect.logWarning(`could not record ${input.type} event: ${e.message}`), Option.none())
    )
  )

const measured = <A, E, R>(metrics: ModuleMetrics, body: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeNanos, (start) =>
    Effect.onExit(body, (exit) =>
      Effect.flatMap(Clock.currentTimeNanos, (end) =>
        Effect.zipRight(
          Metric.update(metrics.duration, Number(end - start) / 1e6),
          Metric.increment(Exit.isSuccess(exit) ? metrics.success : metrics.error)
        )
      )
    )
  )

/**
 * Runs a module call's body with its span, metrics and events.
 */
export const instrument = <A, E, R>(
  name: string,
  signature: () => string,
  body: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const metrics = metricsFor(name)
  return Effect.withSpan(
    Effect.flatMap(Effect.serviceOption(Events.Events), (events) =>
      Option.isNone(events)
        ? measured(metrics, Effect.suspend(body))
        : withEvents(name, signature(), metrics, events.value, body)
    ),
    `module.${name}`,
    { attributes: { "dspy.module": name } }
  )
}

const withEvents = <A, E, R>(
  name: string,
  signature: string,
  metrics: ModuleMetrics,
  events: Events.Service,
  body: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Correlation.ensureCorrelationId(
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const start = yield* publish(events, { type: "module_execution_start", data: { module: name, signature } })
      const run = LM.trackUsage(measured(metrics, Effect.suspend(body)))
      const exit = yield* Effect.exit(Option.isSome(start) ? Correlation.withParentId(start.value.id)(run) : run)
      const durationMs = (yield* Clock.currentTimeMillis) - started
      const data: Record<string, unknown> = {
        module: name,
        signature,
        duration_ms: durationMs,
        status: Exit.isSuccess(exit) ? "ok" : "error"
      }
      if (Exit.isSuccess(exit)) {
        data.lm_calls = exit.value.usage.calls
        data.cost = exit.value.usage.costUsd
        data.tokens = exit.value.usage.totalTokens
      }
      yield* publish(
        events,
        Option.isSome(start)
          ? { type: "module_execution_complete", data, parentId: start.value.id }
          : { type: "module_execution_complete", data }
      )
      return yield* Exit.map(exit, (r) => r.result)
    })
  )
