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
 * Event types are declared once with {@link define} (a type name and a Schema of its data); publishers use the
 * definition ({@link emit}, {@link publishOrLog}), which validates and encodes the data, and subscribers get
 * typed, decoded data ({@link subscribeTo}, {@link queryOf}).
 *
 * @example
 * ```ts
 * import { Events } from "@effect-dspy/foundation"
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 *
 * const JobFinished = Events.define("job_finished", Schema.Struct({ job_id: Schema.String, ok: Schema.Boolean }))
 *
 * const program = Effect.gen(function* () {
 *   yield* Events.emit(JobFinished, { job_id: "j1", ok: true })
 *   const [event] = yield* Events.queryOf(JobFinished)
 *   return event?.data.ok // typed: boolean | undefined
 * }).pipe(Effect.provide(Events.layerMemory))
 * ```
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Config from "./Config.js"
import type * as ConfigSchema from "./ConfigSchema.js"
import * as internal from "./internal/events.js"
import * as memory from "./internal/eventsMemory.js"
import * as sqlite from "./internal/eventsSqlite.js"
import { EventStoreError } from "./FoundationError.js"

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
 * The errors of this module (defined with every error of the package in `FoundationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { EventStoreError }

/**
 * The Events service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Appends an event (id and timestamp assigned here) and delivers it to subscribers. */
  readonly publish: (input: EventInput) => Effect.Effect<Event, EventStoreError>
  /**
   * `publish` without an effect, when the store can append synchronously (the memory store): the input's
   * correlation and parent ids as given (no fiber is read), `now` the timestamp; `undefined` for an input `publish`
   * would refuse (no type). A wrapper that cannot keep its own guarantees synchronously (an effectful redaction)
   * leaves it out, and so must any wrapper that replaces `publish`: callers then use `publish`.
   */
  readonly publishSync?: ((input: EventInput, now: number) => Event | undefined) | undefined
  /** Events matching the query. */
  readonly query: (query: Query) => Effect.Effect<ReadonlyArray<Event>, EventStoreError>
  /** Events published from the moment the stream starts, optionally only of the given types. */
  readonly subscribe: (types?: ReadonlyArray<string>) => Stream.Stream<Event>
  /**
   * Events published from now on, as a queue that lives as long as the scope (optionally only of the given
   * types). Cheaper per event than `subscribe` for a consumer that takes events one by one: a stream pays its
   * pull machinery on every wake-up (see {@link forEachEvent}).
   */
  readonly listen: (types?: ReadonlyArray<string>) => Effect.Effect<Queue.Dequeue<Event>, never, Scope.Scope>
  /** Applies retention now (by count and age); returns how many events were removed. */
  readonly prune: Effect.Effect<number, EventStoreError>
  /** How many events are stored. */
  readonly count: Effect.Effect<number, EventStoreError>
  /** Removes the events with these ids (an erasure: see the services' `DataRights`); returns how many were stored. */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, EventStoreError>
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
    readonly publishSync?: (input: EventInput, now: number) => Event
    readonly query: (query: Query) => Effect.Effect<ReadonlyArray<Event>, sqlite.StoreFailure>
    readonly prune: Effect.Effect<number, sqlite.StoreFailure>
    readonly count: Effect.Effect<number, sqlite.StoreFailure>
    readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, sqlite.StoreFailure>
  }
): Service => {
  const wrap = <A>(effect: Effect.Effect<A, sqlite.StoreFailure>): Effect.Effect<A, EventStoreError> =>
    Effect.mapError(effect, (failure) => new EventStoreError(failure))
  return {
    publish: (input) =>
      typeof input.type === "string" && input.type.length > 0
        ? wrap(ops.publish(input))
        : Effect.fail(invalidInput("publish", "An event needs a non-empty string `type`")),
    publishSync:
      ops.publishSync === undefined
        ? undefined
        : (input, now) =>
            typeof input.type === "string" && input.type.length > 0 ? ops.publishSync!(input, now) : undefined,
    query: (query) => {
      const problem = internal.queryProblem(query)
      return problem === undefined ? wrap(ops.query(query)) : Effect.fail(invalidInput("query", problem))
    },
    subscribe: (types) => hub.subscribe(types),
    listen: (types) => hub.listen(types),
    prune: wrap(ops.prune),
    count: wrap(ops.count),
    remove: (ids) => wrap(ops.remove(ids))
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
      // The SQLite driver loads on first use, not when the package is imported.
      const context = yield* Effect.promise(() => import("@effect/sql-sqlite-node")).pipe(
        Effect.flatMap(({ SqliteClient }) => Layer.build(SqliteClient.layer({ filename: options.filename }))),
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
      const ops = yield* sqlite.makeOps(retention, hub, options.filename).pipe(
        Effect.provide(context),
        Effect.mapError(
          (failure) => new EventStoreError({ ...failure, message: `${failure.message} (${options.filename})` })
        )
      )
      return service(hub, ops)
    })
  )

/**
 * A durable store over the `SqlClient` in context: SQLite or PostgreSQL (the dialect picks the DDL). On
 * PostgreSQL (a `PgClient`, which the services package's `Storage.layerPostgres` provides) the table's schema
 * version is kept in `dspy_schema_versions` under `events` and migrated forward; a newer one is refused. This
 * package does not depend on a PostgreSQL driver: the client comes from the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (options: RetentionOptions = {}): Layer.Layer<Events, EventStoreError, SqlClient.SqlClient> =>
  Layer.scoped(
    Events,
    Effect.gen(function* () {
      const retention = { current: yield* retentionOf(options) }
      const hub = yield* internal.Hub.make
      const ops = yield* Effect.mapError(sqlite.makeOps(retention, hub), (failure) => new EventStoreError(failure))
      return service(hub, ops)
    })
  )

/**
 * The service with `redact` applied to every event before it is stored and delivered to subscribers: the hook a
 * privacy policy (core's `Privacy.layerEvents`) plugs into, so that foundation depends on no package above it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRedaction = (service: Service, redact: (input: EventInput) => Effect.Effect<EventInput>): Service => ({
  ...service,
  publish: (input) => Effect.flatMap(redact(input), service.publish),
  // The redaction is an effect: no synchronous publish past it.
  publishSync: undefined
})

/**
 * {@link withRedaction} with a synchronous `redact`, applied when the publish runs: no runtime step of its own
 * (the privacy policy's hook when it can read its settings synchronously).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRedactionSync = (service: Service, redact: (input: EventInput) => EventInput): Service => ({
  ...service,
  publish: (input) => Effect.suspend(() => service.publish(redact(input))),
  publishSync: service.publishSync === undefined ? undefined : (input, now) => service.publishSync!(redact(input), now)
})

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

// ---------------------------------------------------------------------------------------------------------------
// Typed event definitions
// ---------------------------------------------------------------------------------------------------------------

/**
 * The brand of event definitions.
 *
 * @since 0.1.0
 * @category symbols
 */
export const DefinitionTypeId: unique symbol = Symbol.for("@effect-dspy/foundation/Events/Definition")

/**
 * The type of {@link DefinitionTypeId}.
 *
 * @since 0.1.0
 * @category symbols
 */
export type DefinitionTypeId = typeof DefinitionTypeId

/**
 * The stored form of an event's data: a JSON-like record.
 *
 * @since 0.1.0
 * @category models
 */
export type Data = { readonly [key: string]: unknown }

/**
 * An event type declared once: its name and the Schema of its data (`A` in code, `I` as stored).
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<Type extends string, A, I extends Data = Data> extends Pipeable {
  readonly [DefinitionTypeId]: DefinitionTypeId
  readonly type: Type
  readonly schema: Schema.Schema<A, I>
}

/**
 * What every event definition has, whatever its data.
 *
 * @since 0.1.0
 * @category models
 */
export interface AnyDefinition {
  readonly [DefinitionTypeId]: DefinitionTypeId
  readonly type: string
}

/**
 * The data type (in code) of a definition.
 *
 * @since 0.1.0
 * @category models
 */
export type DataOf<D> = D extends Definition<string, infer A, infer _I> ? A : never

/**
 * A recorded event of a definition, with its data decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedEvent<Type extends string, A> {
  readonly id: string
  readonly type: Type
  readonly timestamp: number
  readonly correlationId?: string | undefined
  readonly parentId?: string | undefined
  readonly data: A
}

/**
 * The recorded event of a definition.
 *
 * @since 0.1.0
 * @category models
 */
export type EventOf<D> = D extends Definition<infer Type, infer A, infer _I> ? TypedEvent<Type, A> : never

/**
 * Ids a publisher may give explicitly (they default to the current fiber's, see `Correlation`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PublishOptions {
  readonly correlationId?: string | undefined
  readonly parentId?: string | undefined
}

/**
 * Declares an event type: its name (snake_case, unique in the system) and the Schema of its data, whose
 * encoded form must be a JSON-serialisable record.
 *
 * @since 0.1.0
 * @category constructors
 */
export const define = <const Type extends string, A, I extends Data>(
  type: Type,
  schema: Schema.Schema<A, I>
): Definition<Type, A, I> => {
  if (!/^[a-z][a-z0-9_]*$/.test(type)) {
    throw new TypeError(`An event type is a snake_case name (like "module_created"), got ${JSON.stringify(type)}`)
  }
  return {
    [DefinitionTypeId]: DefinitionTypeId,
    type,
    schema,
    pipe() {
      // biome-ignore lint/complexity/noArguments: pipeArguments takes the call's arguments object.
      return pipeArguments(this, arguments)
    }
  }
}

/**
 * True for event definitions.
 *
 * @since 0.1.0
 * @category guards
 */
export const isDefinition = (u: unknown): u is AnyDefinition =>
  typeof u === "object" && u !== null && DefinitionTypeId in u

const issueOf = (issue: ParseResult.ParseIssue): string => ParseResult.TreeFormatter.formatIssueSync(issue)

/** A check of one field's value whose encoded form is the value itself (a string, number, boolean or literal). */
type FieldCheck = (value: unknown) => boolean

/** The check of a field of one of these types, or `undefined` when encoding it may change it or needs Schema. */
const fieldCheckOf = (ast: AST.AST): FieldCheck | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return (value) => typeof value === "string"
    case "NumberKeyword":
      return (value) => typeof value === "number"
    case "BooleanKeyword":
      return (value) => typeof value === "boolean"
    case "Literal": {
      const literal = ast.literal
      return (value) => value === literal
    }
    case "Union": {
      const checks: Array<FieldCheck> = []
      for (const member of ast.types) {
        const check = fieldCheckOf(member)
        if (check === undefined) return undefined
        checks.push(check)
      }
      return (value) => checks.some((check) => check(value))
    }
    default:
      return undefined
  }
}

/**
 * The encoder of a struct's common case without Schema's parser: every field given is a string, number, boolean or
 * literal of its declared type (their encoded form is the value itself), every required field is given, and none
 * is `undefined`. It answers the encoded record (fields in declared order, as Schema's encoding gives them), or
 * `undefined` for anything else, which Schema then encodes (or explains). Fields of other types (nested structs,
 * arrays, refinements, transformations) are left to Schema when they are given.
 */
const fastEncoder = (ast: AST.TypeLiteral): ((data: Data) => Data | undefined) | undefined => {
  const fields = ast.propertySignatures.map((p) => ({
    name: p.name,
    optional: p.isOptional,
    check: fieldCheckOf(p.type)
  }))
  // Schema's own encoding of a struct whose required fields are all of other types: nothing to gain.
  if (fields.every((f) => f.check === undefined)) return undefined
  return (data) => {
    const out: Record<PropertyKey, unknown> = {}
    for (const field of fields) {
      const value = (data as Record<PropertyKey, unknown>)[field.name]
      if (value === undefined) {
        if (field.optional && !(field.name in data)) continue
        return undefined
      }
      if (field.check === undefined || !field.check(value)) return undefined
      out[field.name] = value
    }
    return out as Data
  }
}

/** Validates and encodes data of one definition: the encoded data, or what is wrong. */
type Encoder = (data: unknown) => Either.Either<unknown, string>

const encoders = new WeakMap<AnyDefinition, Encoder>()

/**
 * The encoder of a definition, built on first use. A field the definition does not declare is an error, not
 * silently dropped: the definition is the contract. For a plain struct the undeclared fields are found by a key
 * lookup, as Schema's own `onExcessProperty: "error"` costs several times the whole encoding; other schemas use
 * that option.
 */
const encoderOf = <Type extends string, A, I extends Data>(definition: Definition<Type, A, I>): Encoder => {
  const cached = encoders.get(definition)
  if (cached !== undefined) return cached
  const ast = definition.schema.ast
  const plain = AST.isTypeLiteral(ast) && ast.indexSignatures.length === 0
  let encoder: Encoder
  if (plain) {
    const declared = new Set(ast.propertySignatures.map((p) => p.name))
    const encode = ParseResult.encodeUnknownEither(definition.schema)
    const full = (data: unknown) => Either.mapLeft(encode(data), issueOf)
    const fast = fastEncoder(ast)
    encoder = (data) => {
      if (typeof data === "object" && data !== null) {
        for (const key of Object.keys(data)) {
          if (!declared.has(key)) {
            return Either.left(
              `'${key}' is not a field of the definition (its fields: ${[...declared].map(String).join(", ")})`
            )
          }
        }
        if (fast !== undefined) {
          const encoded = fast(data as Data)
          if (encoded !== undefined) return Either.right(encoded)
        }
      }
      return full(data)
    }
  } else {
    const encode = ParseResult.encodeUnknownEither(definition.schema, { onExcessProperty: "error" })
    encoder = (data) => Either.mapLeft(encode(data), issueOf)
  }
  encoders.set(definition, encoder)
  return encoder
}

/**
 * Validates and encodes data of a definition into what a store publishes (a field the definition does not
 * declare is an error).
 *
 * @since 0.1.0
 * @category constructors
 */
export const input = <Type extends string, A, I extends Data>(
  definition: Definition<Type, A, I>,
  data: NoInfer<A>,
  options?: PublishOptions
): Either.Either<EventInput, EventStoreError> =>
  Either.match(encoderOf(definition)(data), {
    onLeft: (issue) =>
      Either.left(
        invalidInput(
          "publish",
          `The data of a ${definition.type} event does not match its definition; fix the publisher: ${issue}`
        )
      ),
    onRight: (encoded) =>
      Either.right({
        type: definition.type,
        data: encoded as I,
        ...(options?.correlationId === undefined ? {} : { correlationId: options.correlationId }),
        ...(options?.parentId === undefined ? {} : { parentId: options.parentId })
      })
  })

/**
 * Publishes an event of a definition to the given store; the data is validated and encoded first.
 *
 * @since 0.1.0
 * @category publishing
 */
export const publishTo = <Type extends string, A, I extends Data>(
  events: Service,
  definition: Definition<Type, A, I>,
  data: NoInfer<A>,
  options?: PublishOptions
): Effect.Effect<Event, EventStoreError> =>
  Either.match(input(definition, data, options), { onLeft: Effect.fail, onRight: events.publish })

/**
 * Publishes an event of a definition to the store in context.
 *
 * @since 0.1.0
 * @category publishing
 */
export const emit = <Type extends string, A, I extends Data>(
  definition: Definition<Type, A, I>,
  data: NoInfer<A>,
  options?: PublishOptions
): Effect.Effect<Event, EventStoreError, Events> =>
  Effect.flatMap(Events, (events) => publishTo(events, definition, data, options))

/**
 * Options of {@link publishOrLog}: the store (when absent or `None`, the one in context, if any) and explicit ids.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublishOrLogOptions extends PublishOptions {
  readonly events?: Service | Option.Option<Service> | undefined
}

/**
 * Records an event as a side note of the work: publishes it to the given store (else to the one in context; with
 * no store, nothing happens) and, when it cannot be recorded, logs a warning naming the event and why instead of
 * failing the work. Returns the recorded event, when there is one.
 *
 * @since 0.1.0
 * @category publishing
 */
export const publishOrLog = <Type extends string, A, I extends Data>(
  definition: Definition<Type, A, I>,
  data: NoInfer<A>,
  options?: PublishOrLogOptions
): Effect.Effect<Option.Option<Event>> => {
  const given = options?.events
  const own = given === undefined ? undefined : Option.isOption(given) ? Option.getOrUndefined(given) : given
  const publishWith = (events: Service): Effect.Effect<Option.Option<Event>> =>
    Effect.matchEffect(publishTo(events, definition, data, options), {
      onFailure: (error) =>
        Effect.as(
          Effect.logWarning(`could not record the ${definition.type} event: ${error.message}`),
          Option.none<Event>()
        ),
      onSuccess: (event) => Effect.succeed(Option.some(event))
    })
  // A given store (the common case on hot paths): no context lookup.
  if (own !== undefined) return publishWith(own)
  return Effect.flatMap(Effect.serviceOption(Events), (events) =>
    Option.isNone(events) ? Effect.succeedNone : publishWith(events.value)
  )
}

/**
 * Decodes a recorded event of a definition; an event of another type, or whose data does not match the
 * definition, fails with `EventStoreError` (`invalid_input`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = <Type extends string, A, I extends Data>(
  definition: Definition<Type, A, I>,
  event: Event
): Either.Either<TypedEvent<Type, A>, EventStoreError> =>
  event.type !== definition.type
    ? Either.left(invalidInput("decode", `Event ${event.id} is a ${event.type} event, not a ${definition.type} event`))
    : Either.match(ParseResult.decodeUnknownEither(definition.schema)(event.data), {
        onLeft: (error) =>
          Either.left(
            invalidInput(
              "decode",
              `Event ${event.id} (${definition.type}) does not match its definition; it was published without it: ${issueOf(error)}`
            )
          ),
        onRight: (data) => Either.right({ ...event, type: definition.type, data })
      })

/**
 * Runs `f` on every event published from now on (optionally only of the given types), in publish order, on a
 * fiber of the scope: a consumer that folds events synchronously (a metrics feed, an index) at the cost of one
 * queue take per event. Subscribed when this returns, so no event published afterwards is missed. A throwing `f`
 * is logged and the feed goes on.
 *
 * @since 0.1.0
 * @category subscribing
 */
export const forEachEvent = (
  events: Service,
  types: ReadonlyArray<string> | undefined,
  f: (event: Event) => void
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(events.listen(types), (queue) => Effect.asVoid(Effect.forkScoped(drainQueue(queue, f))))

/**
 * Runs `f` on every event of a subscription's queue (from {@link Service.listen}), for ever: at each wake-up, the
 * event taken and every one queued behind it, synchronously. A throwing `f` is logged and the loop goes on. Ends
 * (interrupted) when the queue is shut down.
 *
 * @since 0.1.0
 * @category subscribing
 */
export const drainQueue = (queue: Queue.Dequeue<Event>, f: (event: Event) => void): Effect.Effect<never> => {
  const failed: Array<string> = []
  const one = (event: Event): void => {
    try {
      f(event)
    } catch (error) {
      failed.push(`an event consumer failed on a ${event.type} event: ${String(error)}`)
    }
  }
  const step = (first: Event): Effect.Effect<void> => {
    one(first)
    const queued = Option.getOrElse(queue.unsafeSize(), () => 0)
    const rest: Effect.Effect<void> =
      queued > 0
        ? Effect.map(Queue.takeUpTo(queue, queued), (events) => {
            for (const event of events) one(event)
          })
        : Effect.void
    return Effect.flatMap(rest, () => {
      if (failed.length === 0) return Effect.void
      const messages = failed.splice(0)
      return Effect.forEach(messages, (message) => Effect.logWarning(message), { discard: true })
    })
  }
  return Effect.forever(Effect.flatMap(Queue.take(queue), step))
}

/**
 * Live events of a definition, decoded. An event of the type whose data does not match the definition ends the
 * stream with `EventStoreError`.
 *
 * @since 0.1.0
 * @category subscribing
 */
export const subscribeTo = <Type extends string, A, I extends Data>(
  definition: Definition<Type, A, I>
): Stream.Stream<TypedEvent<Type, A>, EventStoreError, Events> =>
  Stream.unwrap(
    Effect.map(Events, (events) =>
      Stream.mapEffect(events.subscribe([definition.type]), (event) => decode(definition, event))
    )
  )

/**
 * Recorded events of a definition (the query's other criteria apply), decoded.
 *
 * @since 0.1.0
 * @category decoding
 */
export const queryOf = <Type extends string, A, I extends Data>(
  definition: Definition<Type, A, I>,
  q: Omit<Query, "types"> = {}
): Effect.Effect<ReadonlyArray<TypedEvent<Type, A>>, EventStoreError, Events> =>
  Effect.flatMap(query({ ...q, types: [definition.type] }), (events) =>
    Effect.forEach(events, (event) => decode(definition, event))
  )
