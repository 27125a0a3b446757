/**
 * The release store in memory: the SQLite store's contract over maps (values copied through JSON on the way in
 * and out, as a database would), for tests and short-lived processes.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ModuleRecord, Service, StoredResult, VersionRecord } from "../ReleaseStore.js"
import { conflict } from "./conflict.js"

const copy = <A>(value: A): A => JSON.parse(JSON.stringify(value ?? null)) as A

/** A fresh, empty store. */
export const make = (): Service => {
  const modules = new Map<string, ModuleRecord>()
  const versions = new Map<string, Array<VersionRecord>>()
  const results = new Map<string, StoredResult>()
  return {
    target: ":memory:",
    load: (moduleId, limit) =>
      Effect.sync(() => {
        const module = modules.get(moduleId)
        if (module === undefined) return Option.none()
        const all = versions.get(moduleId) ?? []
        return Option.some({
          module: copy(module),
          versions: copy(limit === undefined ? all : all.slice(Math.max(0, all.length - limit)))
        })
      }),
    modules: Effect.sync(() => copy([...modules.values()].sort((a, b) => (a.moduleId < b.moduleId ? -1 : 1)))),
    create: (module, first) =>
      Effect.sync(() => {
        modules.set(module.moduleId, copy(module))
        versions.set(module.moduleId, [copy(first)])
      }),
    append: (version, { promote }) =>
      Effect.sync(() => {
        const list = versions.get(version.moduleId) ?? []
        list.push(copy(version))
        versions.set(version.moduleId, list)
        const module = modules.get(version.moduleId)
        if (promote && module !== undefined) {
          modules.set(version.moduleId, { ...module, promoted: version.version, updatedAt: version.createdAt })
        }
      }),
    promote: (moduleId, version, at) =>
      Effect.sync(() => {
        const module = modules.get(moduleId)
        if (module !== undefined) modules.set(moduleId, { ...module, promoted: version, updatedAt: at })
      }),
    promoteIf: (moduleId, expected, version, at) =>
      Effect.suspend(() => {
        const module = modules.get(moduleId)
        if (module === undefined || module.promoted !== expected) {
          return conflict(moduleId, expected, module?.promoted ?? null)
        }
        modules.set(moduleId, { ...module, promoted: version, updatedAt: at })
        return Effect.void
      }),
    appendIf: (version, expected) =>
      Effect.suspend(() => {
        const module = modules.get(version.moduleId)
        if (module === undefined || module.promoted !== expected) {
          return conflict(version.moduleId, expected, module?.promoted ?? null)
        }
        const list = versions.get(version.moduleId) ?? []
        list.push(copy(version))
        versions.set(version.moduleId, list)
        modules.set(version.moduleId, { ...module, promoted: version.version, updatedAt: version.createdAt })
        return Effect.void
      }),
    forget: (moduleId) =>
      Effect.sync(() => {
        modules.delete(moduleId)
        versions.delete(moduleId)
      }),
    putResult: (result) => Effect.sync(() => void results.set(result.key, copy(result))),
    rewriteStates: (rewrite) =>
      Effect.sync(() => {
        let changedVersions = 0
        let changedResults = 0
        for (const [moduleId, list] of versions) {
          const next = list.map((v) => {
            const state = rewrite(copy(v.state))
            if (state === undefined) return v
            changedVersions++
            return { ...v, state: copy(state) }
          })
          versions.set(moduleId, next)
        }
        for (const [key, result] of results) {
          const state = rewrite(copy(result.state))
          if (state === undefined) continue
          changedResults++
          results.set(key, { ...result, state: copy(state) })
        }
        return { versions: changedVersions, results: changedResults }
      }),
    getResult: (key) =>
      Effect.sync(() => {
        const found = results.get(key)
        return found === undefined ? Option.none() : Option.some(copy(found))
      })
  }
}
