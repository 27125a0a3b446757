/**
 * The Anthropic provider, on the official `@anthropic-ai/sdk`: Claude through the Messages API (or any server
 * that speaks it, through `baseURL`). System messages become the `system` prompt; tool calls and results become
 * `tool_use` / `tool_result` blocks; a `json_schema` response format becomes `output_config.format` when the
 * model takes structured outputs (the LM service chooses, see `Capabilities`); `n` choices are `n` requests made
 * together (the API answers one at a time). The API takes no sampling temperature, so none is sent; nor is
 * `rolloutId`. Answers without `maxTokens` may use {@link Options.defaultMaxTokens}.
 *
 * As with the OpenAI provider: the API key is `Redacted` and only unwrapped to build the client; the SDK's own
 * retries are off (the LM service retries, in Effect) and so are its spans (the LM service records its own);
 * every call passes an `AbortSignal`, so interrupting the Effect aborts the HTTP request; the SDK runs on the
 * tuned transport (`internal/transport.ts`) unless a `fetch` is given. Failures map onto the `LMError` family:
 * 429 `LMRateLimited` (with Retry-After), 401/403 `LMAuthError`, 529 (overloaded) and 5xx `LMServerError`, a
 * prompt that is too long `LMContextWindowExceeded`, a timeout `LMTimeout`, an answer that is not a message
 * `LMMalformedResponse`, a body past `maxResponseBytes` `LMResponseTooLarge`.
 *
 * @example
 * ```ts
 * import { AnthropicProvider, LM } from "@effect-dspy/core"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const claude = Layer.unwrapScoped(
 *   Effect.map(AnthropicProvider.make({ apiKey: Redacted.make("sk-ant-...") }), (provider) =>
 *     LM.layerProvider(provider, { model: "claude-haiku-4-5" })
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
import type Anthropic from "@anthropic-ai/sdk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Capabilities from "./Capabilities.js"
import * as Completion from "./Completion.js"
import * as Media from "../media/Media.js"
import * as EventStream from "./internal/eventStream.js"
import * as Wire from "./internal/anthropicWire.js"
import { BodyReadFailed, readText, ResponseTooLarge } from "./internal/body.js"
import { Decoder } from "./internal/sse.js"
import { make as makeTransport } from "./internal/transport.js"
import * as LMError from "./LMError.js"
import { parseRetryAfter } from "./OpenAIProvider.js"
import * as Pricing from "./Pricing.js"
import type * as Provider from "./Provider.js"

/**
 * The SDK's module, loaded by the first {@link make} (importing the package does not load it). Errors of the SDK's
 * classes can only exist once it is loaded, so {@link toLMError} reads its classes from here.
 */
let sdk: typeof Anthropic | undefined

/** Loads the SDK once. */
const loadSdk: Effect.Effect<typeof Anthropic> = Effect.suspend(() =>
  sdk !== undefined
    ? Effect.succeed(sdk)
    : Effect.map(
        Effect.promise(() => import("@anthropic-ai/sdk")),
        (m) => {
          sdk = m.default
          return m.default
        }
      )
)

/**
 * Settings of the Anthropic provider.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The provider name in telemetry and errors; default `"anthropic"`. */
  readonly name?: string
  /** The API's base URL; default Anthropic's (`https://api.anthropic.com`). */
  readonly baseURL?: string
  /** The API key; a local server accepts any (a placeholder is sent when none is given). */
  readonly apiKey?: Redacted.Redacted<string>
  /**
   * Per-request timeout in milliseconds (fails with `LMTimeout`); default 30,000. An effect is read at each
   * call (how `LM.layer` follows run-time updates of `providers.*.timeoutMs`).
   */
  readonly timeoutMs?: number | Effect.Effect<number>
  /** Keep-alive connections of the tuned transport; default 128. */
  readonly connections?: number
  /** Prices for cost (default {@link Pricing.defaultPrices}). */
  readonly prices?: Pricing.PriceTable
  /** A fetch to use instead of the tuned transport. */
  readonly fetch?: typeof globalThis.fetch
  /** The largest response body read, in bytes; default 8 MiB (`LMResponseTooLarge` past it). */
  readonly maxResponseBytes?: number | Effect.Effect<number>
  /** The longest a streamed answer may take, in milliseconds; default 5 minutes (`LMTimeout` past it). */
  readonly streamDeadlineMs?: number | Effect.Effect<number>
  /**
   * `max_tokens` of a request that names none (the API requires one); default 4,096, or the model's largest
   * answer when smaller.
   */
  readonly defaultMaxTokens?: number
}

