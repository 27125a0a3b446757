/**
 * Events: an append-only store of what happened (id, type, timestamp, correlation id, parent id, data),
 * queryable by type, time range and correlation id, with live subscriptions and retention by count and age.
 * An in-memory layer is the default; a SQLite-backed layer keeps events across restarts.
 *
 * `publish` stamps the id and the timestamp (from Effect's `Clock`; timestamps never decrease within a store:
 * a clock that steps back gets the previous timestamp) and fills the correlation and parent ids from the
 * `Correlation` fiber references when the input does not give them.
 *
 * The memory store indexes events by correlation id and by type: a query by correlation id costs
 * O(log n + matches), not O(n); a time range is two binary searches. Retention (at most `maxEvents`, none older
 * than `maxAgeMs`) is applied on every append at amortised O(1) cost, before every query (by age), and by `prune`.
 * It keeps `data` by reference: treat published data as immutable. The SQLite store keeps `data` as JSON, so
 * there it must be JSON-serialisable.
 *
 * Each subscriber gets the events of its types through its own unbounded queue (events of other types are not
 * offered to it); a subscriber that stops reading should end its stream.
 *
 * @since 0.1.0
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Config from "./Config.js"
import type * as ConfigSchema from "./ConfigSchema.js"
import * as Errors from "./Errors.js"
import * as internal from "./internal/events.js"
import * as memory from "./internal/eventsMemory.js"
import * as sqlite from "./internal/eventsSqlite.js"

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
export class EventStoreError extends Errors.TaggedError<EventStoreError>()(
  "EventStoreError",
  {
    operation: Schema.String,
    /** `io` (the store failed; may pass on retry) or `invalid_input` (fix the call). */
    reason: Schema.optional(Schema.Literal("io", "invalid_input"))
  },
  {
    code: (self) => (self.reason === "invalid_input" ? "event_store_invalid_input" : "event_store"),
    retryable: (self) => self.reason !== "invalid_input"
  }
) {}

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

/**
 * Retention settings; the defaults are the configuration's (`events.maxEvents` 100,000, `events.maxAgeMs` one day).
 *
 * @since 0.1.0
 * @category models
 */
export interface RetentionOptions {
  readonly maxEvents?: number | undefined
  readonly maxAgeMs?: number | undefined
}

/**
 * Options of the SQLite store: the database file (created when absent) and retention.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions extends RetentionOptions {
  readonly filename: string
}

const invalidInput = (operation: string, message: string) =>
  new EventStoreError({ operation, reason: "invalid_input", message })

const retentionOf = (options: RetentionOptions): Effect.Effect<internal.Retention, EventStoreError> => {
  const retention = {
    maxEvents: options.maxEvents ?? internal.defaultRetention.maxEvents,
    maxAgeMs: options.maxAgeMs ?? internal.defaultRetention.maxAgeMs
  }
  const problem = internal.retentionProblem(retention)
  return problem === undefined ? Effect.succeed(retention) : Effect.fail(invalidInput("configure", problem))
}

/** Wraps a store's operations with input checks and the public error type. */
const service = (
  hub: internal.Hub,
  ops: {
    readonly publish: (input: EventInput) => Effect.Effect<Event, sqlite.StoreFailure>
    readonly query: (query: Query) => Effect.Effect<ReadonlyArray<Event>, sqlite.StoreFailure>
    readonly prune: Effect.Effect<number, sqlite.StoreFailure>
    readonly count: Effect.Effect<number, sqlite.StoreFailure>
  }
): Service => {
  const wrap = <A>(effect: Effect.Effect<A, sqlite.StoreFailure>): Effect.Effect<A, EventStoreError> =>
    Effect.mapError(effect, (failure) => new EventStoreError(failure))
  return {
    publish: (input) =>
      typeof input.type === "string" && input.type.length > 0
        ? wrap(ops.publish(input))
        : Effect.fail(invalidInput("publish", "An event needs a non-empty string `type`")),
    query: (query) => {
      const problem = internal.queryProblem(query)
      return problem === undefined ? wrap(ops.query(query)) : Effect.fail(invalidInput("query", problem))
    },
    subscribe: (types) => hub.subscribe(types),
    prune: wrap(ops.prune),
    count: wrap(ops.count)
  }
}

const makeMemoryStore = (retention: internal.Retention) =>
  Effect.gen(function* () {
    const hub = yield* internal.Hub.make
    const ops = yield* memory.makeOps(retention, hub)
    return { store: ops.store, service: service(hub, ops) }
  })

/**
 * An in-memory store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options: RetentionOptions = {}): Effect.Effect<Service, EventStoreError> =>
  Effect.flatMap(retentionOf(options), (retention) => Effect.map(makeMemoryStore(retention), (m) => m.service))

/**
 * The in-memory store with the given retention.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemoryWith = (options: RetentionOptions): Layer.Layer<Events, EventStoreError> =>
  Layer.effect(Events, makeMemory(options))

/**
 * The default store: in memory, with the default retention.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Events> = Layer.effect(
  Events,
  Effect.map(makeMemoryStore(internal.defaultRetention), (m) => m.service)
)

/**
 * The in-memory store with its retention read from `Config` (`events.maxEvents`, `events.maxAgeMs`), following
 * run-time updates of the `events` section.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Events, never, Config.Config> = Layer.scoped(
  Events,
  Effect.gen(function* () {
    const config = yield* Config.Config
    const current = yield* config.current
    const { store, service } = yield* makeMemoryStore(current.events)
    // The `events` section is validated by the config schema; follow each change to it.
    yield* Effect.forkScoped(
      Stream.runForEach(Stream.orDie(config.watch("events")), (events) =>
        Effect.sync(() => {
          store.retention = events as ConfigSchema.DSPyConfig["events"]
        })
      )
    )
    return service
  })
)

/**
 * A store in a SQLite file (created when absent) that keeps events across restarts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<Events, EventStoreError> =>
  Layer.scoped(
    Events,
    Effect.gen(function* () {
      const retention = { current: yield* retentionOf(options) }
      const context = yield* Layer.build(SqliteClient.layer({ filename: options.filename })).pipe(
        Effect.catchAllCause((cause) =>
          Effect.fail(
            new EventStoreError({
              operation: "open",
              reason: "io",
              message: `Cannot open the event database '${options.filename}': ${Cause.squash(cause) instanceof Error ? (Cause.squash(cause) as Error).message : Cause.pretty(cause)}; check that its directory exists and is writable`
            })
          )
        )
      )
      const hub = yield* internal.Hub.make
      const ops = yield* sqlite.makeOps(retention, hub).pipe(
        Effect.provide(context),
        Effect.mapError(
          (failure) => new EventStoreError({ ...failure, message: `${failure.message} (${options.filename})` })
        )
      )
      return service(hub, ops)
    })
  )

/**
 * An in-memory store for tests (the default retention).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<Events> = layerMemory

/**
 * Publishes an event through the current store.
 *
 * @since 0.1.0
 * @category accessors
 */
export const publish = (input: EventInput): Effect.Effect<Event, EventStoreError, Events> =>
  Effect.flatMap(Events, (events) => events.publish(input))

/**
 * Queries the current store.
 *
 * @since 0.1.0
 * @category accessors
 */
export const query = (q: Query): Effect.Effect<ReadonlyArray<Event>, EventStoreError, Events> =>
  Effect.flatMap(Events, (events) => events.query(q))
