/**
 * The local OpenAI-compatible server in front of the simulated LM, on `node:http` directly (it is the target
 * of throughput benchmarks): `POST /v1/chat/completions` (n, temperature, max_tokens, stop, SSE streaming,
 * response_format, tools, and a `rollout_id` extension), `POST /v1/embeddings` (float or base64),
 * `GET /v1/models`, and `GET /stats` (requests served, faults injected by kind). Loopback only: it binds a
 * loopback address and refuses peers and Host headers that are not loopback. Each run has its own fault and
 * latency profile; latency is real time here. The fault profile can be replaced while the server runs
 * (`running.setFaults(profile)`, or {@link setFaults} from Effect code), for example to stop the faults and
 * watch a client's circuit breaker recover.
 *
 * From a test: `const { url } = yield* Server.serve({ faults })` (port 0, closed with the scope).
 * From the command line: see `cli.ts` (`pnpm --filter @effect-dspy/core sim-server --port 8787`).
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type * as net from "node:net"
import type { Completion } from "@effect-dspy/core"
import * as Embeddings from "./Embeddings.js"
import * as Engine from "./Engine.js"
import * as Faults from "./Faults.js"
import * as Latency from "./Latency.js"
import * as Models from "./Models.js"
import { SimServerError } from "./SimError.js"

/**
 * Options of a server run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Engine.Settings {
  /** The port; 0 (the default) picks a free one. */
  readonly port?: number
  /** A loopback address: `127.0.0.1` (default), `::1` or `localhost`. */
  readonly host?: string
  readonly faults?: Faults.Profile
  readonly latency?: Latency.Profile
  readonly embeddingDimensions?: number
  /** Characters per SSE chunk; default 24. */
  readonly chunkChars?: number
  /**
   * Like a hosted LM, a request at temperature > 0 that carries no `rollout_id` gets a fresh sample each time
   * (its sample stream is keyed by the server's request count), so repeated identical requests differ, as
   * BestOfN and Refine expect. Default true; false answers such requests with one fixed sample (fully
   * reproducible, like the in-process simulated LM without a rollout id).
   */
  readonly freshSamples?: boolean
  /** The largest request body accepted, in bytes; a larger one is answered 413. Default 16 MiB. */
  readonly maxBodyBytes?: number
}

/**
 * Counters of a server run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly requests: number
  readonly completions: number
  readonly streams: number
  readonly embeddings: number
  readonly refused: number
  readonly badRequests: number
  readonly faults: { readonly [K in Faults.Kind]?: number }
}

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Running {
  /** The base URL for OpenAI clients, ending in `/v1`. */
  readonly url: string
  readonly port: number
  readonly stats: () => Stats
  /**
   * Replaces the fault profile from the next chat request on (`Faults.none` stops the faults); requests
   * already received keep the fault they drew. Throws {@link SimServerError} for an invalid profile (the
   * profile in force is then unchanged).
   */
  readonly setFaults: (profile: Faults.Profile) => void
  readonly close: () => Promise<void>
}

/**
 * The error of this module (defined with every error of the package in `SimError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { SimServerError }

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"])

/**
 * True for loopback peer addresses.
 *
 * @since 0.1.0
 * @category guards
 */