type Params = Anthropic.MessageCreateParamsNonStreaming
type MessageParam = Anthropic.MessageParam
type BlockParam = Anthropic.ContentBlockParam

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

const imageTypes = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"])

/** The blocks of a message's content: text blocks and image blocks (base64 sources); audio has no block. */
const contentBlocks = (content: Completion.Content): Either.Either<Array<BlockParam>, string> => {
  if (typeof content === "string") return Either.right(content === "" ? [] : [{ type: "text", text: content }])
  const blocks: Array<BlockParam> = []
  for (const p of content) {
    if (p.type === "text") {
      if (p.text !== "") blocks.push({ type: "text", text: p.text })
    } else if (p.type === "image_url") {
      const data = Media.parseDataUri(p.image_url.url)
      if (data === undefined || !imageTypes.has(data.mimeType)) {
        return Either.left(
          "an image part is not a base64 data URI of a PNG, JPEG, GIF or WebP image: make images with Media.image"
        )
      }
      blocks.push({
        type: "image",
        source: {
          type: "base64",
          media_type: data.mimeType as "image/png" | "image/jpeg" | "image/gif" | "image/webp",
          data: data.base64
        }
      })
    } else {
      return Either.left("Anthropic's Messages API takes no audio input: use a provider whose model takes audio")
    }
  }
  return Either.right(blocks)
}

/** The blocks of one message (a message of text only is its string). */
const blocksOf = (m: Completion.Message): Either.Either<Array<BlockParam>, string> => {
  if (m.role === "tool") {
    return Either.right([
      { type: "tool_result", tool_use_id: m.toolCallId ?? "", content: Completion.textOf(m.content) }
    ])
  }
  const content = contentBlocks(m.content)
  if (Either.isLeft(content)) return content
  const blocks: Array<BlockParam> = content.right
  for (const call of m.toolCalls ?? []) {
    let input: unknown
    try {
      input = JSON.parse(call.arguments === "" ? "{}" : call.arguments)
    } catch {
      return Either.left(
        `the arguments of tool call ${call.id} (${call.name}) are not JSON: ${call.arguments.slice(0, 80)}`
      )
    }
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      return Either.left(`the arguments of tool call ${call.id} (${call.name}) are not a JSON object`)
    }
    blocks.push({ type: "tool_use", id: call.id, name: call.name, input: input as Record<string, unknown> })
  }
  return Either.right(blocks)
}

/**
 * The Messages API body of a request (without `stream`): system messages joined into `system`, the others as
 * alternating turns (tool results are user turns; consecutive turns of one role are merged), tools, stop
 * sequences, `max_tokens` (`maxTokens`, else the given default) and, for a `json_schema` format,
 * `output_config.format`. A `json_object` format has no equivalent and is left to the prompt. `temperature`,
 * `n` and `rolloutId` are not sent. A tool call whose arguments are not a JSON object is refused.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toParams = (
  request: Completion.CompletionRequest,
  defaultMaxTokens = 4096
): Either.Either<Params, string> => {
  const system: Array<string> = []
  const messages: Array<{ role: "user" | "assistant"; blocks: Array<BlockParam> }> = []
  for (const m of request.messages) {
    if (m.role === "system") {
      system.push(Completion.textOf(m.content))
      continue
    }
    const blocks = blocksOf(m)
    if (Either.isLeft(blocks)) return Either.left(blocks.left)
    const role = m.role === "assistant" ? "assistant" : "user"
    const last = messages[messages.length - 1]
    if (last !== undefined && last.role === role) last.blocks.push(...blocks.right)
    else messages.push({ role, blocks: [...blocks.right] })
  }
  const params: { -readonly [K in keyof Params]: Params[K] } = {
    model: request.model,
    max_tokens: request.maxTokens ?? defaultMaxTokens,
    messages: messages.map(
      ({ role, blocks }): MessageParam =>
        blocks.length === 1 && blocks[0]!.type === "text"
          ? { role, content: (blocks[0] as Anthropic.TextBlockParam).text }
          : { role, content: blocks }
    )
  }
  if (system.length > 0) params.system = system.join("\n\n")
  if (request.stop !== undefined && request.stop.length > 0) params.stop_sequences = [...request.stop]
  if (request.tools !== undefined && request.tools.length > 0) {
    params.tools = request.tools.map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: t.parameters as Anthropic.Tool.InputSchema
    }))
  }
  if (request.responseFormat?.type === "json_schema") {
    params.output_config = {
      format: { type: "json_schema", schema: request.responseFormat.schema as Record<string, unknown> }
    }
  }
  return Either.right(params)
}

// ---------------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------------

/**
 * The finish reason of a stop reason: `max_tokens` and `model_context_window_exceeded` are `length`,
 * `tool_use` is `tool_calls`, `refusal` is `content_filter`, anything else `stop`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const finishReason = (reason: string | null | undefined): Completion.FinishReason => {
  switch (reason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool_calls"
    case "refusal":
      return "content_filter"
    default:
      return "stop"
  }
}

/** Usage with the prompt's cached tokens counted as prompt tokens. */
const toUsage = (usage: Wire.Usage | null | undefined): Completion.Usage => {
  const prompt =
    (usage?.input_tokens ?? 0) + (usage?.cache_creation_input_tokens ?? 0) + (usage?.cache_read_input_tokens ?? 0)
  const completion = usage?.output_tokens ?? 0
  return { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion }
}

