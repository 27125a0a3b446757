/**
 * The data-rights service: the sources of the stores in context (experiences, cache, events, saved programs), the
 * two-stage search (primary sources by selector, derived ones by the primary records' trace), the export and the
 * erasure with its audit event.
 */
import { Module } from "@effect-dspy/core"
import { Events, Subject } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CacheManager from "../../CacheManager.js"
import * as ExperienceStore from "../../loop/ExperienceStore.js"
import * as ModuleManager from "../../ModuleManager.js"
import * as ReleaseStore from "../../releases/ReleaseStore.js"
import * as ServicesEvents from "../../ServicesEvents.js"
import * as Archive from "../Archive.js"
import type { Found, Report, Selector, Service, Source, Trace } from "../DataRights.js"
import { DataRightsIncomplete, DataRightsInvalid } from "../RightsError.js"

const incomplete = (source: string, operation: string, reason: string) =>
  new DataRightsIncomplete({
    source,
    operation,
    message: `Data rights: the ${source} could not ${operation} (${reason}); nothing was reported as done for it: run the ${operation === "erase" ? "erasure" : "export"} again once it is back.`
  })

const fieldsOf = (value: unknown): Readonly<Record<string, unknown>> | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const withRecord = value as { readonly toRecord?: () => Readonly<Record<string, unknown>> }
  return typeof withRecord.toRecord === "function"
    ? withRecord.toRecord()
    : (value as Readonly<Record<string, unknown>>)
}

/** The top-level string values of a record. */
export const valuesOf = (record: unknown): ReadonlyArray<string> => {
  const fields = fieldsOf(record)
  if (fields === undefined) return typeof record === "string" ? [record] : []
  const out: Array<string> = []
  for (const v of Object.values(fields)) if (typeof v === "string" && v.length > 0) out.push(v)
  return out
}

const anyString = (value: unknown, values: ReadonlySet<string>): boolean => {
  if (typeof value === "string") return values.has(value)
  if (Array.isArray(value)) return value.some((v) => anyString(v, values))
  if (typeof value === "object" && value !== null) return Object.values(value).some((v) => anyString(v, values))
  return false
}

/**
 * `state` without the demos holding one of `values` (every `demos` array, at any depth); `undefined` when there
 * is none to remove. `removed` collects the demos taken out.
 */
export const scrubDemos = (state: unknown, values: ReadonlySet<string>, removed?: Array<unknown>): unknown => {
  if (values.size === 0) return undefined
  let changed = false
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk)
    if (typeof node !== "object" || node === null) return node
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) {
      if (k === "demos" && Array.isArray(v)) {
        const kept = v.filter((demo) => {
          if (!anyString(demo, values)) return true
          removed?.push(demo)
          return false
        })
        if (kept.length !== v.length) changed = true
        out[k] = kept
      } else out[k] = walk(v)
    }
    return out
  }
  const next = walk(state)
  return changed ? next : undefined
}

/** The executions and their feedback, by their subject and tenant columns. */
const experienceSource = (store: ExperienceStore.Service): Source => ({
  name: "experiences",
  stage: "primary",
  find: (selector) =>
    Effect.map(
      store.query({
        ...(selector.subject === undefined ? {} : { subject: selector.subject }),
        ...(selector.tenant === undefined ? {} : { tenant: selector.tenant }),
        ...(selector.before === undefined ? {} : { before: selector.before })
      }),
      (found): Found => ({
        entries: found.map((e) => ({
          source: "experiences",
          id: e.executionId,
          data: { ...e, inputs: fieldsOf(e.inputs) ?? e.inputs, output: fieldsOf(e.output) ?? e.output }
        })),
        correlationIds: found.flatMap((e) => (e.correlationId === undefined ? [] : [e.correlationId])),
        values: found.flatMap((e) => [...valuesOf(e.inputs), ...valuesOf(e.outcome?.corrected)])
      })
    ),
  erase: (_selector, _trace, found) =>
    store
      .remove(found.entries.map((e) => e.id))
      .pipe(Effect.mapError((e) => incomplete("experience store", "erase", e.message)))
})

