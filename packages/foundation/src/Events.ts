/**
 * Events: an append-only store of what happened (id, type, timestamp, correlation id, parent id, data),
 * queryable by type, time range and correlation id, with live subscriptions and retention by count and age.
 * An in-memory layer is the default; a SQLite-backed layer keeps events across restarts.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as Errors from "./Errors.js"

/**
 * A recorded event. `timestamp` is epoch milliseconds read from Effect's Clock.
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly id: string
  readonly type: string
  readonly timestamp: number
  readonly correlationId?: string | undefined
  readonly parentId?: string | undefined
  readonly data: { readonly [key: string]: unknown }
}

/**
 * What a publisher gives; the correlation and parent ids default to the current fiber's
 * (see `Correlation`).
 *
 * @since 0.1.0
 * @category models
 */
export interface EventInput {
  readonly type: string
  readonly data?: { readonly [key: string]: unknown }
  readonly correlationId?: string
  readonly parentId?: string
}

/**
 * A query. All given criteria must hold. `types` matches any of them; `from`/`to` bound the timestamp
 * (inclusive); results are in timestamp order (`asc` by default), then `offset`, then at most `limit`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Query {
  readonly types?: ReadonlyArray<string>
  readonly correlationId?: string
  readonly from?: number
  readonly to?: number
  readonly limit?: number
  readonly offset?: number
  readonly order?: "asc" | "desc"
}

/**
 * The store could not read or write (a broken SQLite file, a full disk).
 *
 * @since 0.1.0
 * @category errors
 */
export class EventStoreError extends Schema.TaggedError<EventStoreError>("@effect-dspy/EventStoreError")(
  "EventStoreError",
  { ...Errors.fields, operation: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "event_store"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * The Events service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Appends an event (id and timestamp assigned here) and delivers it to subscribers. */
  readonly publish: (input: EventInput) => Effect.Effect<Event, EventStoreError>
  /** Events matching the query. */
  readonly query: (query: Query) => Effect.Effect<ReadonlyArray<Event>, EventStoreError>
  /** Events published from the moment the stream starts, optionally only of the given types. */
  readonly subscribe: (types?: ReadonlyArray<string>) => Stream.Stream<Event>
  /** Applies retention now (by count and age); returns how many events were removed. */
  readonly prune: Effect.Effect<number, EventStoreError>
  /** How many events are stored. */
  readonly count: Effect.Effect<number, EventStoreError>
}

/**
 * The Events service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Events extends Context.Tag("@effect-dspy/foundation/Events")<Events, Service>() {}
