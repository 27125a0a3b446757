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

/** The attributes with the fiber's correlation id added (when it has one). */
export const withCorrelation = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  attributes: { readonly [key: string]: unknown }
): { readonly [key: string]: unknown } => {
  const id = fiber.getFiberRef(Correlation.currentCorrelationId)
  return id._tag === "Some" ? { ...attributes, [Telemetry.correlationAttribute]: id.value } : attributes
}

/** Runs the effect in a span named `name`, unless only Effect's default tracer is installed. */
export const span =
  (name: string, attributes: { readonly [key: string]: unknown }) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) =>
      fiber.currentTracer === defaultTracer
        ? self
        : Effect.withSpan(self, name, { attributes: withCorrelation(fiber, attributes), captureStackTrace: false })
    )
