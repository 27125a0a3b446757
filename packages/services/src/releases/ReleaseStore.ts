/**
 * Durable releases: every version of every managed module (its program state, the spec it was made from, its
 * lineage and when it was made), which version each module promotes, and optimization results keyed by what
 * produced them, so a restarted application serves what it served before and never pays twice for the same
 * compile. The ModuleManager writes a version here before it acknowledges the change. SQLite by default
 * ({@link layer}); {@link layerMemory} for tests; the interface speaks records, not SQL, so another database
 * (PostgreSQL) can back it.
 *
 * @example
 * ```ts
 * import { Application, ModuleManager, ReleaseStore } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
 *   yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
 *   const store = yield* ReleaseStore.ReleaseStore
 *   return yield* store.load("qa")
 * }).pipe(
 *   Effect.provide(Application.layerDefault().pipe(Layer.provideMerge(ReleaseStore.layer({ filename: ":memory:" }))))
 * )
 *
 * Effect.runPromise(program).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { ReleaseStoreConflict, ReleaseStoreError, ReleaseStoreVersionUnsupported } from "../ServicesError.js"
import * as memory from "./internal/memoryStore.js"
import * as postgres from "./internal/postgresStore.js"
import * as sqlite from "./internal/sqliteStore.js"

/**
 * Where a version came from: the version it was made from, the optimization job and optimizer that made it,
 * the scores that justified it, and the change that made it (`created`, `swapped`, `rolled_back(3)`,
 * `imported`, `canary_rollback`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Lineage {
  readonly parent: number | null
  readonly reason: string
  readonly jobId: string | null
  readonly optimizer: string | null
  readonly scores: { readonly [name: string]: number } | null
}

/**
 * One stored version of a module. `state` is `Module.dumpState` of its program (JSON-ready).
 *
 * @since 0.1.0
 * @category models
 */
export interface VersionRecord {
  readonly moduleId: string
  readonly version: number
  readonly state: unknown
  readonly lineage: Lineage
  readonly createdAt: number
}

/**
 * A stored module: its shape (a fingerprint of its predictor paths and fields: a module re-registered with
 * another shape is refused), the spec it was made from (null for a program value), and the version it promotes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ModuleRecord {
  readonly moduleId: string
  readonly shape: string
  readonly spec: unknown
  readonly promoted: number
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * A module as stored: its record and its latest versions, oldest first.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredModule {
  readonly module: ModuleRecord
  readonly versions: ReadonlyArray<VersionRecord>
}

/**
 * An optimization result: the optimized program's state under the key of what produced it (signature
 * fingerprint, optimizer and settings, data fingerprint), with the job that made it and its scores.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredResult {
  readonly key: string
  readonly moduleId: string
  readonly state: unknown
  readonly jobId: string
  readonly optimizer: string
  readonly scores: { readonly [name: string]: number } | null
  readonly createdAt: number
}

/**
 * What a store operation fails with.
 *
 * @since 0.1.0
 * @category errors
 */
export type StoreError = ReleaseStoreError

