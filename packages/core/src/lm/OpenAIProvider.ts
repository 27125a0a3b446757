/**
 * The OpenAI-compatible provider, on the official `openai` SDK: OpenAI itself, or any server that speaks chat
 * completions (vLLM, Ollama, llama.cpp, the simulated LM's local server) through `baseURL`. The API key is
 * `Redacted` and only unwrapped to build the client; the SDK's own retries are off (`maxRetries: 0`: the LM
 * service retries, in Effect); every call passes an `AbortSignal`, so interrupting the Effect aborts the HTTP
 * request. The SDK runs on a tuned transport (undici keep-alive pool, see `internal/transport.ts`) unless a
 * `fetch` is given. `rolloutId` is never sent. Failures map onto the `LMError` family.
 *
 * Answers are untrusted input: bodies are read within `maxResponseBytes` (`LMResponseTooLarge` past it), parsed
 * and checked against the expected shape (a 200 with an HTML page, a body that is not JSON, JSON without
 * `choices`, a choice without `message`... is an `LMMalformedResponse` saying what was wrong), and a streamed
 * answer has a total deadline (`streamDeadlineMs`) as well as the idle timeout (`timeoutMs`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import OpenAI from "openai"
import * as Capabilities from "./Capabilities.js"
import * as Completion from "./Completion.js"
import * as EventStream from "./internal/eventStream.js"
import { BodyReadFailed, readText, ResponseTooLarge } from "./internal/body.js"
import { Decoder } from "./internal/sse.js"
import { make as makeTransport } from "./internal/transport.js"
import * as Wire from "./internal/wire.js"
import * as LMError from "./LMError.js"
import * as Pricing from "./Pricing.js"
import type * as Provider from "./Provider.js"

/**
 * Settings of the OpenAI-compatible provider.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The provider name in telemetry and errors; default `"openai"`. */
  readonly name?: string
  /**
   * The name of the provider's entry in Config (`providers.<settingsName>`), for the messages that say which
   * setting to raise; default {@link Options.name}. `LM.layer` passes the configured name.
   */
  readonly settingsName?: string
  /** The server's base URL (e.g. `http://localhost:11434/v1`); default OpenAI's. */
  readonly baseURL?: string
  /** The API key; local servers accept any (a placeholder is sent when none is given). */
  readonly apiKey?: Redacted.Redacted<string>
  /** The model for `embed` calls that name none; default `text-embedding-3-small`. */
  readonly embeddingModel?: string
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
  /**
   * The largest response body read, in bytes (a streamed answer: all its events together); default
   * {@link defaultMaxResponseBytes}. Past it the response is dropped unread and the call fails with
   * `LMResponseTooLarge`. An effect is read at each call (`providers.*.maxResponseBytes`).
   */
  readonly maxResponseBytes?: number | Effect.Effect<number>
  /**
   * The longest a streamed answer may take from the request to its last event, in milliseconds; default
   * {@link defaultStreamDeadlineMs}. `timeoutMs` bounds each silence; this bounds the whole (a server that
   * drips forever). Past it the stream fails with `LMTimeout`. An effect is read at each call.
   */
  readonly streamDeadlineMs?: number | Effect.Effect<number>
}

/**
 * The default {@link Options.maxResponseBytes}: 8 MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxResponseBytes = 8 * 1024 * 1024

/**
 * The default {@link Options.streamDeadlineMs}: 5 minutes.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStreamDeadlineMs = 300_000

type ChatParams = OpenAI.Chat.ChatCompletionCreateParamsNonStreaming

/** A user message's content: its string, or its parts (text, `image_url`, `input_audio`) as OpenAI takes them. */
const userContent = (content: Completion.Content): string | Array<OpenAI.Chat.ChatCompletionContentPart> =>
  typeof content === "string"
    ? content
    : content.map(
        (p): OpenAI.Chat.ChatCompletionContentPart =>
          p.type === "text"
            ? { type: "text", text: p.text }
            : p.type === "image_url"
              ? {
                  type: "image_url",
                  image_url: p.image_url.detail === undefined ? { url: p.image_url.url } : { ...p.image_url }
                }
              : { type: "input_audio", input_audio: { ...p.input_audio } }
      )

