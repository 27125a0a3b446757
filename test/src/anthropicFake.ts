/**
 * A local fake of Anthropic's Messages API for the integration tests: a node:http server on 127.0.0.1 (a free
 * port), closed with the test's scope. It reads a `POST /v1/messages` body, answers with the simulated LM's engine
 * (the same answers the simulated LM's OpenAI-compatible server gives), as one message or as the API's event
 * stream, and injects the simulated LM's fault kinds the way the Messages API shows them: `rate_limit` a 429
 * `rate_limit_error` with Retry-After, `server_error` a 500 `api_error`, `unavailable` a 529 `overloaded_error`,
 * `timeout` a held request whose socket is destroyed later, `reset` a reset connection, output faults corrupted
 * text, `truncated_stream` half the events and a broken connection.
 */
import { Random } from "@effect-dspy/foundation"
import type { Completion } from "@effect-dspy/core"
import { Engine, SimFaults } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** What the fake counts. */
export interface Stats {
  readonly completions: number
  /** Image blocks received (base64 sources), handed to the engine as image parts. */
  readonly images: number
  readonly streams: number
  readonly faults: { readonly [K in SimFaults.Kind]?: number }
}

/** A running fake: its base URL (give it as the provider's `baseUrl`) and counters. */
export interface Running {
  readonly url: string
  readonly stats: () => Stats
}

type Block = {
  readonly type: string
  readonly text?: string
  readonly id?: string
  readonly name?: string
  readonly input?: unknown
  readonly tool_use_id?: string
  readonly content?: unknown
  readonly source?: { readonly type?: string; readonly media_type?: string; readonly data?: string }
}

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? (content as Array<Block>).map((b) => (b.type === "text" ? (b.text ?? "") : "")).join("")
      : ""

/** A Messages API body as a completion request for the engine. */
const toRequest = (body: Record<string, unknown>): Completion.CompletionRequest => {
  const messages: Array<Completion.Message> = []
  if (typeof body["system"] === "string") messages.push({ role: "system", content: body["system"] })
  for (const m of (body["messages"] ?? []) as Array<{ role: string; content: unknown }>) {
    const blocks: Array<Block> =
      typeof m.content === "string" ? [{ type: "text", text: m.content }] : (m.content as Array<Block>)
    for (const b of blocks.filter((x) => x.type === "tool_result")) {
      messages.push({ role: "tool", content: textOf(b.content), toolCallId: b.tool_use_id ?? "" })
    }
    const text = blocks
      .filter((x) => x.type === "text")
      .map((x) => x.text ?? "")
      .join("")
    const calls = blocks
      .filter((x) => x.type === "tool_use")
      .map((x) => ({ id: x.id ?? "", name: x.name ?? "", arguments: JSON.stringify(x.input ?? {}) }))
    const images = blocks.filter((x) => x.type === "image" && x.source?.type === "base64")
    if (images.length > 0) {
      // Images go to the engine as OpenAI image parts (data URIs), in place among the text.
      messages.push({
        role: "user",
        content: blocks
          .filter((x) => x.type === "text" || images.includes(x))
          .map(
            (x): Completion.ContentPart =>
              x.type === "text"
                ? { type: "text", text: x.text ?? "" }
                : { type: "image_url", image_url: { url: `data:${x.source!.media_type};base64,${x.source!.data}` } }
          )
      })
    } else if (text !== "" || calls.length > 0 || blocks.length === 0) {
      messages.push({
        role: m.role === "assistant" ? "assistant" : "user",
        content: text,
        ...(calls.length > 0 ? { toolCalls: calls } : {})
      })
    }
  }
  const format = (body["output_config"] as { format?: { schema?: Record<string, unknown> } } | undefined)?.format
  const tools = (body["tools"] ?? []) as Array<{
    name: string
    description?: string
    input_schema?: Record<string, unknown>
  }>
  return {
    model: typeof body["model"] === "string" ? body["model"] : "sim-1",
    messages,
    ...(typeof body["max_tokens"] === "number" ? { maxTokens: body["max_tokens"] } : {}),
    ...(Array.isArray(body["stop_sequences"]) ? { stop: body["stop_sequences"] as Array<string> } : {}),
    ...(format?.schema !== undefined
      ? { responseFormat: { type: "json_schema" as const, name: "output", schema: format.schema } }
      : {}),
    ...(tools.length > 0
      ? {
          tools: tools.map((t) => ({
            name: t.name,
            description: t.description ?? "",
            parameters: t.input_schema ?? { type: "object" }
          }))
        }
      : {})
  }
}

const stopReason = (reason: Completion.FinishReason): string =>
  reason === "length" ? "max_tokens" : reason === "tool_calls" ? "tool_use" : "end_turn"

const contentOf = (choice: Completion.Choice) => [
  ...(choice.content === "" ? [] : [{ type: "text", text: choice.content }]),
  ...(choice.toolCalls ?? []).map((c) => ({
    type: "tool_use",
    id: c.id,
    name: c.name,
    input: JSON.parse(c.arguments) as unknown
  }))
]

const apiError = (type: string, message: string) => JSON.stringify({ type: "error", error: { type, message } })

