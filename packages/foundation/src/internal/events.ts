/**
 * Events internals shared by the stores: query validation, id prefixes, the subscriber hub.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Event, Query } from "../Events.js"

/** Retention: at most `maxEvents`, none older than `maxAgeMs`. */
export interface Retention {
  readonly maxEvents: number
  readonly maxAgeMs: number
}

/** The design's defaults (the `events` section of the configuration). */
export const defaultRetention: Retention = { maxEvents: 100_000, maxAgeMs: 86_400_000 }

/** What is wrong with a retention setting, if anything. */
export const retentionProblem = (r: Retention): string | undefined => {
  if (!Number.isInteger(r.maxEvents) || r.maxEvents < 1)
    return `maxEvents must be a positive integer, got ${r.maxEvents}`
  if (!(r.maxAgeMs > 0)) return `maxAgeMs must be a positive number of milliseconds, got ${r.maxAgeMs}`
  return undefined
}

/** What is wrong with a query, if anything. */
export const queryProblem = (q: Query): string | undefined => {
  if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 0)) {
    return `limit must be a non-negative integer, got ${q.limit}`
  }
  if (q.offset !== undefined && !(Number.isInteger(q.offset) && q.offset >= 0)) {
    return `offset must be a non-negative integer, got ${q.offset}`
  }
  if (q.from !== undefined && Number.isNaN(q.from)) return "from must be a number (epoch ms)"
  if (q.to !== undefined && Number.isNaN(q.to)) return "to must be a number (epoch ms)"
  if (q.order !== undefined && q.order !== "asc" && q.order !== "desc") {
    return `order must be "asc" or "desc", got ${String(q.order)}`
  }
  return undefined
}

/** A prefix for the ids of one store instance: ids stay unique across instances and restarts. */
export const idPrefix = (now: number): string =>
  `evt_${now.toString(36)}${Math.floor(Math.random() * 0x7fffffff).toString(36)}_`

/**
 * The live-subscription hub. Publishing skips the hub entirely while nobody listens, which keeps appends
 * cheap.
 */
export class Hub {
  subscribers = 0
  constructor(readonly pubsub: PubSub.PubSub<Event>) {}

  static make: Effect.Effect<Hub> = Effect.map(PubSub.unbounded<Event>(), (pubsub) => new Hub(pubsub))

  /** Delivers an event to the current subscribers. */
  deliver(event: Event): Effect.Effect<Event> {
    return this.subscribers === 0 ? Effect.succeed(event) : Effect.as(PubSub.publish(this.pubsub, event), event)
  }

  /** Subscribes now; the stream yields the events published from this moment, filtered by type. */
  listen(types?: ReadonlyArray<string>): Effect.Effect<Stream.Stream<Event>, never, Scope.Scope> {
    return Effect.gen(this, function* () {
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          this.subscribers++
        }),
        () =>
          Effect.sync(() => {
            this.subscribers--
          })
      )
      const dequeue = yield* PubSub.subscribe(this.pubsub)
      const stream = Stream.fromQueue(dequeue)
      if (types === undefined) return stream
      const wanted = new Set(types)
      return Stream.filter(stream, (event) => wanted.has(event.type))
    })
  }

  /** The events published while the stream runs. */
  subscribe(types?: ReadonlyArray<string>): Stream.Stream<Event> {
    return Stream.unwrapScoped(this.listen(types))
  }
}