export const isLoopback = (address: string | undefined): boolean =>
  address !== undefined && (address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127."))

const hostOk = (host: string | undefined): boolean => {
  if (host === undefined) return true
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.split(":")[0]!
  return LOOPBACK_HOSTS.has(name) || name.startsWith("127.")
}

interface Counters {
  requests: number
  completions: number
  streams: number
  embeddings: number
  refused: number
  badRequests: number
  faults: { [K in Faults.Kind]?: number }
}

const JSON_HEADERS = { "content-type": "application/json" }

const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...JSON_HEADERS, "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}

const apiError = (message: string, type: string, code: string | null = null, param: string | null = null) => ({
  error: { message, type, param, code }
})

class BadBody extends Error {}

class BodyTooLarge extends Error {}

/** A message's content: a string, text parts (joined), or content parts with images and audio (kept as parts). */
const contentOf = (content: unknown): Completion.Content => {
  if (typeof content === "string") return content
  if (content === null || content === undefined) return ""
  if (Array.isArray(content)) {
    const media = content.some((p) => typeof p === "object" && p !== null && (p as { type?: unknown }).type !== "text")
    if (!media) {
      return content
        .map((p) =>
          typeof p === "object" && p !== null && typeof (p as { text?: unknown }).text === "string"
            ? (p as { text: string }).text
            : ""
        )
        .join("")
    }
    return content.map((p): Completion.ContentPart => {
      const problem = Engine.partProblem(p)
      if (problem !== undefined) throw new BadBody(problem)
      const part = p as Completion.ContentPart
      return part.type === "text"
        ? { type: "text", text: part.text }
        : part.type === "image_url"
          ? { type: "image_url", image_url: { url: part.image_url.url } }
          : { type: "input_audio", input_audio: { data: part.input_audio.data, format: part.input_audio.format } }
    })
  }
  throw new BadBody("message content must be a string or an array of content parts (text, image_url, input_audio)")
}

/** Rollout ids given to fresh samples start here, far from the small ids programs use. */
const FRESH_SAMPLE_BASE = 1_000_000_000

/**
 * Reads an OpenAI chat-completions body into a completion request (and whether to stream, with usage).
 *
 * @since 0.1.0
 * @category protocol
 */
export const toRequest = (
  body: Record<string, unknown>
): { readonly request: Completion.CompletionRequest; readonly stream: boolean; readonly includeUsage: boolean } => {
  if (!Array.isArray(body["messages"])) throw new BadBody("messages must be an array")
  const messages = (body["messages"] as Array<Record<string, unknown>>).map((m): Completion.Message => {
    if (typeof m !== "object" || m === null) throw new BadBody("each message must be an object")
    const role = m["role"] === "developer" ? "system" : m["role"]
    if (role !== "system" && role !== "user" && role !== "assistant" && role !== "tool") {
      throw new BadBody(`unknown message role: ${String(m["role"])}`)
    }
    const calls = Array.isArray(m["tool_calls"])
      ? (m["tool_calls"] as Array<{ id: string; function: { name: string; arguments: string } }>).map((c) => ({
          id: String(c.id),
          name: String(c.function?.name),
          arguments: String(c.function?.arguments ?? "{}")
        }))
      : undefined
    return {
      role,
      content: contentOf(m["content"]),
      ...(calls !== undefined ? { toolCalls: calls } : {}),
      ...(typeof m["tool_call_id"] === "string" ? { toolCallId: m["tool_call_id"] } : {})
    }
  })
  const stop = body["stop"]
  const rf = body["response_format"] as Record<string, unknown> | undefined
  let responseFormat: Completion.ResponseFormat | undefined
  if (rf?.["type"] === "json_object" || rf?.["type"] === "text") responseFormat = { type: rf["type"] }
  else if (rf?.["type"] === "json_schema") {
    const js = (rf["json_schema"] ?? {}) as Record<string, unknown>
    responseFormat = {
      type: "json_schema",
      name: String(js["name"] ?? "output"),
      schema: (js["schema"] ?? {}) as Record<string, unknown>,
      ...(typeof js["strict"] === "boolean" ? { strict: js["strict"] } : {})
    }
  }
  const tools = Array.isArray(body["tools"])
    ? (
        body["tools"] as Array<{
          function?: { name?: string; description?: string; parameters?: Record<string, unknown> }
        }>
      ).map((t) => ({
        name: String(t.function?.name ?? ""),
        description: String(t.function?.description ?? ""),
        parameters: t.function?.parameters ?? { type: "object", properties: {} }
      }))
    : undefined
  const maxTokens = body["max_completion_tokens"] ?? body["max_tokens"]
  const request: Completion.CompletionRequest = {
    model: typeof body["model"] === "string" ? body["model"] : "sim-1",
    messages,
    ...(typeof body["n"] === "number" ? { n: body["n"] } : {}),
    ...(typeof body["temperature"] === "number" ? { temperature: body["temperature"] } : {}),
    ...(typeof maxTokens === "number" ? { maxTokens } : {}),
    ...(typeof stop === "string" ? { stop: [stop] } : Array.isArray(stop) ? { stop: stop.map(String) } : {}),
    ...(typeof body["rollout_id"] === "number" ? { rolloutId: body["rollout_id"] } : {}),
    ...(responseFormat !== undefined ? { responseFormat } : {}),
    ...(tools !== undefined && tools.length > 0 ? { tools } : {})
  }
  const so = body["stream_options"] as { include_usage?: boolean } | undefined
  return { request, stream: body["stream"] === true, includeUsage: so?.include_usage === true }
}

const toolCallsJson = (calls: ReadonlyArray<Completion.ToolCall>) =>
  calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }))

const usageJson = (u: Completion.Usage) => ({
  prompt_tokens: u.promptTokens,
  completion_tokens: u.completionTokens,
  total_tokens: u.totalTokens
})

