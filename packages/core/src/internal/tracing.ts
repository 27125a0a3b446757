/**
 * Spans only when someone listens. Effect's default tracer sends its spans nowhere, and a span costs about
 * 10 us on this machine class, so the hot paths (module calls, LM calls) open spans only when another tracer
 * (OpenTelemetry through the Telemetry layer, a test tracer) is installed.
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

/** Effect's default tracer. */
export const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** Runs the effect in a span named `name`, unless only Effect's default tracer is installed. */
export const span =
  (name: string, attributes: { readonly [key: string]: unknown }) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.tracerWith((tracer) =>
      tracer === defaultTracer ? self : Effect.withSpan(self, name, { attributes, captureStackTrace: false })
    )