/** Starts the fake in the current scope. */
export const serve = (options: {
  readonly faults?: SimFaults.Profile
  readonly chunkChars?: number
}): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; running: Running; close: () => void }>((resume) => {
      const faults = options.faults ?? SimFaults.none
      const chunkChars = options.chunkChars ?? 24
      const counters = { completions: 0, images: 0, streams: 0, faults: {} as { [K in SimFaults.Kind]?: number } }
      const held = new Set<http.IncomingMessage>()
      const timers = new Set<NodeJS.Timeout>()
      let calls = 0
      const later = (ms: number, f: () => void) => {
        const t = setTimeout(() => {
          timers.delete(t)
          f()
        }, ms)
        timers.add(t)
      }
      const server = http.createServer((req, res) => {
        const parts: Array<Buffer> = []
        req.on("data", (b: Buffer) => parts.push(b))
        req.on("end", () => {
          if (req.method !== "POST" || req.url !== "/v1/messages") {
            res.writeHead(404, { "content-type": "application/json" })
            return res.end(apiError("not_found_error", `no route ${req.method} ${req.url}`))
          }
          const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>
          for (const m of (body["messages"] ?? []) as Array<{ content: unknown }>) {
            if (Array.isArray(m.content)) {
              counters.images += (m.content as Array<Block>).filter(
                (b) => b.type === "image" && b.source?.type === "base64"
              ).length
            }
          }
          const stream = body["stream"] === true
          const call = calls++
          const allowed = stream
            ? SimFaults.kinds
            : SimFaults.kinds.filter((k) => k !== "slow_stream" && k !== "truncated_stream")
          const fault = SimFaults.draw(faults, call, allowed)
          if (fault !== undefined) counters.faults[fault] = (counters.faults[fault] ?? 0) + 1
          const json = (status: number, text: string, headers: Record<string, string> = {}) => {
            res.writeHead(status, { "content-type": "application/json", ...headers })
            res.end(text)
          }
          switch (fault) {
            case "rate_limit":
              return json(429, apiError("rate_limit_error", "Rate limited (simulated fault)"), {
                "retry-after": String(faults.retryAfterSeconds ?? 1)
              })
            case "server_error":
              return json(500, apiError("api_error", "Internal server error (simulated fault)"))
            case "unavailable":
              return json(529, apiError("overloaded_error", "Overloaded (simulated fault)"))
            case "reset":
              return req.socket.destroy()
            case "timeout":
              held.add(req)
              return later(faults.timeoutMs ?? 5_000, () => {
                held.delete(req)
                req.socket.destroy()
              })
          }
          const transform =
            fault !== undefined && SimFaults.outputKinds.includes(fault)
              ? (content: string, i: number) =>
                  SimFaults.corrupt(content, fault, Random.fromState(Random.hashParts("corrupt", call, i)))
              : undefined
          const response = Engine.respond({ ...toRequest(body), n: 1 }, {}, transform)
          const choice = response.choices[0]!
          const usage = { input_tokens: response.usage.promptTokens, output_tokens: response.usage.completionTokens }
          if (!stream) {
            counters.completions++
            return json(
              200,
              JSON.stringify({
                id: `msg_${call}`,
                type: "message",
                role: "assistant",
                model: response.model,
                content: contentOf(choice),
                stop_reason: stopReason(choice.finishReason),
                stop_sequence: null,
                usage
              })
            )
          }
          counters.streams++
          const events: Array<string> = []
          const event = (type: string, data: Record<string, unknown>) =>
            events.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
          event("message_start", {
            message: {
              id: `msg_${call}`,
              type: "message",
              role: "assistant",
              model: response.model,
              content: [],
              usage: { input_tokens: usage.input_tokens, output_tokens: 1 }
            }
          })
          event("content_block_start", { index: 0, content_block: { type: "text", text: "" } })
          for (let i = 0; i < choice.content.length; i += chunkChars) {
            event("content_block_delta", {
              index: 0,
              delta: { type: "text_delta", text: choice.content.slice(i, i + chunkChars) }
            })
          }
          event("content_block_stop", { index: 0 })
          ;(choice.toolCalls ?? []).forEach((c, i) => {
            event("content_block_start", {
              index: i + 1,
              content_block: { type: "tool_use", id: c.id, name: c.name, input: {} }
            })
            event("content_block_delta", {
              index: i + 1,
              delta: { type: "input_json_delta", partial_json: c.arguments }
            })
            event("content_block_stop", { index: i + 1 })
          })
          event("message_delta", {
            delta: { stop_reason: stopReason(choice.finishReason) },
            usage: { output_tokens: usage.output_tokens }
          })
          event("message_stop", {})
          res.writeHead(200, { "content-type": "text/event-stream" })
          if (fault === "truncated_stream") {
            res.write(events.slice(0, Math.max(1, Math.floor(events.length / 2))).join(""))
            return later(5, () => req.socket.destroy())
          }
          res.end(events.join(""))
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port
        resume(
          Effect.succeed({
            server,
            running: {
              url: `http://127.0.0.1:${port}`,
              stats: () => ({ ...counters, faults: { ...counters.faults } })
            },
            close: () => {
              for (const t of timers) clearTimeout(t)
              for (const r of held) r.socket.destroy()
            }
          })
        )
      })
    }),
    ({ server, close }) =>
      Effect.async<void>((resume) => {
        close()
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ running }) => running))