/**
 * The OpenAI chat-completions JSON of a response.
 *
 * @since 0.1.0
 * @category protocol
 */
export const toBody = (r: Completion.CompletionResponse, created: number) => ({
  id: r.id,
  object: "chat.completion",
  created,
  model: r.model,
  choices: r.choices.map((c) => ({
    index: c.index,
    message: {
      role: "assistant",
      content: c.toolCalls !== undefined ? null : c.content,
      refusal: null,
      ...(c.toolCalls !== undefined ? { tool_calls: toolCallsJson(c.toolCalls) } : {})
    },
    logprobs: null,
    finish_reason: c.finishReason
  })),
  usage: usageJson(r.usage)
})

const readBody = (req: http.IncomingMessage, limit: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const parts: Array<Buffer> = []
    let size = 0
    req.on("data", (b: Buffer) => {
      size += b.length
      if (size > limit) {
        // Answer now, read (and drop) the rest so the client gets the answer rather than a reset.
        req.removeAllListeners("data")
        req.resume()
        reject(new BodyTooLarge(`the request body is larger than maxBodyBytes (${limit} bytes)`))
        return
      }
      parts.push(b)
    })
    req.on("end", () =>
      resolve(parts.length === 1 ? parts[0]!.toString("utf8") : Buffer.concat(parts).toString("utf8"))
    )
    req.on("error", reject)
  })

const reset = (socket: net.Socket) => {
  const s = socket as net.Socket & { resetAndDestroy?: () => void }
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy()
  else s.destroy()
}

