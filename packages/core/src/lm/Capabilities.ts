/**
 * What a provider's model can do: its context window and largest answer, whether it takes structured outputs
 * (`json_schema`), JSON mode without a schema (`json_object`), tools and images, and how its tokens are counted.
 * The LM service reads them before each request to choose the JSON mode the model takes (`json_schema`, else
 * `json_object`, else prompt-only: the adapter's instructions ask for JSON either way) and to fail early, with a
 * typed error, a request that cannot fit (see {@link check}).
 *
 * Known models: OpenAI's from `gpt-tokenizer`'s model table (context window, output limit, features), Anthropic's
 * from {@link anthropicModels}. A model nothing is known about (a local server's, the simulated LM's) gets
 * {@link unknown}: every feature, no limits, so nothing changes for it. `providers.<name>.capabilities` in Config
 * overrides any field for every model of that provider.
 *
 * @example
 * ```ts
 * import { Capabilities } from "@effect-dspy/core"
 * import { Effect } from "effect"
 *
 * Effect.runPromise(Capabilities.forKind("openai", "gpt-4o-mini")).then((c) => console.log(c.contextWindow)) // 128000
 * const claude = Capabilities.anthropic("claude-haiku-4-5")
 * console.log(Capabilities.jsonMode(claude, { type: "json_object" })) // undefined: prompt-only
 * ```
 *
 * @since 0.1.0
 */
import type { ConfigSchema } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as Completion from "./Completion.js"
import * as LMError from "./LMError.js"
import * as Tokens from "./Tokens.js"

/**
 * A model's capabilities. An `undefined` limit is unknown and not checked.
 *
 * @since 0.1.0
 * @category models
 */
export interface Capabilities {
  /** Tokens of prompt and answer together. */
  readonly contextWindow: number | undefined
  /** The largest prompt, when the model has a limit of its own below the window. */
  readonly maxInputTokens: number | undefined
  /** The largest answer (`maxTokens`). */
  readonly maxOutputTokens: number | undefined
  /** Structured outputs: JSON that matches a schema. */
  readonly jsonSchema: boolean
  /** JSON mode without a schema. */
  readonly jsonObject: boolean
  /** Tool (function) calling. */
  readonly tools: boolean
  /** Image inputs. */
  readonly images: boolean
  /** Audio inputs. */
  readonly audio: boolean
  /** How the model's tokens are counted. */
  readonly tokenizer: Tokens.Tokenizer
}

/**
 * The capabilities of a model nothing is known about: every feature, no limits, approximate counts.
 *
 * @since 0.1.0
 * @category constants
 */
export const unknown: Capabilities = {
  contextWindow: undefined,
  maxInputTokens: undefined,
  maxOutputTokens: undefined,
  jsonSchema: true,
  jsonObject: true,
  tools: true,
  images: true,
  audio: true,
  tokenizer: "approximate"
}

// ---------------------------------------------------------------------------------------------------------
// Known models
// ---------------------------------------------------------------------------------------------------------

interface OpenAISpec {
  readonly context_window?: number
  readonly max_input_tokens?: number
  readonly max_output_tokens?: number
  readonly supported_features?: ReadonlyArray<string>
  readonly modalities?: { readonly input?: ReadonlyArray<string> }
}

let openaiTables:
  | Promise<{
      readonly specs: { readonly [model: string]: OpenAISpec | undefined }
      readonly encodings: { readonly [model: string]: string | undefined }
    }>
  | undefined

const loadOpenAITables = () => {
  if (openaiTables === undefined) {
    openaiTables = Promise.all([import("gpt-tokenizer/models"), import("gpt-tokenizer/mapping")]).then(
      ([models, mapping]) => ({
        specs: models as unknown as { readonly [model: string]: OpenAISpec | undefined },
        encodings: mapping.modelToEncodingMap as unknown as { readonly [model: string]: string | undefined }
      })
    )
  }
  return openaiTables
}

/** A dated snapshot (`gpt-4o-mini-2024-07-18`) reads as its model when the table lacks it. */
const undated = (model: string): string => model.replace(/-\d{4}-\d{2}-\d{2}$/, "")

/**
 * An OpenAI model's capabilities, from `gpt-tokenizer`'s model table (its context window, output limit and
 * features: `structured_outputs`, `function_calling`, `image_input`) and encoding; {@link unknown} for a model
 * the table does not know (a local server's).
 *
 * @since 0.1.0
 * @category lookups
 */
