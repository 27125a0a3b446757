/**
 * Events internals shared by the stores: query validation, id prefixes, the subscriber hub.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
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

/** A live subscriber: its own queue, and the types it wants (all when undefined). */
interface Listener {
  readonly queue: Queue.Queue<Event>
  readonly types: ReadonlySet<string> | undefined
}

/**
 * The live-subscription hub. Each subscriber has its own unbounded queue, and an event is offered only to the
 * subscribers whose types it matches: a subscriber to `module_created` is not woken for every execution's
 * events. Publishing skips the hub entirely while nobody listens, which keeps appends cheap.
 */
export class Hub {
  private readonly listeners = new Set<Listener>()

  static make: Effect.Effect<Hub> = Effect.sync(() => new Hub())

  /** Subscribers listening now. */
  get subscribers(): number {
    return this.listeners.size
  }

  /** Delivers an event to the current subscribers that want its type, in publish order. */
  deliver(event: Event): Effect.Effect<Event> {
    if (this.listeners.size === 0) return Effect.succeed(event)
    return Effect.sync(() => {
      for (const listener of this.listeners) {
        if (listener.types === undefined || listener.types.has(event.type)) Queue.unsafeOffer(listener.queue, event)
      }
      return event
    })
  }

  /** {@link deliver} without an effect. */
  deliverSync(event: Event): Event {
    for (const listener of this.listeners) {
      if (listener.types === undefined || listener.types.has(event.type)) Queue.unsafeOffer(listener.queue, event)
    }
    return event
  }

  /**
   * Subscribes now, as a queue of the events published from this moment (filtered by type); unsubscribed when
   * the scope closes.
   */
  listen(types?: ReadonlyArray<string>): Effect.Effect<Queue.Dequeue<Event>, never, Scope.Scope> {
    return Effect.map(
      Effect.acquireRelease(
        Effect.map(Queue.unbounded<Event>(), (queue): Listener => {
          const listener: Listener = { queue, types: types === undefined ? undefined : new Set(types) }
          this.listeners.add(listener)
          return listener
        }),
        (listener) =>
          Effect.suspend(() => {
            this.listeners.delete(listener)
            return Queue.shutdown(listener.queue)
          })
      ),
      (listener) => listener.queue
    )
  }

  /** The events published while the stream runs. */
  subscribe(types?: ReadonlyArray<string>): Stream.Stream<Event> {
    return Stream.unwrapScoped(Effect.map(this.listen(types), (queue) => Stream.fromQueue(queue)))
  }
}
