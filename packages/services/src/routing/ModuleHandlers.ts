/**
 * Handlers of a `Router` made of managed modules: whole modules by id (each execution under the module's
 * protections, traffic policy and fallbacks), or versions of one module (each version's program run as it was
 * kept, on the application's LM).
 *
 * @example
 * ```ts
 * import { ModuleManager, ModuleHandlers, Router } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const modules = yield* ModuleManager.ModuleManager
 *     const router = yield* Router.make({
 *       id: "qa-versions",
 *       handlers: ModuleHandlers.versions(modules, "qa", [1, 2]),
 *       segment: (inputs: { readonly question: string }) => (inputs.question.length > 80 ? "long" : "short")
 *     })
 *     return yield* router.route({ question: "What is 2 + 2?" })
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import { type LM, Module } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import type * as ModuleManager from "../ModuleManager.js"

/**
 * One handler per module id (named by the id): it executes the module through the ModuleManager.
 *
 * @since 0.1.0
 * @category constructors
 */
export const modules = (
  manager: ModuleManager.Service,
  ids: ReadonlyArray<string>
): { readonly [id: string]: (inputs: unknown) => Effect.Effect<ModuleManager.Execution, ModuleManager.ExecuteError> } =>
  Object.fromEntries(ids.map((id) => [id, (inputs: unknown) => manager.execute(id, inputs)]))

/**
 * One handler per version of module `id` (named `v<version>`): it runs that version's program on the inputs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const versions = (
  manager: ModuleManager.Service,
  id: string,
  versions: ReadonlyArray<number>
): {
  readonly [name: string]: (inputs: unknown) => Effect.Effect<unknown, unknown, LM.LM>
} =>
  Object.fromEntries(
    versions.map((version) => [
      `v${version}`,
      (inputs: unknown) =>
        Effect.flatMap(manager.program(id, version), (program) =>
          Module.call(program as Module.Any, inputs as never)
        ) as Effect.Effect<unknown, unknown, LM.LM>
    ])
  )