const toMessage = (m: Completion.Message): OpenAI.Chat.ChatCompletionMessageParam => {
  // Only user turns take media; the other roles take text.
  const text = Completion.textOf(m.content)
  switch (m.role) {
    case "system":
      return { role: "system", content: text }
    case "user":
      return { role: "user", content: userContent(m.content) }
    case "tool":
      return { role: "tool", content: text, tool_call_id: m.toolCallId ?? "" }
    case "assistant":
      return m.toolCalls === undefined || m.toolCalls.length === 0
        ? { role: "assistant", content: text }
        : {
            role: "assistant",
            content: text,
            tool_calls: m.toolCalls.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: c.arguments }
            }))
          }
  }
}

/**
 * The chat-completions body of a request (without `stream`). `rolloutId` is deliberately left out.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toParams = (request: Completion.CompletionRequest): ChatParams => {
  const params: { -readonly [K in keyof ChatParams]: ChatParams[K] } = {
    model: request.model,
    messages: request.messages.map(toMessage)
  }
  if (request.n !== undefined) params.n = request.n
  if (request.temperature !== undefined) params.temperature = request.temperature
  if (request.maxTokens !== undefined) params.max_tokens = request.maxTokens
  if (request.stop !== undefined) params.stop = [...request.stop]
  const format = request.responseFormat
  if (format !== undefined) {
    params.response_format =
      format.type === "json_schema"
        ? {
            type: "json_schema",
            json_schema: {
              name: format.name,
              schema: format.schema as Record<string, unknown>,
              ...(format.strict === undefined ? {} : { strict: format.strict })
            }
          }
        : { type: format.type }
  }
  if (request.tools !== undefined && request.tools.length > 0) {
    params.tools = request.tools.map((t) => ({
      type: "function" as const,
      function: { name: t.name, description: t.description, parameters: t.parameters as Record<string, unknown> }
    }))
  }
  return params
}

const finishReason = (reason: string | null | undefined): Completion.FinishReason => {
  switch (reason) {
    case "length":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool_calls"
    case "content_filter":
      return "content_filter"
    default:
      return "stop"
  }
}

const toUsage = (usage: Wire.WireUsage | null | undefined): Completion.Usage =>
  usage == null
    ? { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
    : {
        promptTokens: usage.prompt_tokens ?? 0,
        completionTokens: usage.completion_tokens ?? 0,
        totalTokens: usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0)
      }

const toToolCalls = (
  calls: Wire.ChatCompletion["choices"][number]["message"]["tool_calls"]
): ReadonlyArray<Completion.ToolCall> | undefined => {
  if (calls === undefined || calls === null || calls.length === 0) return undefined
  const out: Array<Completion.ToolCall> = []
  for (const c of calls) {
    if ((c.type === undefined || c.type === "function") && c.function !== undefined) {
      out.push({ id: c.id ?? "", name: c.function.name, arguments: c.function.arguments })
    }
  }
  return out
}

/**
 * The completion response of a chat-completions answer (as checked against the expected shape), with its cost
 * from the price table.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromCompletion = (
  completion: Wire.ChatCompletion,
  request: Completion.CompletionRequest,
  prices: Pricing.PriceTable = Pricing.defaultPrices
): Completion.CompletionResponse => {
  const usage = toUsage(completion.usage)
  const model = completion.model || request.model
  return {
    id: completion.id ?? "",
    model,
    choices: completion.choices.map((c, i) => {
      const toolCalls = toToolCalls(c.message.tool_calls)
      return {
        index: c.index ?? i,
        content: c.message.content ?? "",
        finishReason: finishReason(c.finish_reason),
        ...(toolCalls === undefined ? {} : { toolCalls })
      }
    }),
    usage,
    costUsd: Pricing.cost(model, usage, prices),
    cacheHit: false
  }
}

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

const contextWindowPattern =
  /context[ _-]?length|context window|maximum context|too many tokens|prompt is too long|reduce the length/i

/**
 * The delay a 429 asks for: `retry-after-ms` (milliseconds), else `retry-after` (seconds, or an HTTP date
 * relative to `now`).
 *
 * @since 0.1.0
 * @category errors
 */
