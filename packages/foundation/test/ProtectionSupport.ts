/**
 * Test helpers shared by the protection tests: errors of the family and an in-memory Events service built with
 * the real service interface.
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Errors from "../src/Errors.js"
import type * as Events from "../src/Events.js"

/** A retryable failure of the dependency (a 5xx). */
export class Unavailable extends Errors.TaggedError<Unavailable>()(
  "Unavailable",
  {},
  { code: "unavailable", retryable: true }
) {}

/** A non-retryable failure caused by bad input (a 400). */
export class BadRequest extends Errors.TaggedError<BadRequest>()(
  "BadRequest",
  {},
  { code: "bad_request", retryable: false }
) {}

/** An in-memory Events service that keeps what was published. */
export const makeEvents = Effect.gen(function* () {
  const store = yield* Ref.make<ReadonlyArray<Events.Event>>([])
  let next = 0
  const service: Events.Service = {
    publish: (input) =>
      Ref.modify(store, (events) => {
        const event: Events.Event = { id: `e${next++}`, type: input.type, timestamp: 0, data: input.data ?? {} }
        return [event, [...events, event]]
      }),
    query: (query) =>
      Effect.map(Ref.get(store), (events) =>
        events.filter((event) => query.types === undefined || query.types.includes(event.type))
      ),
    subscribe: () => Stream.empty,
    listen: () => Queue.unbounded<Events.Event>(),
    prune: Effect.succeed(0),
    count: Effect.map(Ref.get(store), (events) => events.length),
    remove: () => Effect.succeed(0)
  }
  return { service, published: Ref.get(store) }
})
