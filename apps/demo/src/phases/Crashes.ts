/**
 * Phase 5, crashes: the primary provider's, the ModuleManager's and the OptimizationCoordinator's actors are
 * killed one after the other; their supervisors restart them while the traffic keeps being answered, and the
 * restarted ModuleManager takes changes.
 */
import { Process, Registry } from "@effect-dspy/runtime"
import { Application, LMProviders, ModuleManager, OptimizationCoordinator } from "@effect-dspy/services"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stage from "./Stage.js"

/** What the crashes showed. */
export interface Crashes {
  readonly restarts: ReadonlyArray<{ readonly actor: string; readonly before: string; readonly after: string }>
  /** The version serving after the restarts. */
  readonly servingVersion: number
}

/** Kills each actor and waits for its supervisor to restart it under the same name. */
export const run = (
  stage: Stage.Stage
): Effect.Effect<Crashes, unknown, Application.Application | ModuleManager.ModuleManager | Registry.Registry> =>
  Effect.gen(function* () {
    const { settings, requests, moduleId, log, step } = stage
    const app = yield* Application.Application
    const modules = yield* ModuleManager.ModuleManager
    const registry = yield* Registry.Registry
    yield* requests.setPhase("crash")
    step("Killing the primary provider's actor, the ModuleManager's and the OptimizationCoordinator's.")
    const restarts: Array<{ actor: string; before: string; after: string }> = []
    for (const name of [
      LMProviders.actorName(settings.provider.primary),
      ModuleManager.actorName,
      OptimizationCoordinator.actorName
    ]) {
      const victim = yield* registry.lookup(name)
      yield* Process.kill(victim)
      let replacement: Process.Process | undefined
      yield* Stage.waitUntil(
        `${name} to be restarted`,
        Effect.map(registry.whereis(name), (found) => {
          if (found._tag === "Some" && found.value.pid !== victim.pid) replacement = found.value
          return replacement !== undefined
        }),
        "10 seconds"
      )
      restarts.push({ actor: name, before: String(victim.pid), after: String(replacement!.pid) })
      log(`  ${name}: ${String(victim.pid)} killed, restarted as ${String(replacement!.pid)}`)
    }
    // Changes go through the ModuleManager's actor: the restarted one takes them (executions never stopped).
    const probe = yield* modules.create({ id: `${moduleId}_predict`, kind: "predict", signature: stage.signature })
    log(`  the restarted ModuleManager takes changes: created ${probe.id} (version ${probe.version}).`)
    const serving = yield* modules.describe(moduleId)
    log(yield* app.render)
    yield* Effect.sleep(Duration.millis(Math.min(1000, settings.outageMs)))
    return { restarts, servingVersion: serving.version }
  })
