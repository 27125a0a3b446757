/**
 * Phase 7, restart: the module's versions are in the release database; an application started afresh on the
 * same database registers the module again (as a service does at start) and gets its promoted version back,
 * numbered as before, without an optimization or an LM call.
 */
import { ModuleManager, ReleaseStore, TestRuntime } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import type { ReleasesReport } from "../Summary.js"
import * as Stage from "./Stage.js"

/** Reports the stored versions and, with a database file, what a restarted application restores. */
export const run = (
  stage: Stage.Stage,
  releasesFile: string | undefined,
  signature: string
): Effect.Effect<ReleasesReport, unknown, ReleaseStore.ReleaseStore> =>
  Effect.gen(function* () {
    const { moduleId, step, log } = stage
    const store = yield* ReleaseStore.ReleaseStore
    const stored = yield* store.load(moduleId)
    if (stored._tag === "None") return yield* Stage.fail(`no release of ${moduleId} is stored`)
    const persisted = stored.value.versions.length
    const promoted = stored.value.module.promoted
    if (releasesFile === undefined) {
      return { persisted, promoted, restoredVersion: null, restoredVersions: null, restoreMs: null }
    }
    step(`Restart: a fresh application on the same release database registers ${moduleId} again.`)
    const started = performance.now()
    const restored = yield* Effect.scoped(
      Effect.flatMap(
        ModuleManager.ModuleManager,
        (modules) => modules.create({ id: moduleId, kind: "chain_of_thought", signature })
        // Its own registry namespace and simulated providers: the demo's application is still running beside it.
      ).pipe(Effect.provide(TestRuntime.layer({ application: { releases: { filename: releasesFile } } })))
    )
    const restoreMs = Math.round(performance.now() - started)
    if (restored.version !== promoted) {
      return yield* Stage.fail(`the restarted application serves v${restored.version}, not the promoted v${promoted}`)
    }
    log(`  v${restored.version} serves again (${restored.versions} versions restored in ${restoreMs} ms, no LM call).`)
    return { persisted, promoted, restoredVersion: restored.version, restoredVersions: restored.versions, restoreMs }
  })