/**
 * The choice of a message: its text blocks joined, its `tool_use` blocks as tool calls (arguments as JSON text);
 * thinking and other blocks are left out.
 *
 * @since 0.1.0
 * @category decoding
 */
export const toChoice = (message: Wire.Message, index: number): Completion.Choice => {
  let content = ""
  const toolCalls: Array<Completion.ToolCall> = []
  for (const block of message.content) {
    if (block.type === "text") content += block.text ?? ""
    else if (block.type === "tool_use") {
      toolCalls.push({ id: block.id ?? "", name: block.name ?? "", arguments: JSON.stringify(block.input ?? {}) })
    }
  }
  return {
    index,
    content,
    finishReason: finishReason(message.stop_reason),
    ...(toolCalls.length === 0 ? {} : { toolCalls })
  }
}

/**
 * The completion response of `n` messages (one per choice), usage summed, with its cost from the price table.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromMessages = (
  messages: ReadonlyArray<Wire.Message>,
  request: Completion.CompletionRequest,
  prices: Pricing.PriceTable = Pricing.defaultPrices
): Completion.CompletionResponse => {
  let usage: Completion.Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
  for (const m of messages) usage = sum(usage, toUsage(m.usage))
  const model = messages[0]?.model || request.model
  return {
    id: messages[0]?.id ?? "",
    model,
    choices: messages.map(toChoice),
    usage,
    costUsd: Pricing.cost(model, usage, prices),
    cacheHit: false
  }
}

const sum = (a: Completion.Usage, b: Completion.Usage): Completion.Usage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  totalTokens: a.totalTokens + b.totalTokens
})

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

const tooLongPattern = /prompt is too long|context window|context[ _-]?length|too many tokens/i

const scrubber = (secret: string | undefined) => (text: string) =>
  secret !== undefined && secret.length > 0 ? text.split(secret).join("<redacted>") : text

/**
 * Maps an SDK failure onto the LM error family. The API key, when it appears in a server message, is replaced by
 * `<redacted>`.
 *
 * @since 0.1.0
 * @category errors
 */
