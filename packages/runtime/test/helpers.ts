import { Events } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"

/** The events of `type` published so far, waiting a few turns for a publish from another fiber to land. */
export const eventsOf = (type: string, atLeast = 1) =>
  Effect.gen(function* () {
    const events = yield* Events.Events
    for (let turn = 0; turn < 50; turn++) {
      const found = yield* events.query({ types: [type] })
      if (found.length >= atLeast) return found
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }
    return yield* events.query({ types: [type] })
  })
