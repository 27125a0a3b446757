/**
 * The OpenAI-compatible provider, on the official `openai` SDK: OpenAI itself, or any server that speaks chat
 * completions (vLLM, Ollama, llama.cpp, the simulated LM's local server) through `baseURL`. The API key is
 * `Redacted` and only unwrapped to build the client; the SDK's own retries are off (`maxRetries: 0`: the LM
 * service retries, in Effect); every call passes an `AbortSignal`, so interrupting the Effect aborts the HTTP
 * request. The SDK runs on a tuned transport (undici keep-alive pool, see `internal/transport.ts`) unless a
 * `fetch` is given. `rolloutId` is never sent. Failures map onto the `LMError` family.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import OpenAI from "openai"
import type * as Completion from "./Completion.js"
import { make as makeTransport } from "./internal/transport.js"
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
}

type ChatParams = OpenAI.Chat.ChatCompletionCreateParamsNonStreaming

const toMessage = (m: Completion.Message): OpenAI.Chat.ChatCompletionMessageParam => {
  switch (m.role) {
    case "system":
      return { role: "system", content: m.content }
    case "user":
      return { role: "user", content: m.content }
    case "tool":
      return { role: "tool", content: m.content, tool_call_id: m.toolCallId ?? "" }
    case "assistant":
      return m.toolCalls === undefined || m.toolCalls.length === 0
        ? { role: "assistant", content: m.content }
        : {
            role: "assistant",
            content: m.content,
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

const toUsage = (usage: OpenAI.CompletionUsage | null | undefined): Completion.Usage =>
  usage == null
    ? { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
    : {
        promptTokens: usage.prompt_tokens ?? 0,
        completionTokens: usage.completion_tokens ?? 0,
        totalTokens: usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0)
      }

const toToolCalls = (
  calls: ReadonlyArray<OpenAI.Chat.ChatCompletionMessageToolCall> | undefined
): ReadonlyArray<Completion.ToolCall> | undefined => {
  if (calls === undefined || calls.length === 0) return undefined
  const out: Array<Completion.ToolCall> = []
  for (const c of calls)
    if (c.type === "function") out.push({ id: c.id, name: c.function.name, arguments: c.function.arguments })
  return out
}

/**
 * The completion response of a chat-completions answer, with its cost from the price table.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromCompletion = (
  completion: OpenAI.Chat.ChatCompletion,
  request: Completion.CompletionRequest,
  prices: Pricing.PriceTable = Pricing.defaultPrices
): Completion.CompletionResponse => {
  const usage = toUsage(completion.usage)
  const model = completion.model || request.model
  return {
    id: completion.id,
    model,
    choices: completion.choices.map((c) => {
      const toolCalls = toToolCalls(c.message.tool_calls)
      return {
        index: c.index,
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
  }
): LMError.LMError => {
  const scrub = (text: string) =>
    context.secret !== undefined && context.secret.length > 0 ? text.split(context.secret).join("<redacted>") : text
  const base = { provider: context.provider, model: context.model }
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

// ---------------------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------------------

interface ToolCallParts {
  id: string
  name: string
  arguments: string
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
          toLMError(error, { provider: name, model, timeoutMs, now, ...(secret === undefined ? {} : { secret }) })
        )
      )

    const complete: Provider.Provider["complete"] = (request) =>
      withTimeout((timeout) =>
        Effect.tryPromise({
          try: (signal) => client.chat.completions.create(toParams(request), { signal, timeout }),
          catch: (error) => error
        }).pipe(
          Effect.catchAll(fail(request.model, timeout)),
          Effect.map((completion) => fromCompletion(completion, request, prices))
        )
      )

    const stream: Provider.Provider["stream"] = (request) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const controller = new AbortController()
          yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
          const timeout = yield* withTimeout(Effect.succeed)
          const chunks = yield* Effect.tryPromise({
            try: () =>
              client.chat.completions.create(
                { ...toParams(request), stream: true, stream_options: { include_usage: true } },
                { signal: controller.signal, timeout }
              ),
            catch: (error) => error
          }).pipe(Effect.catchAll(fail(request.model, timeout)))
          const tools = new Map<number, Map<number, ToolCallParts>>()
          // Ending the stream early (interruption, `take`) aborts the request first: an async generator queues
          // `return()` behind a pending `next()`, which a server that has gone quiet may never complete.
          const iterator = chunks[Symbol.asyncIterator]()
          const abortable: AsyncIterable<OpenAI.Chat.ChatCompletionChunk> = {
            [Symbol.asyncIterator]: () => ({
              next: () => iterator.next(),
              return: () => {
                controller.abort()
                return Promise.resolve({ done: true as const, value: undefined })
              }
            })
          }
          return Stream.fromAsyncIterable(abortable, (error) => error).pipe(
            Stream.catchAll((error) => Stream.fromEffect(fail(request.model, timeout)(error))),
            // The SDK's timeout ends at the response headers; a streamed body silent for as long fails too.
            Stream.timeoutFail(
              () =>
                new LMError.LMTimeout({
                  provider: name,
                  model: request.model,
                  timeoutMs: timeout,
                  message: `${name} sent nothing on the stream for ${timeout} ms: raise the provider's timeoutMs or retry later`
                }),
              timeout
            ),
            Stream.mapConcat((chunk): Array<Completion.CompletionChunk> => {
              const out: Array<Completion.CompletionChunk> = []
              for (const choice of chunk.choices) {
                for (const part of choice.delta?.tool_calls ?? []) {
                  let byIndex = tools.get(choice.index)
                  if (byIndex === undefined) tools.set(choice.index, (byIndex = new Map()))
                  const call = byIndex.get(part.index) ?? { id: "", name: "", arguments: "" }
                  if (part.id) call.id = part.id
                  if (part.function?.name) call.name += part.function.name
                  if (part.function?.arguments) call.arguments += part.function.arguments
                  byIndex.set(part.index, call)
                }
                const delta = choice.delta?.content ?? ""
                if (choice.finish_reason != null) {
                  const calls = tools.get(choice.index)
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
              return out
            })
          )
        })
      )

    const embed: Provider.Provider["embed"] = (inputs, model) => {
      const m = model ?? embeddingModel
      return withTimeout((timeout) =>
        Effect.tryPromise({
          try: (signal) =>
            client.embeddings.create({ model: m, input: [...inputs], encoding_format: "float" }, { signal, timeout }),
          catch: (error) => error
        }).pipe(
          Effect.catchAll(fail(m, timeout)),
          Effect.map((res) => [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding))
        )
      )
    }

    return { name, complete, stream, embed }
  })