/** The cache namespaces of the subject or tenant, at every level. */
const cacheSource = (cache: CacheManager.Service): Source => {
  const namespacesOf = (selector: Selector) =>
    Effect.flatMap(cache.namespaces, ({ namespaces, unavailable }) => {
      if (unavailable.length > 0)
        return Effect.fail(incomplete("cache", "read", `level ${unavailable.join(", ")} unavailable`))
      const digest = selector.subject === undefined ? undefined : Subject.digest(selector.subject)
      return Effect.succeed(
        namespaces.filter((ns) => {
          const parsed = CacheManager.parseNamespace(ns)
          if (digest !== undefined && parsed.subjectDigest !== digest) return false
          // A namespace of the tenant: `@t:<tenant>` (namespaceOf), or a tenant-qualified name `~<tenant>/...`.
          if (
            selector.tenant !== undefined &&
            parsed.tenant !== selector.tenant &&
            !ns.startsWith(`~${selector.tenant}/`)
          )
            return false
          return digest !== undefined || selector.tenant !== undefined
        })
      )
    })
  return {
    name: "cache",
    stage: "primary",
    // Entries carry no time of their own (they expire by their time to live): a retention run leaves them.
    find: (selector) =>
      selector.before !== undefined
        ? Effect.succeed({ entries: [] })
        : Effect.flatMap(namespacesOf(selector), (namespaces) =>
            Effect.forEach(namespaces, (ns) =>
              Effect.flatMap(cache.entries(ns), ({ entries, unavailable }) =>
                unavailable.length > 0
                  ? Effect.fail(incomplete("cache", "read", `level ${unavailable.join(", ")} unavailable`))
                  : Effect.succeed(
                      entries.map((e) => ({
                        source: "cache",
                        id: `${e.level}:${ns}:${e.key}`,
                        data: { level: e.level, namespace: ns, key: e.key, value: e.value }
                      }))
                    )
              )
            ).pipe(Effect.map((lists): Found => ({ entries: lists.flat() })))
          ),
    erase: (selector, _trace, found) =>
      selector.before !== undefined
        ? Effect.succeed(0)
        : Effect.gen(function* () {
            const namespaces = yield* namespacesOf(selector)
            for (const ns of namespaces)
              yield* cache.invalidateModule(ns).pipe(Effect.mapError((e) => incomplete("cache", "erase", e.message)))
            const left = yield* namespacesOf(selector)
            if (left.length > 0) return yield* Effect.fail(incomplete("cache", "erase", `${left.length} left`))
            return found.entries.length
          })
  }
}

/** The events published under the correlation ids of the primary records. */
const eventSource = (events: Events.Service): Source => {
  const find = (trace: Trace) =>
    Effect.forEach(trace.correlationIds, (correlationId) => events.query({ correlationId })).pipe(
      Effect.map((lists) => lists.flat().filter((e) => e.type !== ServicesEvents.DataErased.type)),
      Effect.mapError((e) => incomplete("event store", "read", e.message))
    )
  return {
    name: "events",
    stage: "derived",
    find: (_selector, trace) =>
      Effect.map(
        find(trace),
        (found): Found => ({
          entries: found.map((e) => ({ source: "events", id: e.id, data: e }))
        })
      ),
    erase: (_selector, _trace, found) =>
      events
        .remove(found.entries.map((e) => e.id))
        .pipe(Effect.mapError((e) => incomplete("event store", "erase", e.message)))
  }
}

/** The demos made from the primary records' inputs, in every stored program and in the live versions. */
const programSource = (
  store: Option.Option<ReleaseStore.Service>,
  modules: Option.Option<ModuleManager.Service>
): Source => ({
  name: "programs",
  stage: "derived",
  find: (_selector, trace) =>
    Effect.gen(function* () {
      const entries: Array<Archive.Entry> = []
      if (trace.values.size === 0) return { entries }
      if (Option.isSome(store)) {
        const list = yield* store.value.modules
        for (const m of list) {
          const loaded = yield* store.value.load(m.moduleId)
          if (Option.isNone(loaded)) continue
          for (const v of loaded.value.versions) {
            const removed: Array<unknown> = []
            scrubDemos(v.state, trace.values, removed)
            for (const [i, demo] of removed.entries())
              entries.push({ source: "programs", id: `${m.moduleId}@${v.version}#${i}`, data: { demo } })
          }
        }
      }
      if (Option.isSome(modules)) {
        for (const info of yield* modules.value.list) {
          const program = yield* Effect.option(modules.value.program(info.id))
          if (Option.isNone(program)) continue
          const removed: Array<unknown> = []
          scrubDemos(Module.dumpState(program.value), trace.values, removed)
          for (const [i, demo] of removed.entries())
            entries.push({ source: "programs", id: `${info.id}@live#${i}`, data: { demo } })
        }
      }
      return { entries }
    }).pipe(Effect.mapError((e) => incomplete("release store", "read", e.message))),
  erase: (_selector, trace, found) =>
    Effect.gen(function* () {
      if (trace.values.size === 0) return 0
      if (Option.isSome(store)) yield* store.value.rewriteStates((state) => scrubDemos(state, trace.values))
      if (Option.isSome(modules)) {
        for (const info of yield* modules.value.list) {
          const program = yield* Effect.option(modules.value.program(info.id))
          if (Option.isNone(program)) continue
          const state = scrubDemos(Module.dumpState(program.value), trace.values)
          if (state === undefined) continue
          // The live version is replaced by one without the demos (its predecessors were rewritten above).
          yield* modules.value.swap(info.id, { state, lineage: { reason: "erased" } })
        }
      }
      return found.entries.length
    }).pipe(Effect.mapError((e) => incomplete("release store", "erase", e.message)))
})

