/**
 * Spans only when someone listens. Effect's default tracer sends its spans nowhere, and a span costs about
 * 10 us on this machine class, so the hot paths (module calls, LM calls) open spans only when another tracer
 * (OpenTelemetry through the Telemetry layer, a test tracer) is installed. The spans opened here carry the
 * request's correlation id (`dspy.correlation_id`) when there is one.
 */
import { Correlation, Telemetry } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Tracer from "effect/Tracer"

/** Effect's default tracer. */
export const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * Runs the effect in a span carrying the request's correlation id (`dspy.correlation_id`) when the fiber has
 * one. With `makeId` (module calls) and no id yet, one is made here and the span and everything in it run under
 * it, so that a root span carries the id its nested spans and events will share.
 */
export const withCorrelatedSpan = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  self: Effect.Effect<A, E, R>,
  name: string,
  attributes: { readonly [key: string]: unknown },
  makeId = false
): Effect.Effect<A, E, R> => {
  const current = fiber.getFiberRef(Correlation.currentCorrelationId)
  if (current._tag === "None" && !makeId) {
    return Effect.withSpan(self, name, { attributes, captureStackTrace: false })
  }
  const id = current._tag === "Some" ? current.value : Correlation.makeId()
  const spanned = Effect.withSpan(self, name, {
    attributes: { ...attributes, [Telemetry.correlationAttribute]: id },
    captureStackTrace: false
  })
  return current._tag === "Some" ? spanned : Correlation.withCorrelationId(spanned, id)
}

/**
 * Runs the effect in a span named `name` (with the current correlation id, if any), unless only Effect's
 * default tracer is installed.
 */
export const span =
  (name: string, attributes: { readonly [key: string]: unknown }) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) =>
      fiber.currentTracer === defaultTracer ? self : withCorrelatedSpan(fiber, self, name, attributes)
    )