/**
 * The release store. Every write is atomic: it is all made or, failing, none of it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Where the store keeps its data (a file name, `":memory:"`, or a URL), for messages. */
  readonly target: string
  /** A module's record and its latest `limit` versions (all when left out), or none. */
  readonly load: (moduleId: string, limit?: number) => Effect.Effect<Option.Option<StoredModule>, StoreError>
  /** Every stored module. */
  readonly modules: Effect.Effect<ReadonlyArray<ModuleRecord>, StoreError>
  /** Writes a module's record and its first version (replacing nothing: the module must not be stored). */
  readonly create: (module: ModuleRecord, first: VersionRecord) => Effect.Effect<void, StoreError>
  /** Adds a version; with `promote`, makes it the module's promoted version in the same transaction. */
  readonly append: (version: VersionRecord, options: { readonly promote: boolean }) => Effect.Effect<void, StoreError>
  /** Makes a stored version the promoted one. */
  readonly promote: (moduleId: string, version: number, at: number) => Effect.Effect<void, StoreError>
  /**
   * Compare-and-swap: makes `version` the promoted one only if the module's promoted version is `expected`, in one
   * statement; otherwise writes nothing and fails with `ReleaseStoreConflict` (a swap computed against a version
   * another process already replaced is never applied, and one applied twice fails the second time).
   */
  readonly promoteIf: (
    moduleId: string,
    expected: number,
    version: number,
    at: number
  ) => Effect.Effect<void, StoreError | ReleaseStoreConflict>
  /**
   * Compare-and-swap append: adds a version and promotes it, only if the module's promoted version is `expected`
   * (checked in the same transaction); otherwise writes nothing and fails with `ReleaseStoreConflict`.
   */
  readonly appendIf: (
    version: VersionRecord,
    expected: number
  ) => Effect.Effect<void, StoreError | ReleaseStoreConflict>
  /** Forgets a module: its record and every version. */
  readonly forget: (moduleId: string) => Effect.Effect<void, StoreError>
  /** Stores an optimization result (replacing one under the same key). */
  readonly putResult: (result: StoredResult) => Effect.Effect<void, StoreError>
  /** The optimization result under a key, or none. */
  readonly getResult: (key: string) => Effect.Effect<Option.Option<StoredResult>, StoreError>
  /**
   * Rewrites stored program states in one transaction (an erasure: `DataRights` removes demos made from an end
   * user's data): `rewrite` sees the state of every version and every optimization result, and returns the state to
   * store instead, or `undefined` to leave it. Returns how many versions and results were rewritten.
   */
  readonly rewriteStates: (
    rewrite: (state: unknown) => unknown
  ) => Effect.Effect<{ readonly versions: number; readonly results: number }, StoreError>
}

/**
 * The release store tag. `Application.layer` uses the one in context, else opens a SQLite store (in memory
 * unless its `releases.filename` option names a file).
 *
 * @since 0.1.0
 * @category tags
 */
export class ReleaseStore extends Context.Tag("@effect-dspy/services/ReleaseStore")<ReleaseStore, Service>() {}

/**
 * The schema version this store writes (kept in the database; an older one is migrated forward when opened, a
 * newer one is refused with `ReleaseStoreVersionUnsupported`).
 *
 * @since 0.1.0
 * @category constants
 */
export const schemaVersion: number = sqlite.schemaVersion

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file (created with its folder when missing; `":memory:"` for a private in-memory one). */
  readonly filename: string
}

/**
 * Opens (creating and migrating when needed) the SQLite store at `filename` for the scope's lifetime.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlite: (
  options: Options
) => Effect.Effect<Service, ReleaseStoreError | ReleaseStoreVersionUnsupported, Scope.Scope> = sqlite.open

/**
 * A store in memory (for tests and short-lived processes): the same contract, nothing survives the process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: () => Service = memory.make

/**
 * The SQLite store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<ReleaseStore, ReleaseStoreError | ReleaseStoreVersionUnsupported> =>
  Layer.scoped(ReleaseStore, sqlite.open(options))

/**
 * The PostgreSQL store over the `SqlClient` in context (a `PgClient`; see `Storage.layerPostgres`): the same
 * contract and schema as the SQLite one, its version kept in `dspy_schema_versions` under `releases`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePostgres: Effect.Effect<
  Service,
  ReleaseStoreError | ReleaseStoreVersionUnsupported,
  SqlClient.SqlClient
> = postgres.open

/**
 * The PostgreSQL store as a layer (needs a `SqlClient` on PostgreSQL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPostgres: Layer.Layer<
  ReleaseStore,
  ReleaseStoreError | ReleaseStoreVersionUnsupported,
  SqlClient.SqlClient
> = Layer.effect(ReleaseStore, postgres.open)

/**
 * The in-memory store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ReleaseStore> = Layer.sync(ReleaseStore, memory.make)