export const parseRetryAfter = (headers: Headers | undefined, now: number): number | undefined => {
  if (headers === undefined) return undefined
  const ms = headers.get("retry-after-ms")
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms)
  const after = headers.get("retry-after")
  if (after === null || after.trim() === "") return undefined
  const seconds = Number(after)
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.round(seconds * 1000) : undefined
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * Maps an SDK failure onto the LM error family. The API key, when it appears in a server message, is
 * replaced by `<redacted>`.
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
    /** The provider's entry in Config, for the settings named in messages (default: `provider`). */
    readonly settingsName?: string
  }
): LMError.LMError => {
  const scrub = (text: string) =>
    context.secret !== undefined && context.secret.length > 0 ? text.split(context.secret).join("<redacted>") : text
  const base = { provider: context.provider, model: context.model }
  // The transport's own signals reach here directly or as the cause of the SDK's connection error.
  const signal = error instanceof OpenAI.APIConnectionError && error.cause !== undefined ? error.cause : error
  if (signal instanceof ResponseTooLarge) {
    return tooLarge(base, context.provider, signal.limitBytes, context.settingsName)
  }
  if (signal instanceof BodyReadFailed) {
    return new LMError.LMServerError({ ...base, message: `${context.provider}: ${scrub(signal.message)}` })
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new LMError.LMTimeout({
      ...base,
      timeoutMs: context.timeoutMs,
      message: `${context.provider} did not answer within ${context.timeoutMs} ms: raise the provider's timeoutMs or retry later`
    })
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const status = error.status
    const detail = scrub(error.message)
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
        message: `${context.provider} refused the credentials (${status}): check the API key. ${detail}`
      })
    }
    if (status === 408) {
      return new LMError.LMTimeout({
        ...base,
        timeoutMs: context.timeoutMs,
        message: `${context.provider} timed out the request (408): ${detail}`
      })
    }
    if (
      (status === 400 || status === 413 || status === 422) &&
      (error.code === "context_length_exceeded" || contextWindowPattern.test(error.message))
    ) {
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
      message: `${context.provider} rejected the request (${status}): ${detail}`
    })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new LMError.LMServerError({
    ...base,
    message: `could not reach ${context.provider}: ${scrub(message)}; check the base URL and that the server is up`
  })
}

const tooLarge = (
  base: { provider: string; model: string },
  provider: string,
  limitBytes: number,
  settingsName: string = provider
) =>
  new LMError.LMResponseTooLarge({
    ...base,
    limitBytes,
    message: `${provider}'s response passed maxResponseBytes (${limitBytes} bytes) and was dropped unread: raise providers.${settingsName}.maxResponseBytes or ask for less (max_tokens, fewer choices)`
  })

const excerpt = (text: string, scrub: (s: string) => string): string => {
  const t = scrub(text.slice(0, 160)).replace(/\s+/g, " ").trim()
  return text.length > 160 ? `${t}...` : t
}

/**
 * Reads a 200 body as a completion: JSON whatever the content type says (lenient), checked against the
 * expected shape; anything else is an `LMMalformedResponse` naming the content type and what was wrong.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseCompletionBody = (
  text: string,
  context: {
    readonly provider: string
    readonly model: string
    readonly status?: number
    readonly contentType?: string | null
    readonly secret?: string
  }
): Either.Either<Wire.ChatCompletion, LMError.LMMalformedResponse> => {
  const scrub = (t: string) =>
    context.secret !== undefined && context.secret.length > 0 ? t.split(context.secret).join("<redacted>") : t
  const type = context.contentType ?? undefined
  const typeText = type === undefined || type === "" ? "no content type" : type.split(";")[0]!.trim()
  const malformed = (problem: string) =>
    new LMError.LMMalformedResponse({
      provider: context.provider,
      model: context.model,
      ...(context.status === undefined ? {} : { status: context.status }),
      ...(type === undefined || type === "" ? {} : { contentType: type }),
      problem,
      message: `${context.provider} answered ${context.status ?? 200} (${typeText}) with ${problem}: check that the base URL points at an OpenAI-compatible API (the LM retries; the provider's breaker counts it)`
    })
  if (text.trim() === "") return Either.left(malformed("an empty body"))
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (e) {
    const isJson = type?.includes("json") === true
    return Either.left(
      malformed(
        isJson
          ? `a body that is not valid JSON (${e instanceof Error ? e.message : String(e)}; ${text.length} characters: ${excerpt(text, scrub)})`
          : `a body that is not JSON (${text.length} characters: ${excerpt(text, scrub)})`
      )
    )
  }
  return Either.mapLeft(Wire.completion(body), (problem) => malformed(scrub(problem)))
}

// ---------------------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------------------

interface ToolCallParts {
  id: string
  name: string
  arguments: string
}

/** The chunks of a whole completion, for a server that answered a stream request with one. */
const completionChunks = (response: Completion.CompletionResponse): Array<Completion.CompletionChunk> => [
  ...response.choices.map(
    (c): Completion.CompletionChunk => ({
      index: c.index,
      delta: c.content,
      finishReason: c.finishReason,
      ...(c.toolCalls === undefined ? {} : { toolCalls: c.toolCalls })
    })
  ),
  { index: 0, delta: "", usage: response.usage }
]