export const toLMError = (
  error: unknown,
  context: {
    readonly provider: string
    readonly model: string
    readonly timeoutMs: number
    readonly now: number
    readonly secret?: string
  }
): LMError.LMError => {
  const scrub = scrubber(context.secret)
  const base = { provider: context.provider, model: context.model }
  const Sdk = sdk
  const signal =
    Sdk !== undefined && error instanceof Sdk.APIConnectionError && error.cause !== undefined ? error.cause : error
  if (signal instanceof ResponseTooLarge) return tooLarge(base, context.provider, signal.limitBytes)
  if (signal instanceof BodyReadFailed) {
    return new LMError.LMServerError({ ...base, message: `${context.provider}: ${scrub(signal.message)}` })
  }
  if (Sdk !== undefined && error instanceof Sdk.APIConnectionTimeoutError) {
    return new LMError.LMTimeout({
      ...base,
      timeoutMs: context.timeoutMs,
      message: `${context.provider} did not answer within ${context.timeoutMs} ms: raise the provider's timeoutMs or retry later`
    })
  }
  if (Sdk !== undefined && error instanceof Sdk.APIError && error.status !== undefined) {
    const status = error.status
    const detail = scrub(error.apiMessage ?? error.message)
    const type = error.type ?? undefined
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(error.headers, context.now)
      return new LMError.LMRateLimited({
        ...base,
        message: `${context.provider} rate limited the call (429): ${detail}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs })
      })
    }
    if (status === 401 || status === 403) {
      return new LMError.LMAuthError({
        ...base,
        message: `${context.provider} refused the credentials (${status}): check the API key (ANTHROPIC_API_KEY). ${detail}`
      })
    }
    if (status === 408 || status === 504) {
      return new LMError.LMTimeout({
        ...base,
        timeoutMs: context.timeoutMs,
        message: `${context.provider} timed out the request (${status}): ${detail}`
      })
    }
    if (status === 529 || type === "overloaded_error") {
      return new LMError.LMServerError({
        ...base,
        status,
        message: `${context.provider} is overloaded (${status}): retry later. ${detail}`
      })
    }
    if ((status === 400 || status === 413) && tooLongPattern.test(error.message)) {
      return new LMError.LMContextWindowExceeded({
        ...base,
        message: `the prompt does not fit ${context.model}'s context window: shorten the messages or use fewer demos. ${detail}`
      })
    }
    if (status >= 500) {
      return new LMError.LMServerError({
        ...base,
        status,
        message: `${context.provider} failed (${status}): ${detail}`
      })
    }
    return new LMError.LMBadRequest({
      ...base,
      status,
      message: `${context.provider} rejected the request (${status}${type === undefined ? "" : `, ${type}`}): ${detail}`
    })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new LMError.LMServerError({
    ...base,
    message: `could not reach ${context.provider}: ${scrub(message)}; check the base URL and that the server is up`
  })
}

const tooLarge = (base: { provider: string; model: string }, provider: string, limitBytes: number) =>
  new LMError.LMResponseTooLarge({
    ...base,
    limitBytes,
    message: `${provider}'s response passed maxResponseBytes (${limitBytes} bytes) and was dropped unread: raise providers.${provider}.maxResponseBytes or ask for less (maxTokens, fewer choices)`
  })

/**
 * Reads a 200 body as a message: JSON whatever the content type says, checked against the expected shape;
 * anything else is an `LMMalformedResponse` naming the content type and what was wrong.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseMessageBody = (
  text: string,
  context: {
    readonly provider: string
    readonly model: string
    readonly status?: number
    readonly contentType?: string | null
    readonly secret?: string
  }
): Either.Either<Wire.Message, LMError.LMMalformedResponse> => {
  const scrub = scrubber(context.secret)
  const type = context.contentType ?? undefined
  const typeText = type === undefined || type === "" ? "no content type" : type.split(";")[0]!.trim()
  const malformed = (problem: string) =>
    new LMError.LMMalformedResponse({
      provider: context.provider,
      model: context.model,
      ...(context.status === undefined ? {} : { status: context.status }),
      ...(type === undefined || type === "" ? {} : { contentType: type }),
      problem,
      message: `${context.provider} answered ${context.status ?? 200} (${typeText}) with ${problem}: check that the base URL points at the Anthropic Messages API (the LM retries; the provider's breaker counts it)`
    })
  if (text.trim() === "") return Either.left(malformed("an empty body"))
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (e) {
    const excerpt = scrub(text.slice(0, 160)).replace(/\s+/g, " ").trim()
    return Either.left(
      malformed(
        `a body that is not valid JSON (${e instanceof Error ? e.message : String(e)}): ${excerpt}${text.length > 160 ? "..." : ""}`
      )
    )
  }
  return Either.mapLeft(Wire.message(body), (problem) => malformed(scrub(problem)))
}

// ---------------------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------------------

type Batch = EventStream.Batch

/**
 * Turns the bytes of a Messages API event stream into completion chunks for choice `index`: counts them against
 * the limit, decodes events, checks each against its shape, assembles tool calls from their JSON deltas, maps
 * an `error` event onto the LM family, and ends at `message_stop` (a stream that ends before it was cut short).
 */
class EventReader {
  private readonly decoder = new TextDecoder()
  private readonly sse = new Decoder()
  private readonly tools = new Map<number, Completion.ToolCall & { arguments: string }>()
  private bytes = 0
  private finished = false
  private usage: Completion.Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
  private stop: string | null | undefined
  constructor(
    readonly provider: string,
    readonly model: string,
    readonly index: number,
    readonly limit: number,
    readonly secret: string | undefined
  ) {}

