/**
 * Where learned routers keep their state: each segment's arm statistics, the decisions (the newest `maxDecisions`
 * of each router, with their reward once it came, and the execution each routed module call made, so the loop's
 * feedback still rewards it after a restart) and the calibration sums, by router id. Every change is one
 * transaction, so a restarted router resumes exactly where the last committed change left it.
 *
 * `Router.make` uses the store in context (the application gives one: PostgreSQL with `storage.backend: postgres`,
 * otherwise memory) unless its options name a SQLite `filename`. {@link layerSqlite} keeps every router in one
 * SQLite file, {@link layerPostgres} in PostgreSQL (tables `dspy_router_*`, version in `dspy_schema_versions` under
 * `routers`); both run the same statements and row codec. A router id is served by one process at a time (its
 * decision ids are sequence numbers).
 *
 * @example
 * ```ts
 * import { Router, RouterStore } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.scoped(
 *   Router.make({ id: "answerer", handlers: { a: (q: string) => Effect.succeed(q) }, segment: () => "all" })
 * ).pipe(Effect.provide(RouterStore.layerSqlite("data/routers.db")))
 * ```
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { RouterStoreError } from "../ServicesError.js"
import * as internal from "./internal/routerStore.js"

/**
 * One arm's persisted statistics.
 *
 * @since 0.1.0
 * @category models
 */
export interface ArmRow {
  readonly segment: string
  readonly handler: string
  readonly pulls: number
  readonly rewardN: number
  readonly rewardSum: number
  readonly rewardSumSq: number
}

/**
 * One decision as stored.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecisionRow {
  readonly id: string
  readonly seq: number
  readonly segment: string
  readonly handler: string
  readonly confidence: number
  readonly reward: number | null
}

/**
 * One calibration bin's sums.
 *
 * @since 0.1.0
 * @category models
 */
export interface BinRow {
  readonly bin: number
  readonly n: number
  readonly confidenceSum: number
  readonly rewardSum: number
  readonly squaredErrorSum: number
}

/**
 * A decision waiting for the loop's feedback on the execution it routed to.
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkRow {
  readonly decisionId: string
  readonly executionId: string
}

/**
 * What a router reads at start.
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded {
  readonly arms: ReadonlyArray<ArmRow>
  /** The next decision's sequence number. */
  readonly nextSeq: number
  readonly bins: ReadonlyArray<BinRow>
  /** The unrewarded decisions linked to an execution (the loop's feedback on it rewards them). */
  readonly links: ReadonlyArray<LinkRow>
}

/**
 * One router's view of the store.
 *
 * @since 0.1.0
 * @category models
 */
export interface RouterState {
  readonly load: Effect.Effect<Loaded, RouterStoreError>
  /** Records a decision and its arm's pull (one transaction); prunes decisions older than `maxDecisions`. */
  readonly decide: (decision: {
    readonly id: string
    readonly seq: number
    readonly segment: string
    readonly handler: string
    readonly confidence: number
    readonly explored: boolean
    readonly createdAt: number
  }) => Effect.Effect<void, RouterStoreError>
  readonly decision: (id: string) => Effect.Effect<DecisionRow | undefined, RouterStoreError>
  /** Links a decision to the execution its handler made (the loop's feedback on it rewards the decision). */
  readonly link: (decisionId: string, executionId: string) => Effect.Effect<void, RouterStoreError>
  /** Records a reward: the decision's, its arm's and its calibration bin's (one transaction). */
  readonly reward: (reward: {
    readonly id: string
    readonly segment: string
    readonly handler: string
    readonly value: number
    readonly bin: number
    readonly confidence: number
  }) => Effect.Effect<void, RouterStoreError>
}

/**
 * A router's settings the store needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenOptions {
  readonly bins: number
  readonly maxDecisions: number
}

/**
 * The store: opens one router's state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Where it keeps the state (a file, `memory`, or `postgresql (routers)`), for messages. */
  readonly target: string
  readonly open: (router: string, options: OpenOptions) => Effect.Effect<RouterState, RouterStoreError, Scope.Scope>
}

/**
 * The router store tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class RouterStore extends Context.Tag("@effect-dspy/services/RouterStore")<RouterStore, Service>() {}

/**
 * The layout version of the SQLite file (`PRAGMA user_version`; 2 added the decisions' execution links).
 *
 * @since 0.1.0
 * @category constants
 */
export const LAYOUT_VERSION: number = internal.LAYOUT_VERSION

/**
 * Every router's state in one SQLite file (created when missing, migrated forward; a newer layout refused),
 * on one connection for the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlite: (filename: string) => Effect.Effect<Service, RouterStoreError, Scope.Scope> =
  internal.makeSqlite

/**
 * Each router's state in a private in-memory SQLite database (nothing survives the router).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: () => Service = internal.makeMemory

/**
 * Every router's state in PostgreSQL over the `SqlClient` in context (see `Storage.layerPostgresClient`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePostgres: Effect.Effect<Service, RouterStoreError, SqlClient.SqlClient> = internal.makePostgres

/**
 * The SQLite store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (filename: string): Layer.Layer<RouterStore, RouterStoreError> =>
  Layer.scoped(RouterStore, makeSqlite(filename))

/**
 * The memory store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RouterStore> = Layer.sync(RouterStore, makeMemory)

/**
 * The PostgreSQL store as a layer (needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres: Layer.Layer<RouterStore, RouterStoreError, SqlClient.SqlClient> = Layer.effect(
  RouterStore,
  makePostgres
)