/**
 * Starts a server run (a Promise, for the command line and benchmarks); see {@link serve} for Effect code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options = {}): Promise<Running> => {
  const host = options.host ?? "127.0.0.1"
  if (!LOOPBACK_HOSTS.has(host) && !host.startsWith("127.")) {
    return Promise.reject(
      new SimServerError({
        message: `the simulated LM server binds loopback only; got host "${host}" (use 127.0.0.1, ::1 or localhost)`
      })
    )
  }
  let faults = options.faults ?? Faults.none
  const latency = options.latency ?? Latency.none
  const problem =
    Faults.validate(faults) ??
    Latency.validate(latency) ??
    (options.maxBodyBytes !== undefined && !(Number.isInteger(options.maxBodyBytes) && options.maxBodyBytes > 0)
      ? `maxBodyBytes must be a positive integer, got ${options.maxBodyBytes}`
      : undefined)
  if (problem !== undefined)
    return Promise.reject(new SimServerError({ message: `simulated LM server options: ${problem}` }))
  const chunkChars = options.chunkChars ?? 24
  const dimensions = options.embeddingDimensions ?? Embeddings.defaultDimensions
  const counters: Counters = {
    requests: 0,
    completions: 0,
    streams: 0,
    embeddings: 0,
    refused: 0,
    badRequests: 0,
    faults: {}
  }
  const held = new Set<http.ServerResponse>()
  const timers = new Set<NodeJS.Timeout>()
  let calls = 0
  let closing = false

  const later = (ms: number, f: () => void) => {
    if (ms <= 0) return f()
    const t = setTimeout(() => {
      timers.delete(t)
      f()
    }, ms)
    timers.add(t)
  }

  const bad = (res: http.ServerResponse, message: string, param: string | null = null) => {
    counters.badRequests++
    sendJson(res, 400, apiError(message, "invalid_request_error", null, param))
  }

  const freshSamples = options.freshSamples ?? true
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024

  const chat = (req: http.IncomingMessage, res: http.ServerResponse, raw: string) => {
    let parsed: ReturnType<typeof toRequest>
    try {
      parsed = toRequest(JSON.parse(raw) as Record<string, unknown>)
    } catch (e) {
      return bad(res, e instanceof BadBody ? e.message : `the body is not valid JSON: ${String(e)}`)
    }
    const { stream, includeUsage } = parsed
    const problem = Engine.validate(parsed.request)
    if (problem !== undefined) return bad(res, problem)
    const call = calls++
    const request =
      freshSamples && parsed.request.rolloutId === undefined && (parsed.request.temperature ?? 0) > 0
        ? { ...parsed.request, rolloutId: FRESH_SAMPLE_BASE + call }
        : parsed.request
    const allowed = stream ? Faults.kinds : Faults.kinds.filter((k) => k !== "slow_stream" && k !== "truncated_stream")
    // The profile in force when the request arrived, whatever `setFaults` does while it is delayed.
    const profile = faults
    const fault = Faults.draw(profile, call, allowed)
    if (fault !== undefined) counters.faults[fault] = (counters.faults[fault] ?? 0) + 1
    const delay = Latency.sample(latency, Random.fromState(Random.hashParts("latency", options.seed ?? 0, call)))
    later(delay, () => {
      if (res.destroyed || closing) return
      switch (fault) {
        case "rate_limit":
          return sendJson(
            res,
            429,
            apiError("Rate limit reached (simulated fault)", "requests", "rate_limit_exceeded"),
            {
              "retry-after": String(profile.retryAfterSeconds ?? 1)
            }
          )
        case "server_error":
          return sendJson(res, 500, apiError("Internal server error (simulated fault)", "server_error"))
        case "unavailable":
          return sendJson(res, 503, apiError("Service unavailable (simulated fault)", "server_error"))
        case "reset":
          return reset(req.socket)
        case "timeout": {
          held.add(res)
          res.on("close", () => held.delete(res))
          later(profile.timeoutMs ?? 120_000, () => {
            held.delete(res)
            req.socket.destroy()
          })
          return
        }
      }
      const transform =
        fault !== undefined && Faults.outputKinds.includes(fault)
          ? (content: string, i: number) =>
              Faults.corrupt(content, fault, Random.fromState(Random.hashParts("corrupt", call, i)))
          : undefined
      const response = Engine.respond(request, options, transform)
      const created = Math.floor(Date.now() / 1000)
      if (!stream) {
        counters.completions++
        return sendJson(res, 200, toBody(response, created))
      }
      counters.streams++
      sse(req, res, response, created, includeUsage, fault, profile)
    })
  }

  const sse = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    response: Completion.CompletionResponse,
    created: number,
    includeUsage: boolean,
    fault: Faults.Kind | undefined,
    profile: Faults.Profile
  ) => {
    const events: Array<string> = []
    const frame = (choices: Array<unknown>, usage: unknown = null) =>
      `data: ${JSON.stringify({ id: response.id, object: "chat.completion.chunk", created, model: response.model, choices, usage })}\n\n`
    for (const c of response.choices) {
      events.push(
        frame([{ index: c.index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }])
      )
      if (c.toolCalls !== undefined) {
        events.push(
          frame([
            {
              index: c.index,
              delta: {
                tool_calls: c.toolCalls.map((t, i) => ({
                  index: i,
                  id: t.id,
                  type: "function",
                  function: { name: t.name, arguments: t.arguments }
                }))
              },
              logprobs: null,
              finish_reason: null
            }
          ])
        )
      } else {
        for (let i = 0; i < c.content.length; i += chunkChars) {
          events.push(
            frame([
              {
                index: c.index,
                delta: { content: c.content.slice(i, i + chunkChars) },
                logprobs: null,
                finish_reason: null
              }
            ])
          )
        }
      }
      events.push(frame([{ index: c.index, delta: {}, logprobs: null, finish_reason: c.finishReason }]))
    }
    if (includeUsage) events.push(frame([], usageJson(response.usage)))
    events.push("data: [DONE]\n\n")
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    if (fault === "truncated_stream") {
      res.write(events.slice(0, Math.max(1, Math.floor(events.length / 2))).join(""))
      later(5, () => req.socket.destroy())
      return
    }
    if (fault === "slow_stream") {
      const gap = profile.slowChunkMs ?? 250
      let i = 0
      const next = () => {
        if (res.destroyed || closing) return
        if (i >= events.length) return void res.end()
        res.write(events[i++]!)
        later(gap, next)
      }
      return next()
    }
    res.end(events.join(""))
  }

  const embeddings = (res: http.ServerResponse, raw: string) => {
    let body: Record<string, unknown>
    try {
      body = JSON.parse(raw) as Record<string, unknown>
    } catch (e) {
      return bad(res, `the body is not valid JSON: ${String(e)}`)
    }
    const input = body["input"]
    const inputs =
      typeof input === "string"
        ? [input]
        : Array.isArray(input) && input.every((s) => typeof s === "string")
          ? (input as Array<string>)
          : undefined
    if (inputs === undefined) return bad(res, "input must be a string or an array of strings", "input")
    const dims = typeof body["dimensions"] === "number" ? body["dimensions"] : dimensions
    if (!Number.isInteger(dims) || dims < 1 || dims > 65536)
      return bad(res, `dimensions must be an integer in [1, 65536], got ${dims}`, "dimensions")
    const base64 = body["encoding_format"] === "base64"
    counters.embeddings++
    const model = typeof body["model"] === "string" ? body["model"] : "sim-embed"
    const tokens = inputs.reduce((a, s) => a + Models.tokens(s), 0)
    sendJson(res, 200, {
      object: "list",
      model,
      data: inputs.map((s, index) => {
        const v = Embeddings.embed(s, dims)
        return {
          object: "embedding",
          index,
          embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v
        }
      }),
      usage: { prompt_tokens: tokens, total_tokens: tokens }
    })
  }

  const stats = (): Stats => ({ ...counters, faults: { ...counters.faults } })

  const setFaults = (profile: Faults.Profile): void => {
    const problem = Faults.validate(profile)
    if (problem !== undefined) throw new SimServerError({ message: `simulated LM server faults: ${problem}` })
    faults = profile
  }

  const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    if (!isLoopback(req.socket.remoteAddress) || !hostOk(req.headers.host)) {
      counters.refused++
      sendJson(res, 403, apiError("the simulated LM server accepts loopback clients only", "forbidden"))
      return
    }
    counters.requests++
    const url = req.url ?? "/"
    const path = url.indexOf("?") >= 0 ? url.slice(0, url.indexOf("?")) : url
    if (req.method === "GET") {
      if (path === "/v1/models" || path === "/models") {
        return sendJson(res, 200, {
          object: "list",
          data: Object.keys(options.models ?? Models.defaultModels).map((id) => ({
            id,
            object: "model",
            created: 0,
            owned_by: "effect-dspy-sim"
          }))
        })
      }
      if (path === "/stats" || path === "/v1/stats") return sendJson(res, 200, stats())
      if (path === "/health") return sendJson(res, 200, { ok: true })
      return sendJson(res, 404, apiError(`no route GET ${path}`, "invalid_request_error", "not_found"))
    }
    if (req.method !== "POST")
      return sendJson(res, 405, apiError(`method ${req.method} not allowed`, "invalid_request_error"))
    if (
      path !== "/v1/chat/completions" &&
      path !== "/chat/completions" &&
      path !== "/v1/embeddings" &&
      path !== "/embeddings"
    ) {
      return sendJson(res, 404, apiError(`no route POST ${path}`, "invalid_request_error", "not_found"))
    }
    readBody(req, maxBodyBytes).then(
      (raw) => (path.endsWith("/embeddings") ? embeddings(res, raw) : chat(req, res, raw)),
      (e: unknown) => {
        if (res.headersSent || res.destroyed) return
        if (e instanceof BodyTooLarge) {
          counters.badRequests++
          sendJson(res, 413, apiError(e.message, "invalid_request_error", null, null), { connection: "close" })
        } else bad(res, e instanceof Error ? e.message : String(e))
      }
    )
  })
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000

  return new Promise((resolve, reject) => {
    server.once("error", (e) =>
      reject(
        new SimServerError({
          message: `the simulated LM server could not listen on ${host}:${options.port ?? 0}: ${e.message}`
        })
      )
    )
    server.listen(options.port ?? 0, host, () => {
      const address = server.address() as net.AddressInfo
      const shown = address.family === "IPv6" ? `[${address.address}]` : address.address
      resolve({
        url: `http://${shown}:${address.port}/v1`,
        port: address.port,
        stats,
        setFaults,
        close: () =>
          new Promise<void>((done) => {
            closing = true
            for (const t of timers) clearTimeout(t)
            timers.clear()
            for (const r of held) r.socket?.destroy()
            held.clear()
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}

/**
 * Starts a server run in a scope (port 0 unless given) and closes it when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (options: Options = {}): Effect.Effect<Running, SimServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => start(options),
      catch: (e) =>
        e instanceof SimServerError
          ? e
          : new SimServerError({ message: `the simulated LM server did not start: ${String(e)}` })
    }),
    (running) => Effect.promise(() => running.close())
  )

/**
 * Replaces a running server's fault profile from its next chat request on (`Faults.none` stops the faults);
 * an invalid profile fails with {@link SimServerError} and leaves the one in force.
 *
 * @since 0.1.0
 * @category combinators
 */
export const setFaults = (running: Running, profile: Faults.Profile): Effect.Effect<void, SimServerError> =>
  Effect.try({
    try: () => running.setFaults(profile),
    catch: (e) =>
      e instanceof SimServerError
        ? e
        : new SimServerError({ message: `the simulated LM server's faults were not replaced: ${String(e)}` })
  })