/**
 * Turns the bytes of an SSE body into completion chunks: counts them against the limit, decodes events,
 * checks each against the chunk shape, assembles tool calls, and stops at `[DONE]`.
 */
class EventReader {
  private readonly decoder = new TextDecoder()
  private readonly sse = new Decoder()
  private readonly tools = new Map<number, Map<number, ToolCallParts>>()
  private bytes = 0
  private finished = false
  constructor(
    readonly provider: string,
    readonly model: string,
    readonly limit: number,
    readonly secret: string | undefined,
    readonly settingsName: string
  ) {}

  push(
    bytes: Uint8Array
  ): Effect.Effect<{ readonly chunks: Array<Completion.CompletionChunk>; readonly done: boolean }, LMError.LMError> {
    this.bytes += bytes.byteLength
    if (this.bytes > this.limit) {
      return Effect.fail(
        tooLarge({ provider: this.provider, model: this.model }, this.provider, this.limit, this.settingsName)
      )
    }
    return this.events(this.sse.push(this.decoder.decode(bytes, { stream: true })))
  }

  end(): Effect.Effect<
    { readonly chunks: Array<Completion.CompletionChunk>; readonly done: boolean },
    LMError.LMError
  > {
    if (this.finished) return Effect.succeed({ chunks: [], done: true })
    return this.events(this.sse.push(this.decoder.decode()).concat(this.sse.end()))
  }

  private malformed(problem: string): LMError.LMMalformedResponse {
    const scrubbed =
      this.secret !== undefined && this.secret.length > 0 ? problem.split(this.secret).join("<redacted>") : problem
    return new LMError.LMMalformedResponse({
      provider: this.provider,
      model: this.model,
      status: 200,
      contentType: "text/event-stream",
      problem: scrubbed,
      message: `${this.provider}'s stream was malformed: ${scrubbed} (the LM retries; the provider's breaker counts it)`
    })
  }

  private events(
    events: ReadonlyArray<{ readonly data: string; readonly event: string | undefined }>
  ): Effect.Effect<{ readonly chunks: Array<Completion.CompletionChunk>; readonly done: boolean }, LMError.LMError> {
    const out: Array<Completion.CompletionChunk> = []
    for (const e of events) {
      if (this.finished) break
      if (e.data.trim() === "[DONE]") {
        this.finished = true
        break
      }
      let body: unknown
      try {
        body = JSON.parse(e.data)
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error)
        return Effect.fail(
          this.malformed(
            `an event that is not valid JSON (${detail}): ${e.data.slice(0, 120)}${e.data.length > 120 ? "..." : ""}`
          )
        )
      }
      if (e.event === "error") {
        const message =
          typeof body === "object" && body !== null && "error" in body
            ? JSON.stringify((body as { error: unknown }).error)
            : e.data
        return Effect.fail(this.malformed(`the stream carried an error: ${message.slice(0, 300)}`))
      }
      const chunk = Wire.chunk(body)
      if (Either.isLeft(chunk)) return Effect.fail(this.malformed(chunk.left))
      this.chunks(chunk.right, out)
    }
    return Effect.succeed({ chunks: out, done: this.finished })
  }

  private chunks(chunk: Wire.Chunk, out: Array<Completion.CompletionChunk>): void {
    for (const choice of chunk.choices) {
      for (const part of choice.delta?.tool_calls ?? []) {
        let byIndex = this.tools.get(choice.index)
        if (byIndex === undefined) this.tools.set(choice.index, (byIndex = new Map()))
        const call = byIndex.get(part.index) ?? { id: "", name: "", arguments: "" }
        if (part.id) call.id = part.id
        if (part.function?.name) call.name += part.function.name
        if (part.function?.arguments) call.arguments += part.function.arguments
        byIndex.set(part.index, call)
      }
      const delta = choice.delta?.content ?? ""
      if (choice.finish_reason != null) {
        const calls = this.tools.get(choice.index)
        out.push({
          index: choice.index,
          delta,
          finishReason: finishReason(choice.finish_reason),
          ...(calls === undefined ? {} : { toolCalls: [...calls.values()].map((c) => ({ ...c })) })
        })
      } else if (delta.length > 0) {
        out.push({ index: choice.index, delta })
      }
    }
    if (chunk.usage != null) out.push({ index: 0, delta: "", usage: toUsage(chunk.usage) })
  }
}