  push(bytes: Uint8Array): Effect.Effect<Batch, LMError.LMError> {
    this.bytes += bytes.byteLength
    if (this.bytes > this.limit) {
      return Effect.fail(tooLarge({ provider: this.provider, model: this.model }, this.provider, this.limit))
    }
    return this.events(this.sse.push(this.decoder.decode(bytes, { stream: true })))
  }

  end(): Effect.Effect<Batch, LMError.LMError> {
    if (this.finished) return Effect.succeed({ chunks: [], done: true })
    return Effect.flatMap(this.events(this.sse.push(this.decoder.decode()).concat(this.sse.end())), (batch) =>
      batch.done
        ? Effect.succeed(batch)
        : Effect.fail(
            new LMError.LMServerError({
              provider: this.provider,
              model: this.model,
              message: `${this.provider}'s stream ended before \`message_stop\`: the answer was cut short (the LM retries calls, not streams)`
            })
          )
    )
  }

  private malformed(problem: string): LMError.LMMalformedResponse {
    const scrubbed = scrubber(this.secret)(problem)
    return new LMError.LMMalformedResponse({
      provider: this.provider,
      model: this.model,
      status: 200,
      contentType: "text/event-stream",
      problem: scrubbed,
      message: `${this.provider}'s stream was malformed: ${scrubbed} (the provider's breaker counts it)`
    })
  }

