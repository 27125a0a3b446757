/**
 * Data rights: export everything held about an end user (a subject key, see foundation's `Subject`) or a tenant,
 * as a documented archive (`Archive`), and erase it, derived data included, with an audit event that holds no
 * content (`data_erased`: a digest of the key, counts per source).
 *
 * Where the data lives is a list of {@link Source}s. The primary ones find records by their subject and tenant
 * columns: the experience store (executions and their feedback), the cache (the namespaces of the subject or the
 * tenant at every level, Redis included: see `CacheManager.namespaceOf`) and, from the workflows package, the
 * workflow runs. The derived ones find what the primary records left elsewhere: the events published under their
 * correlation ids, and the demos made from their inputs in saved programs (every stored version and optimization
 * result, and the live version, which is swapped for one without them). {@link layer} takes the stores present in
 * the context; give more sources with {@link layerWith}.
 *
 * Erasing refuses to run partly blind: a store or cache level that cannot be read fails the call with
 * `DataRightsIncomplete` (erasing is idempotent: run it again once the store is back).
 *
 * @example
 * ```ts
 * import { DataRights, ExperienceStore } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * const program = Effect.gen(function* () {
 *   const rights = yield* DataRights.DataRights
 *   const archive = yield* rights.export({ subject: "user-42" })
 *   const report = yield* rights.erase({ subject: "user-42" })
 *   return { records: archive.manifest.records, erased: report.total }
 * }).pipe(Effect.provide(DataRights.layer.pipe(Layer.provideMerge(ExperienceStore.layerMemory()))))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Archive from "./Archive.js"
import * as internal from "./internal/dataRights.js"
import type { DataRightsIncomplete, DataRightsInvalid } from "./RightsError.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  DataRightsIncomplete,
  /**
   * @since 0.1.0
   * @category errors
   */
  DataRightsInvalid
} from "./RightsError.js"

/**
 * Whose data: an end user (`subject`), a tenant, or an end user within a tenant; with `before` (ms since the
 * epoch), only what was recorded before that time (retention).
 *
 * @since 0.1.0
 * @category models
 */
export interface Selector extends Archive.Scope {
  readonly before?: number | undefined
}

/**
 * What the primary sources found, for the derived ones: the correlation ids of the requests, and the input
 * values (strings) of the records (what a demo made from them would hold).
 *
 * @since 0.1.0
 * @category models
 */
export interface Trace {
  readonly correlationIds: ReadonlySet<string>
  readonly values: ReadonlySet<string>
}

/**
 * What a source found: the records (as archive entries) and what they tell the derived sources.
 *
 * @since 0.1.0
 * @category models
 */
export interface Found {
  readonly entries: ReadonlyArray<Archive.Entry>
  readonly correlationIds?: ReadonlyArray<string>
  readonly values?: ReadonlyArray<string>
}

/**
 * A place data is held. `primary` sources find records by the selector; `derived` ones by the trace of the
 * primary ones. `erase` removes what `find` found (and returns how many records).
 *
 * @since 0.1.0
 * @category models
 */
export interface Source {
  readonly name: string
  readonly stage: "primary" | "derived"
  readonly find: (selector: Selector, trace: Trace) => Effect.Effect<Found, DataRightsIncomplete>
  readonly erase: (selector: Selector, trace: Trace, found: Found) => Effect.Effect<number, DataRightsIncomplete>
}

/**
 * What an erasure removed, per source.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly scope: Selector
  readonly counts: { readonly [source: string]: number }
  readonly total: number
  readonly at: number
}

/**
 * The data-rights service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The names of the sources searched. */
  readonly sources: ReadonlyArray<string>
  /** Everything held about the selector, as an archive. */
  readonly export: (selector: Selector) => Effect.Effect<Archive.Archive, DataRightsInvalid | DataRightsIncomplete>
  /** Erases everything held about the selector (derived data included) and publishes the audit event. */
  readonly erase: (
    selector: Selector,
    options?: { readonly reason?: "request" | "retention" }
  ) => Effect.Effect<Report, DataRightsInvalid | DataRightsIncomplete>
}

/**
 * The data-rights service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class DataRights extends Context.Tag("@effect-dspy/services/DataRights")<DataRights, Service>() {}

/**
 * A service over these sources (the audit event goes to the `Events` of the context, when there is one).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (sources: ReadonlyArray<Source>) => Effect.Effect<Service> = internal.make

/**
 * The sources of the stores in the context: `ExperienceStore`, `CacheManager`, `Events`, `ReleaseStore` and the
 * `ModuleManager` (each when present).
 *
 * @since 0.1.0
 * @category constructors
 */
export const sourcesFromContext: Effect.Effect<ReadonlyArray<Source>> = internal.sourcesFromContext

/**
 * The service over the stores in the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<DataRights> = Layer.effect(DataRights, internal.layerEffect([]))

/**
 * The service over the stores in the context and these further sources (the workflow runs: `RunStore.rightsSource`
 * in the workflows package).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (extra: ReadonlyArray<Source>): Layer.Layer<DataRights> =>
  Layer.effect(DataRights, internal.layerEffect(extra))

/**
 * The string values of a record's fields, for {@link Found.values}: the top-level strings of an object (and of a
 * `toRecord()`), what demos bootstrapped from the record would carry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const valuesOf: (record: unknown) => ReadonlyArray<string> = internal.valuesOf