export const openai = (model: string): Effect.Effect<Capabilities> =>
  Effect.promise(loadOpenAITables).pipe(
    Effect.map(({ specs, encodings }) => {
      const name = specs[model] !== undefined ? model : undated(model)
      const spec = specs[name]
      if (spec === undefined) return unknown
      const features = new Set(spec.supported_features ?? [])
      const encoding = encodings[name]
      return {
        contextWindow: spec.context_window,
        maxInputTokens: spec.max_input_tokens,
        maxOutputTokens: spec.max_output_tokens,
        jsonSchema: features.has("structured_outputs"),
        // Every chat model with structured outputs or tools takes JSON mode; older ones (gpt-3.5) do too.
        jsonObject: true,
        tools: features.has("function_calling"),
        images: features.has("image_input") || (spec.modalities?.input ?? []).includes("image"),
        audio: (spec.modalities?.input ?? []).includes("audio"),
        tokenizer: encoding === "cl100k_base" ? "cl100k_base" : "o200k_base"
      }
    })
  )

/**
 * Anthropic's models by name prefix (the longest prefix a model name starts with wins; `claude-` covers the
 * rest). Windows are given where published: 200,000 tokens of context for the 4.x models; answers of 64,000
 * (32,000 for Opus 4 and 4.1). Structured outputs (`output_config.format`) from the 4.1 / 4.5 generation on.
 * Anthropic has no JSON mode without a schema, and no public tokenizer (counts are approximate).
 *
 * @since 0.1.0
 * @category constants
 */
export const anthropicModels: { readonly [prefix: string]: Partial<Capabilities> } = {
  "claude-": { jsonSchema: false },
  "claude-opus-4": { contextWindow: 200_000, maxOutputTokens: 32_000, jsonSchema: false },
  "claude-sonnet-4": { contextWindow: 200_000, maxOutputTokens: 64_000, jsonSchema: false },
  "claude-opus-4-1": { contextWindow: 200_000, maxOutputTokens: 32_000, jsonSchema: true },
  "claude-opus-4-5": { contextWindow: 200_000, maxOutputTokens: 64_000, jsonSchema: true },
  "claude-sonnet-4-5": { contextWindow: 200_000, maxOutputTokens: 64_000, jsonSchema: true },
  "claude-haiku-4-5": { contextWindow: 200_000, maxOutputTokens: 64_000, jsonSchema: true },
  "claude-opus-4-6": { jsonSchema: true, contextWindow: undefined, maxOutputTokens: undefined },
  "claude-sonnet-4-6": { jsonSchema: true, contextWindow: undefined, maxOutputTokens: undefined },
  "claude-opus-4-7": { jsonSchema: true, contextWindow: undefined, maxOutputTokens: undefined },
  "claude-opus-4-8": { jsonSchema: true, contextWindow: undefined, maxOutputTokens: undefined },
  "claude-opus-5": { jsonSchema: true },
  "claude-sonnet-5": { jsonSchema: true },
  "claude-haiku-5": { jsonSchema: true },
  "claude-fable-5": { jsonSchema: true },
  "claude-mythos-5": { jsonSchema: true }
}

/**
 * An Anthropic model's capabilities (see {@link anthropicModels}).
 *
 * @since 0.1.0
 * @category lookups
 */