/** The sources of the stores in the context. */
export const sourcesFromContext: Effect.Effect<ReadonlyArray<Source>> = Effect.gen(function* () {
  const sources: Array<Source> = []
  const experiences = yield* Effect.serviceOption(ExperienceStore.ExperienceStore)
  if (Option.isSome(experiences)) sources.push(experienceSource(experiences.value))
  const cache = yield* Effect.serviceOption(CacheManager.CacheManager)
  if (Option.isSome(cache)) sources.push(cacheSource(cache.value))
  const events = yield* Effect.serviceOption(Events.Events)
  if (Option.isSome(events)) sources.push(eventSource(events.value))
  const releases = yield* Effect.serviceOption(ReleaseStore.ReleaseStore)
  const modules = yield* Effect.serviceOption(ModuleManager.ModuleManager)
  if (Option.isSome(releases) || Option.isSome(modules)) sources.push(programSource(releases, modules))
  return sources
})

const check = (selector: Selector): Effect.Effect<Selector, DataRightsInvalid> => {
  const blank = (v: unknown) => v !== undefined && (typeof v !== "string" || v.trim() === "")
  if (blank(selector.subject))
    return Effect.fail(
      new DataRightsInvalid({ field: "subject", message: "The subject must be a non-empty end-user key." })
    )
  if (blank(selector.tenant))
    return Effect.fail(new DataRightsInvalid({ field: "tenant", message: "The tenant must be a non-empty tenant id." }))
  if (selector.subject === undefined && selector.tenant === undefined)
    return Effect.fail(
      new DataRightsInvalid({
        field: "subject",
        message: "Say whose data: give a subject (an end-user key), a tenant, or both."
      })
    )
  if (selector.before !== undefined && !Number.isFinite(selector.before))
    return Effect.fail(new DataRightsInvalid({ field: "before", message: "`before` must be a time in ms." }))
  return Effect.succeed(selector)
}

/** The service over these sources. */
export const make = (sources: ReadonlyArray<Source>): Effect.Effect<Service> =>
  Effect.gen(function* () {
    const events = yield* Effect.serviceOption(Events.Events)
    const primary = sources.filter((s) => s.stage === "primary")
    const derived = sources.filter((s) => s.stage === "derived")
    const search = (selector: Selector) =>
      Effect.gen(function* () {
        const found = new Map<Source, Found>()
        const correlationIds = new Set<string>()
        const values = new Set<string>()
        for (const source of primary) {
          const f = yield* source.find(selector, { correlationIds, values })
          found.set(source, f)
          for (const id of f.correlationIds ?? []) correlationIds.add(id)
          for (const v of f.values ?? []) values.add(v)
        }
        const trace: Trace = { correlationIds, values }
        for (const source of derived) found.set(source, yield* source.find(selector, trace))
        return { found, trace }
      })
    const service: Service = {
      sources: sources.map((s) => s.name),
      export: (selector) =>
        Effect.gen(function* () {
          yield* check(selector)
          const { found } = yield* search(selector)
          const now = yield* Clock.currentTimeMillis
          return Archive.make(
            selector,
            [...found.values()].flatMap((f) => f.entries),
            now,
            sources.map((s) => s.name)
          )
        }),
      erase: (selector, options) =>
        Effect.gen(function* () {
          yield* check(selector)
          const { found, trace } = yield* search(selector)
          const counts: Record<string, number> = {}
          // Derived data first: the primary records are what finds it again if the erasure has to be re-run.
          for (const source of [...derived, ...primary])
            counts[source.name] = yield* source.erase(selector, trace, found.get(source)!)
          const total = Object.values(counts).reduce((a, b) => a + b, 0)
          const at = yield* Clock.currentTimeMillis
          const report: Report = { scope: selector, counts, total, at }
          if (Option.isSome(events))
            yield* Events.publishOrLog(
              ServicesEvents.DataErased,
              {
                ...(selector.subject === undefined ? {} : { subject_digest: Subject.digest(selector.subject) }),
                ...(selector.tenant === undefined ? {} : { tenant: selector.tenant }),
                ...(selector.before === undefined ? {} : { before: selector.before }),
                reason: options?.reason ?? "request",
                counts,
                total
              },
              { events: events.value }
            )
          return report
        })
    }
    return service
  })

/** The service over the stores in the context and `extra`. */
export const layerEffect = (extra: ReadonlyArray<Source>): Effect.Effect<Service> =>
  Effect.flatMap(sourcesFromContext, (sources) => make([...sources, ...extra]))
