/**
 * A module's program from its spec, outside a ModuleManager: what a process that did not create the module (a
 * cluster runner resuming an optimization job) needs to rebuild it from the spec its release store keeps
 * (`ReleaseStore.ModuleRecord.spec`) before loading a stored version's state into it (`Module.loadState`).
 *
 * @example
 * ```ts
 * import { ModuleSpecs } from "@effect-dspy/services"
 *
 * const program = ModuleSpecs.programOf({ id: "qa", kind: "predict", signature: "question -> answer" })
 * ```
 *
 * @since 0.1.0
 */
import type { Module } from "@effect-dspy/core"
import type * as Either from "effect/Either"
import * as programs from "./internal/moduleManager/programs.js"
import type { AdapterName, ModuleSpec } from "./ModuleManager.js"
import type { ModuleSpecInvalid } from "./ServicesError.js"

/**
 * Builds the program of a spec (as `ModuleManager.create` does), or says what is wrong with it. Its predictors
 * format with the spec's `adapter`, else with `defaultAdapter` (default `"chat"`, Config
 * `modules.defaultAdapter`'s default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const programOf = (
  spec: ModuleSpec,
  defaultAdapter: AdapterName = "chat"
): Either.Either<Module.Program, ModuleSpecInvalid> => programs.programOfSpec(spec, defaultAdapter)
