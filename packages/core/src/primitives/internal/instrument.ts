/**
 * What every module call does around its body: a span `module.<name>`, the `dspy.module.execution.*`
 * metrics, and, when the `Events` service is in the context, `module_execution_start` /
 * `module_execution_complete` events under the request's correlation id. Nested calls record their events
 * with the enclosing call's start event as parent.
 *
 * The path without `Events` is kept lean (one service lookup, two clock reads, two metric updates, and a
 * span only when a tracer other than Effect's default one is installed): it runs on every predictor call.
 */
import { Correlation, Events, FiberLocal, Metrics } from "@effect-dspy/foundation"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { defaultTracer } from "../../internal/tracing.js"
import * as Tracing from "../../internal/tracing.js"
import * as CoreEvents from "../../CoreEvents.js"
import * as LM from "../../lm/LM.js"
import * as Privacy from "../../privacy/Privacy.js"

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

const noTags: ReadonlyArray<never> = []

const measured = <A, E, R>(
  clock: Clock.Clock,
  metrics: ModuleMetrics,
  body: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const start = clock.unsafeCurrentTimeNanos()
  return Effect.onExit(body, (exit) =>
    Effect.sync(() => {
      metrics.duration.unsafeUpdate(Number(clock.unsafeCurrentTimeNanos() - start) / 1e6, noTags)
      ;(Exit.isSuccess(exit) ? metrics.success : metrics.error).unsafeUpdate(1, noTags)
    })
  )
}

/** Runs the effect in a span named `name`, unless only Effect's default tracer is installed. */
export const span = Tracing.span

/**
 * Runs a module call's body with its span, metrics and events.
 */
export const instrument = <A, E, R>(
  name: string,
  signature: () => string,
  body: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const metrics = metricsFor(name)
  // One synchronous read of the fiber's context, clock and tracer instead of a chain of service lookups.
  return Effect.withFiberRuntime((fiber) => {
    const events = Context.getOption(fiber.currentContext, Events.Events)
    const run = FiberLocal.locallyWith(
      Option.isNone(events)
        ? measured(Context.get(fiber.currentDefaultServices, Clock.Clock), metrics, body())
        : withEvents(name, signature(), metrics, events.value, body),
      Privacy.currentModules,
      (names) => [...names, name]
    )
    return fiber.currentTracer === defaultTracer
      ? run
      : Tracing.withCorrelatedSpan(fiber, run, `module.${name}`, { "dspy.module": name }, true)
  })
}

const withEvents = <A, E, R>(
  name: string,
  signature: string,
  metrics: ModuleMetrics,
  events: Events.Service,
  body: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Correlation.ensureCorrelationId(
    // One fiber read for the clock; the start event, the metered body, the complete event: no generator.
    Effect.withFiberRuntime((fiber) => {
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const started = clock.unsafeCurrentTimeMillis()
      return Effect.flatMap(
        Events.publishOrLog(CoreEvents.ModuleExecutionStart, { module: name, signature }, { events }),
        (start) => {
          // The usage of the LM calls made inside, whether the call succeeds or fails.
          let usage: LM.UsageTotals | undefined
          const metered = LM.meterUsage(
            Effect.suspend(() => measured(clock, metrics, body())),
            (_exit, totals) => {
              usage = totals
            }
          )
          const parentId = Option.isSome(start) ? start.value.id : undefined
          const complete = (exit: Exit.Exit<A, E>, error: string | undefined): Effect.Effect<A, E> =>
            Effect.zipRight(
              Events.publishOrLog(
                CoreEvents.ModuleExecutionComplete,
                {
                  module: name,
                  signature,
                  duration_ms: clock.unsafeCurrentTimeMillis() - started,
                  status: Exit.isSuccess(exit) ? "ok" : "error",
                  lm_calls: usage?.calls ?? 0,
                  cost: usage?.costUsd ?? 0,
                  tokens: usage?.totalTokens ?? 0,
                  ...(error === undefined ? {} : { error })
                },
                { events, parentId }
              ),
              exit
            )
          return Effect.matchCauseEffect(
            parentId === undefined ? metered : Correlation.withParentId(parentId)(metered),
            {
              onSuccess: (value) => complete(Exit.succeed(value), undefined),
              // The failure's first line may quote an answer: it goes out under the privacy policy like any store.
              onFailure: (cause) =>
                Effect.flatMap(Privacy.current, (policy) =>
                  complete(Exit.failCause(cause), Privacy.scrubText(policy, Cause.pretty(cause).split("\n")[0] ?? ""))
                )
            }
          )
        }
      )
    })
  )
