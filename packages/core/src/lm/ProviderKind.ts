/**
 * Provider kinds: how a `providers.<name>` config entry of a given `kind` becomes a {@link Provider.Provider}.
 * The LM layer learns the kinds from the layers given to it: core always knows `openai` (any OpenAI-compatible
 * server through the official SDK) and `anthropic` (Claude through the Messages API); other packages add theirs (`@effect-dspy/sim` adds `simulated` with
 * `SimLM.layerKind`). A kind given in the context replaces the built-in one of the same name.
 *
 * ```ts
 * const lm = LM.layer.pipe(Layer.provide(SimLM.layerKind), Layer.provide(Config.layer()))
 * ```
 *
 * @since 0.1.0
 */
import type { ConfigSchema } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { LMConfigError } from "./LM.js"
import type * as Provider from "./Provider.js"

/**
 * Values of the provider's settings that may change while the system runs, read at each call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Live {
  /** The request timeout (`providers.<name>.timeoutMs`), re-read at each call. */
  readonly timeoutMs?: Effect.Effect<number>
  /** The response size limit (`providers.<name>.maxResponseBytes`), re-read at each call. */
  readonly maxResponseBytes?: Effect.Effect<number>
  /** The total deadline of a streamed answer (`providers.<name>.streamDeadlineMs`), re-read at each call. */
  readonly streamDeadlineMs?: Effect.Effect<number>
}

/**
 * Builds the provider of one `providers.<name>` entry. It fails with an `LMConfigError` saying what to fix
 * when the settings cannot be used.
 *
 * @since 0.1.0
 * @category models
 */
export type Factory = (
  name: string,
  settings: ConfigSchema.ProviderSettings,
  live?: Live
) => Effect.Effect<Provider.Provider, LMConfigError, Scope.Scope>

/**
 * The provider kinds known in a context, by kind name.
 *
 * @since 0.1.0
 * @category tags
 */
export class ProviderKinds extends Context.Tag("@effect-dspy/core/ProviderKinds")<
  ProviderKinds,
  ReadonlyMap<string, Factory>
>() {}

/**
 * A layer that adds one kind to the kinds already in its context (a later kind of the same name wins), so
 * several packages can each add theirs: `Layer.provideMerge(kindA, kindB)`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (kind: string, factory: Factory): Layer.Layer<ProviderKinds> =>
  Layer.effect(
    ProviderKinds,
    Effect.map(Effect.serviceOption(ProviderKinds), (existing) => {
      const kinds = new Map(Option.getOrElse(existing, () => new Map<string, Factory>()))
      kinds.set(kind, factory)
      return kinds as ReadonlyMap<string, Factory>
    })
  )