export const anthropic = (model: string): Capabilities => {
  let best: string | undefined
  for (const prefix of Object.keys(anthropicModels)) {
    if (model.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix
  }
  const base: Capabilities = { ...unknown, jsonObject: false, jsonSchema: false, audio: false }
  return best === undefined ? base : { ...base, ...anthropicModels[best] }
}

/**
 * The capabilities of a model of a provider kind: `openai` and `anthropic` from their tables, any other kind
 * {@link unknown}.
 *
 * @since 0.1.0
 * @category lookups
 */
export const forKind = (kind: string, model: string): Effect.Effect<Capabilities> =>
  kind === "openai" ? openai(model) : kind === "anthropic" ? Effect.succeed(anthropic(model)) : Effect.succeed(unknown)

/**
 * Capabilities with a provider's configured overrides (`providers.<name>.capabilities`) over them.
 *
 * @since 0.1.0
 * @category combinators
 */
export const override = (self: Capabilities, settings: ConfigSchema.CapabilitySettings | undefined): Capabilities => {
  if (settings === undefined) return self
  const out: { -readonly [K in keyof Capabilities]: Capabilities[K] } = { ...self }
  for (const key of Object.keys(settings) as Array<keyof ConfigSchema.CapabilitySettings>) {
    const value = settings[key]
    if (value !== undefined) (out as Record<string, unknown>)[key] = value
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Using them
// ---------------------------------------------------------------------------------------------------------

/**
 * The JSON mode a model takes for a requested format: `json_schema` when it has structured outputs, else
 * `json_object` when it has JSON mode, else none (prompt-only: the adapter's own instructions ask for JSON).
 * `text` and no format pass through.
 *
 * @since 0.1.0
 * @category json mode
 */
export const jsonMode = (
  self: Capabilities,
  format: Completion.ResponseFormat | undefined
): Completion.ResponseFormat | undefined => {
  if (format === undefined || format.type === "text") return format
  if (format.type === "json_schema" && self.jsonSchema) return format
  return self.jsonObject ? (format.type === "json_object" ? format : { type: "json_object" }) : undefined
}

/**
 * The request as the model takes it: its `responseFormat` chosen by {@link jsonMode} (the same object when
 * nothing changes).
 *
 * @since 0.1.0
 * @category json mode
 */
export const adapt = (self: Capabilities, request: Completion.CompletionRequest): Completion.CompletionRequest => {
  const format = request.responseFormat
  if (format === undefined) return request
  const chosen = jsonMode(self, format)
  if (chosen === format) return request
  if (chosen === undefined) {
    const { responseFormat: _dropped, ...rest } = request
    return rest
  }
  return { ...request, responseFormat: chosen }
}

/**
 * The first input capability a request needs that the model lacks (`images`, `audio`), if any.
 *
 * @since 0.1.0
 * @category checks
 */
export const missingCapability = (
  self: Capabilities,
  request: Completion.CompletionRequest
): "images" | "audio" | undefined => {
  if (self.images && self.audio) return undefined
  for (const p of Completion.mediaParts(request.messages)) {
    if (p.type === "image_url" && !self.images) return "images"
    if (p.type === "input_audio" && !self.audio) return "audio"
  }
  return undefined
}

/**
 * Fails a request the model cannot take, before it is sent: `maxTokens` over the model's largest answer or
 * tools offered to a model without them (`LMBadRequest`), images or audio given to a model that does not take
 * them (`LMCapabilityError`), a prompt over the window less the requested answer
 * or over the model's input limit (`LMContextWindowExceeded` with the counts). Prompts are counted only when a
 * limit is known and the request is not clearly under it (see {@link Tokens.upperBound}).
 *
 * @since 0.1.0
 * @category checks
 */
export const check = (
  self: Capabilities,
  provider: string,
  request: Completion.CompletionRequest
): Effect.Effect<void, LMError.LMBadRequest | LMError.LMContextWindowExceeded | LMError.LMCapabilityError> => {
  const model = request.model
  const missing = missingCapability(self, request)
  if (missing !== undefined) {
    return Effect.fail(
      new LMError.LMCapabilityError({
        provider,
        model,
        capability: missing,
        message: `${model} (provider ${provider}) does not take ${missing === "images" ? "image" : "audio"} inputs: use a model that does, or set providers.${provider}.capabilities.${missing} if it has them`
      })
    )
  }
  if (
    self.maxOutputTokens !== undefined &&
    request.maxTokens !== undefined &&
    request.maxTokens > self.maxOutputTokens
  ) {
    return Effect.fail(
      new LMError.LMBadRequest({
        provider,
        model,
        message: `request.maxTokens is ${request.maxTokens} but ${model} answers at most ${self.maxOutputTokens} tokens: lower maxTokens (or set providers.${provider}.capabilities.maxOutputTokens if the model allows more)`
      })
    )
  }
  if (!self.tools && request.tools !== undefined && request.tools.length > 0) {
    return Effect.fail(
      new LMError.LMBadRequest({
        provider,
        model,
        message: `${model} does not take tools: use a model with tool calling, or set providers.${provider}.capabilities.tools if it has them`
      })
    )
  }
  const window = self.contextWindow === undefined ? undefined : self.contextWindow - (request.maxTokens ?? 0)
  const limit =
    window === undefined
      ? self.maxInputTokens
      : self.maxInputTokens === undefined
        ? window
        : Math.min(window, self.maxInputTokens)
  if (limit === undefined) return Effect.void
  const bound = self.tokenizer === "approximate" ? Tokens.approximate(request) : Tokens.upperBound(request)
  if (bound <= limit) return Effect.void
  return Effect.flatMap(
    self.tokenizer === "approximate" ? Effect.succeed(bound) : Tokens.count(request, self.tokenizer),
    (promptTokens) =>
      promptTokens <= limit
        ? Effect.void
        : Effect.fail(
            new LMError.LMContextWindowExceeded({
              provider,
              model,
              promptTokens,
              limitTokens: limit,
              message: `the prompt has ${promptTokens} tokens${self.tokenizer === "approximate" ? " (approximately)" : ""} but ${model} takes at most ${limit}${request.maxTokens === undefined ? "" : ` with maxTokens ${request.maxTokens} reserved for the answer`}: shorten the messages, use fewer demos or a model with a larger window`
            })
          )
  )
}
