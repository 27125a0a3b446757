/**
 * A provider: the raw transport to one LM backend (an OpenAI-compatible server, Anthropic's Messages API, the
 * simulated LM).
 * The `LM` service puts caching, retries, history, usage tracking and telemetry in front of a provider.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Capabilities from "./Capabilities.js"
import type * as Completion from "./Completion.js"
import type * as LMError from "./LMError.js"

/**
 * The provider contract.
 *
 * @since 0.1.0
 * @category models
 */
export interface Provider {
  /** A short name for telemetry and errors (`"openai"`, `"anthropic"`, `"simulated"`). */
  readonly name: string
  /**
   * What a model of this provider can do (see {@link Capabilities.Capabilities}); the LM service reads it to
   * choose the JSON mode and to fail early a request that cannot fit. Without it nothing is assumed
   * ({@link Capabilities.unknown}).
   */
  readonly capabilities?: (model: string) => Effect.Effect<Capabilities.Capabilities>
  /** One chat completion with `n` choices. Interruption aborts the underlying request. */
  readonly complete: (
    request: Completion.CompletionRequest
  ) => Effect.Effect<Completion.CompletionResponse, LMError.LMError>
  /** A streamed chat completion (choice deltas as they arrive, usage on the last chunk). */
  readonly stream: (request: Completion.CompletionRequest) => Stream.Stream<Completion.CompletionChunk, LMError.LMError>
  /** Embeddings of the inputs, one vector each, in order. */
  readonly embed: (
    inputs: ReadonlyArray<string>,
    model?: string
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LMError.LMError>
}
