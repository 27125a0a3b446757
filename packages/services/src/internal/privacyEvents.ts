/**
 * The application's events under the privacy policy (core's `Privacy.layerEvents`): every string of every event
 * redacted when the policy rewrites anything, whoever publishes it. Applied once: a store already wrapped (by
 * `Application.layerDefault` or `TestRuntime.layer`, which put it in context) is used as it is.
 */
import { Privacy } from "@effect-dspy/core"
import { Events } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const redacting = new WeakSet<Events.Service>()

/** `events` with the policy of the context (its `Privacy` service, else its `Config`) applied before storing. */
export const withPrivacy = (events: Events.Service): Effect.Effect<Events.Service> =>
  redacting.has(events)
    ? Effect.succeed(events)
    : Layer.build(Privacy.layerEvents).pipe(
        Effect.provideService(Events.Events, events),
        Effect.scoped,
        Effect.map((context) => {
          const wrapped = Context.get(context, Events.Events)
          redacting.add(wrapped)
          return wrapped
        })
      )

/** The `Events` of the context, under the privacy policy. */
export const layer: Layer.Layer<Events.Events, never, Events.Events> = Layer.effect(
  Events.Events,
  Effect.flatMap(Events.Events, withPrivacy)
)