/**
 * Builds the provider. Its transport (a keep-alive connection pool) is closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Provider.Provider, never, Scope.Scope> =>
  Effect.gen(function* () {
    const name = options.name ?? "openai"
    const settingsName = options.settingsName ?? name
    const fixedTimeoutMs = Effect.isEffect(options.timeoutMs) ? undefined : (options.timeoutMs ?? 30_000)
    /** The timeout of this call: the fixed one, or the current value of the configured effect. */
    const withTimeout = <A, E>(f: (timeoutMs: number) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
      fixedTimeoutMs !== undefined ? f(fixedTimeoutMs) : Effect.flatMap(options.timeoutMs as Effect.Effect<number>, f)
    const prices = options.prices ?? Pricing.defaultPrices
    const embeddingModel = options.embeddingModel ?? "text-embedding-3-small"
    const transport =
      options.fetch === undefined
        ? yield* Effect.acquireRelease(
            Effect.sync(() => makeTransport({ connections: options.connections ?? 128 })),
            (t) => Effect.promise(() => t.close())
          )
        : undefined
    const secret = options.apiKey === undefined ? undefined : Redacted.value(options.apiKey)
    const client = new OpenAI({
      apiKey: secret ?? "no-key",
      maxRetries: 0,
      timeout: fixedTimeoutMs ?? 30_000,
      ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
      ...(options.fetch !== undefined
        ? { fetch: options.fetch }
        : transport !== undefined
          ? { fetch: transport.fetch }
          : {})
    })
    const fail = (model: string, timeoutMs: number) => (error: unknown) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(
          toLMError(error, {
            provider: name,
            model,
            timeoutMs,
            now,
            settingsName,
            ...(secret === undefined ? {} : { secret })
          })
        )
      )

    const setting = (value: number | Effect.Effect<number> | undefined, fallback: number): Effect.Effect<number> =>
      value === undefined ? Effect.succeed(fallback) : Effect.isEffect(value) ? value : Effect.succeed(value)
    const maxResponseBytes = setting(options.maxResponseBytes, defaultMaxResponseBytes)
    const streamDeadlineMs = setting(options.streamDeadlineMs, defaultStreamDeadlineMs)
    const base = (model: string) => ({ provider: name, model })
    const readFailure = (model: string) => (error: unknown) =>
      error instanceof ResponseTooLarge
        ? tooLarge(base(model), name, error.limitBytes, settingsName)
        : new LMError.LMServerError({
            ...base(model),
            message: `${name}: ${error instanceof BodyReadFailed ? error.message : `the response could not be read: ${String(error)}`}`
          })
    // The limit reaches the transport in the request's `RequestInit` (the SDK passes `fetchOptions` through).
    const fetchOptions = (limit: number) =>
      ({ maxResponseBytes: limit }) as unknown as NonNullable<OpenAI.RequestOptions["fetchOptions"]>

    const complete: Provider.Provider["complete"] = (request) =>
      withTimeout((timeout) =>
        Effect.gen(function* () {
          const limit = yield* maxResponseBytes
          const response = yield* Effect.tryPromise({
            try: (signal) =>
              client.chat.completions
                .create(toParams(request), { signal, timeout, fetchOptions: fetchOptions(limit) })
                .asResponse(),
            catch: (error) => error
          }).pipe(Effect.catchAll(fail(request.model, timeout)))
          const text = yield* Effect.tryPromise({
            try: () => readText(response, limit),
            catch: readFailure(request.model)
          })
          const parsed = parseCompletionBody(text, {
            provider: name,
            model: request.model,
            status: response.status,
            contentType: response.headers.get("content-type"),
            ...(secret === undefined ? {} : { secret })
          })
          if (Either.isLeft(parsed)) return yield* parsed.left
          return fromCompletion(parsed.right, request, prices)
        })
      )

    const stream: Provider.Provider["stream"] = (request) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const controller = new AbortController()
          yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
          const timeout = yield* withTimeout(Effect.succeed)
          const limit = yield* maxResponseBytes
          const deadline = yield* streamDeadlineMs
          const timedOut = (message: string, ms: number) =>
            new LMError.LMTimeout({ ...base(request.model), timeoutMs: ms, message })
          const body = yield* Effect.gen(function* () {
            const response = yield* Effect.tryPromise({
              try: () =>
                client.chat.completions
                  .create(
                    { ...toParams(request), stream: true, stream_options: { include_usage: true } },
                    { signal: controller.signal, timeout, fetchOptions: fetchOptions(limit) }
                  )
                  .asResponse(),
              catch: (error) => error
            }).pipe(Effect.catchAll(fail(request.model, timeout)))
            const contentType = response.headers.get("content-type") ?? ""
            if (!contentType.includes("text/event-stream") || response.body === null) {
              // Not a stream: a server that ignored `stream` and answered one completion is read as one; else
              // the body says what went wrong.
              const text = yield* Effect.tryPromise({
                try: () => readText(response, limit),
                catch: readFailure(request.model)
              })
              const parsed = parseCompletionBody(text, {
                provider: name,
                model: request.model,
                status: response.status,
                contentType,
                ...(secret === undefined ? {} : { secret })
              })
              if (Either.isLeft(parsed)) return yield* parsed.left
              return { _tag: "Whole" as const, completion: parsed.right }
            }
            return { _tag: "Events" as const, body: response.body }
          })
          if (body._tag === "Whole") {
            return Stream.fromIterable(completionChunks(fromCompletion(body.completion, request, prices)))
          }
          return yield* EventStream.fromBody({
            body: body.body,
            controller,
            events: new EventReader(name, request.model, limit, secret, settingsName),
            name,
            settingsName: settingsName,
            timeout,
            deadline,
            readFailure: readFailure(request.model),
            timedOut
          })
        })
      )

    const embed: Provider.Provider["embed"] = (inputs, model) => {
      const m = model ?? embeddingModel
      return withTimeout((timeout) =>
        Effect.gen(function* () {
          const limit = yield* maxResponseBytes
          const response = yield* Effect.tryPromise({
            try: (signal) =>
              client.embeddings
                .create(
                  { model: m, input: [...inputs], encoding_format: "float" },
                  { signal, timeout, fetchOptions: fetchOptions(limit) }
                )
                .asResponse(),
            catch: (error) => error
          }).pipe(Effect.catchAll(fail(m, timeout)))
          const text = yield* Effect.tryPromise({ try: () => readText(response, limit), catch: readFailure(m) })
          const malformed = (problem: string) =>
            new LMError.LMMalformedResponse({
              ...base(m),
              status: response.status,
              problem,
              message: `${name} answered the embeddings request with ${problem}: check that the base URL points at an OpenAI-compatible API`
            })
          let body: unknown
          try {
            body = JSON.parse(text)
          } catch {
            return yield* malformed(`a body that is not JSON (${text.length} characters)`)
          }
          const data = Wire.embeddings(body)
          if (Either.isLeft(data)) return yield* malformed(data.left)
          return [...data.right].sort((a, b) => a.index - b.index).map((d) => d.embedding)
        })
      )
    }

    return { name, capabilities: Capabilities.openai, complete, stream, embed }
  })