  private events(events: ReadonlyArray<{ readonly data: string; readonly event: string | undefined }>) {
    const out: Array<Completion.CompletionChunk> = []
    for (const e of events) {
      if (this.finished) break
      let body: unknown
      try {
        body = JSON.parse(e.data)
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error)
        return Effect.fail(this.malformed(`an event that is not valid JSON (${detail}): ${e.data.slice(0, 120)}`))
      }
      const error =
        e.event === "error" || (body as { type?: unknown } | null)?.type === "error" ? Wire.errorOf(body) : undefined
      if (error !== undefined) return Effect.fail(this.streamError(error))
      const parsed = Wire.event(body)
      if (Either.isLeft(parsed)) return Effect.fail(this.malformed(parsed.left))
      const ev = parsed.right
      if (ev === undefined) continue
      switch (ev.type) {
        case "message_start":
          this.usage = toUsage(ev.message.usage)
          break
        case "content_block_start":
          if (ev.content_block.type === "tool_use") {
            this.tools.set(ev.index, {
              id: ev.content_block.id ?? "",
              name: ev.content_block.name ?? "",
              arguments: ""
            })
          } else if (ev.content_block.type === "text" && (ev.content_block.text ?? "") !== "") {
            out.push({ index: this.index, delta: ev.content_block.text! })
          }
          break
        case "content_block_delta":
          if (ev.delta.type === "text_delta" && ev.delta.text !== undefined && ev.delta.text !== "") {
            out.push({ index: this.index, delta: ev.delta.text })
          } else if (ev.delta.type === "input_json_delta") {
            const call = this.tools.get(ev.index)
            if (call !== undefined) call.arguments += ev.delta.partial_json ?? ""
          }
          break
        case "message_delta":
          if (ev.delta?.stop_reason != null) this.stop = ev.delta.stop_reason
          if (ev.usage != null) {
            // `output_tokens` here is the running total; input counts, when repeated, replace the start's.
            const input = ev.usage.input_tokens == null ? undefined : toUsage({ ...ev.usage, output_tokens: 0 })
            const prompt = input?.promptTokens ?? this.usage.promptTokens
            const completion = ev.usage.output_tokens ?? this.usage.completionTokens
            this.usage = { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion }
          }
          break
        case "message_stop": {
          this.finished = true
          const calls = [...this.tools.values()].map((c) => ({
            ...c,
            arguments: c.arguments === "" ? "{}" : c.arguments
          }))
          out.push({
            index: this.index,
            delta: "",
            finishReason: finishReason(this.stop),
            ...(calls.length === 0 ? {} : { toolCalls: calls }),
            usage: this.usage
          })
          break
        }
      }
    }
    return Effect.succeed({ chunks: out, done: this.finished })
  }

  private streamError(error: { readonly type: string; readonly message: string }): LMError.LMError {
    const base = { provider: this.provider, model: this.model }
    const detail = scrubber(this.secret)(error.message)
    switch (error.type) {
      case "overloaded_error":
        return new LMError.LMServerError({ ...base, status: 529, message: `${this.provider} is overloaded: ${detail}` })
      case "rate_limit_error":
        return new LMError.LMRateLimited({ ...base, message: `${this.provider} rate limited the stream: ${detail}` })
      case "api_error":
        return new LMError.LMServerError({
          ...base,
          status: 500,
          message: `${this.provider} failed mid-stream: ${detail}`
        })
      default:
        return this.malformed(`the stream carried an error: ${error.type}: ${detail.slice(0, 300)}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------------------

/**
 * Builds the provider. Its transport (a keep-alive connection pool) is closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Provider.Provider, never, Scope.Scope> =>
  Effect.gen(function* () {
    const name = options.name ?? "anthropic"
    const fixedTimeoutMs = Effect.isEffect(options.timeoutMs) ? undefined : (options.timeoutMs ?? 30_000)
    const currentTimeout: Effect.Effect<number> =
      fixedTimeoutMs !== undefined ? Effect.succeed(fixedTimeoutMs) : (options.timeoutMs as Effect.Effect<number>)
    const setting = (value: number | Effect.Effect<number> | undefined, fallback: number): Effect.Effect<number> =>
      value === undefined ? Effect.succeed(fallback) : Effect.isEffect(value) ? value : Effect.succeed(value)
    const maxResponseBytes = setting(options.maxResponseBytes, 8 * 1024 * 1024)
    const streamDeadlineMs = setting(options.streamDeadlineMs, 300_000)
    const prices = options.prices ?? Pricing.defaultPrices
    const transport =
      options.fetch === undefined
        ? yield* Effect.acquireRelease(
            Effect.sync(() => makeTransport({ connections: options.connections ?? 128 })),
            (t) => Effect.promise(() => t.close())
          )
        : undefined
    const secret = options.apiKey === undefined ? undefined : Redacted.value(options.apiKey)
    const AnthropicSdk = yield* loadSdk
    const client = new AnthropicSdk({
      apiKey: secret ?? "no-key",
      baseURL: options.baseURL ?? "https://api.anthropic.com",
      maxRetries: 0,
      timeout: fixedTimeoutMs ?? 30_000,
      openTelemetry: false,
      fetch: options.fetch ?? transport!.fetch
    })
    const capabilities = (model: string) => Effect.succeed(Capabilities.anthropic(model))
    const maxTokensFor = (model: string) => {
      const most = Capabilities.anthropic(model).maxOutputTokens
      const wanted = options.defaultMaxTokens ?? 4096
      return most === undefined ? wanted : Math.min(wanted, most)
    }
    const base = (model: string) => ({ provider: name, model })
    const fail = (model: string, timeoutMs: number) => (error: unknown) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(
          toLMError(error, { provider: name, model, timeoutMs, now, ...(secret === undefined ? {} : { secret }) })
        )
      )
    const readFailure = (model: string) => (error: unknown) =>
      error instanceof ResponseTooLarge
        ? tooLarge(base(model), name, error.limitBytes)
        : new LMError.LMServerError({
            ...base(model),
            message: `${name}: ${error instanceof BodyReadFailed ? error.message : `the response could not be read: ${String(error)}`}`
          })
    const fetchOptions = (limit: number) =>
      ({ maxResponseBytes: limit }) as unknown as NonNullable<Anthropic.RequestOptions["fetchOptions"]>
    const paramsOf = (
      request: Completion.CompletionRequest
    ): Effect.Effect<Params, LMError.LMBadRequest | LMError.LMCapabilityError> => {
      if (Completion.mediaParts(request.messages).some((p) => p.type === "input_audio")) {
        return Effect.fail(
          new LMError.LMCapabilityError({
            ...base(request.model),
            capability: "audio",
            message: `${name}: Anthropic's Messages API takes no audio input: send audio through a provider whose model takes it (an OpenAI audio model)`
          })
        )
      }
      const params = toParams(request, maxTokensFor(request.model))
      return Either.isRight(params)
        ? Effect.succeed(params.right)
        : Effect.fail(new LMError.LMBadRequest({ ...base(request.model), message: `${name}: ${params.left}` }))
    }

    /** One message (one choice). */
    const one = (request: Completion.CompletionRequest, params: Params): Effect.Effect<Wire.Message, LMError.LMError> =>
      Effect.gen(function* () {
        const timeout = yield* currentTimeout
        const limit = yield* maxResponseBytes
        const response = yield* Effect.tryPromise({
          try: (signal) =>
            client.messages.create(params, { signal, timeout, fetchOptions: fetchOptions(limit) }).asResponse(),
          catch: (error) => error
        }).pipe(Effect.catchAll(fail(request.model, timeout)))
        const text = yield* Effect.tryPromise({
          try: () => readText(response, limit),
          catch: readFailure(request.model)
        })
        const parsed = parseMessageBody(text, {
          provider: name,
          model: request.model,
          status: response.status,
          contentType: response.headers.get("content-type"),
          ...(secret === undefined ? {} : { secret })
        })
        return Either.isLeft(parsed) ? yield* parsed.left : parsed.right
      })

    const complete: Provider.Provider["complete"] = (request) =>
      Effect.flatMap(paramsOf(request), (params) => {
        const n = request.n ?? 1
        return Effect.map(
          n === 1
            ? Effect.map(one(request, params), (m) => [m])
            : Effect.all(
                Array.from({ length: n }, () => one(request, params)),
                { concurrency: n }
              ),
          (messages) => fromMessages(messages, request, prices)
        )
      })

    /** One streamed message (choice `index`). */
    const streamOne = (
      request: Completion.CompletionRequest,
      params: Params,
      index: number
    ): Stream.Stream<Completion.CompletionChunk, LMError.LMError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const controller = new AbortController()
          yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
          const timeout = yield* currentTimeout
          const limit = yield* maxResponseBytes
          const deadline = yield* streamDeadlineMs
          const timedOut = (message: string, ms: number) =>
            new LMError.LMTimeout({ ...base(request.model), timeoutMs: ms, message })
          const response = yield* Effect.tryPromise({
            try: () =>
              client.messages
                .create(
                  { ...params, stream: true },
                  { signal: controller.signal, timeout, fetchOptions: fetchOptions(limit) }
                )
                .asResponse(),
            catch: (error) => error
          }).pipe(Effect.catchAll(fail(request.model, timeout)))
          const contentType = response.headers.get("content-type") ?? ""
          if (!contentType.includes("text/event-stream") || response.body === null) {
            // Not a stream: a server that answered one message is read as one; else the body says what went wrong.
            const text = yield* Effect.tryPromise({
              try: () => readText(response, limit),
              catch: readFailure(request.model)
            })
            const parsed = parseMessageBody(text, {
              provider: name,
              model: request.model,
              status: response.status,
              contentType,
              ...(secret === undefined ? {} : { secret })
            })
            if (Either.isLeft(parsed)) return yield* parsed.left
            const choice = toChoice(parsed.right, index)
            return Stream.make<Array<Completion.CompletionChunk>>({
              index,
              delta: choice.content,
              finishReason: choice.finishReason,
              ...(choice.toolCalls === undefined ? {} : { toolCalls: choice.toolCalls }),
              usage: toUsage(parsed.right.usage)
            })
          }
          return yield* EventStream.fromBody({
            body: response.body,
            controller,
            events: new EventReader(name, request.model, index, limit, secret),
            name,
            settingsName: name,
            timeout,
            deadline,
            readFailure: readFailure(request.model),
            timedOut
          })
        })
      )

    const stream: Provider.Provider["stream"] = (request) =>
      Stream.unwrap(
        Effect.map(paramsOf(request), (params) => {
          const n = request.n ?? 1
          if (n === 1) return streamOne(request, params, 0)
          // n streams at once; the usage each reports at its end is added up, so the last one carries the total.
          let total: Completion.Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
          return Stream.mergeAll(
            Array.from({ length: n }, (_, i) => streamOne(request, params, i)),
            { concurrency: n }
          ).pipe(
            Stream.map((chunk) => {
              if (chunk.usage === undefined) return chunk
              total = sum(total, chunk.usage)
              return { ...chunk, usage: total }
            })
          )
        })
      )

    const embed: Provider.Provider["embed"] = (_inputs, model) =>
      Effect.fail(
        new LMError.LMBadRequest({
          provider: name,
          ...(model === undefined ? {} : { model }),
          message: `${name} has no embeddings API: embed through another provider (an openai one, or a local server)`
        })
      )

    return { name, capabilities, complete, stream, embed }
  })
