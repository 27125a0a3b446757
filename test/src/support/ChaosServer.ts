/**
 * A local chaos server for the hardening suite: it speaks the OpenAI chat-completions protocol
 * (`POST /v1/chat/completions`, plain and `stream: true`) on loopback, on a free port, and answers each request
 * with one behaviour drawn from a seeded mix (foundation's `Random`, keyed by the request's arrival number):
 *
 * - `valid`: a well-formed completion, or a server-sent event stream when the request asked for one;
 * - `html`, `bad_json`, `missing_choices`, `null_body`: a 200 whose body is an HTML page, JSON cut short, JSON
 *   without `choices`, or `null` (as SSE events when streamed);
 * - `drip`: a valid answer trickled a few bytes at a time with small real gaps, so that some finish within the
 *   client's timeouts and some do not;
 * - `reset`: headers and half a body, then the connection is destroyed;
 * - `oversized`: a body past `oversizedBytes` (declared in `content-length` or not, or a stream of big events).
 *
 * The only real delays are the drips' gaps, inside the server. {@link serve} stops it (timers cleared,
 * connections destroyed, port closed) when its scope closes. Used by `Chaos.test.ts` and by the
 * `hardening-chaos` bench (imported as `@effect-dspy/integration-tests/ChaosServer`).
 */
import { Random } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type * as net from "node:net"

/** The behaviours a request can get. */
export const kinds = [
  "valid",
  "html",
  "bad_json",
  "missing_choices",
  "null_body",
  "drip",
  "reset",
  "oversized"
] as const

/** One behaviour. */
export type Kind = (typeof kinds)[number]

/** The default mix: half valid answers, the rest spread over the hostile behaviours. */
export const defaultMix: Readonly<Record<Kind, number>> = {
  valid: 0.5,
  html: 0.05,
  bad_json: 0.05,
  missing_choices: 0.05,
  null_body: 0.05,
  drip: 0.1,
  reset: 0.1,
  oversized: 0.1
}

/** The default answer: DSPy's chat format for a ChainOfThought over `question -> answer: int`. */
export const defaultContent =
  "[[ ## reasoning ## ]]\nThe chaos server always says so.\n\n[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]"

/** Settings of the server. */
export interface Options {
  /** The seed of the mix (default 0). */
  readonly seed?: number
  /** Weights by behaviour (missing ones are 0); default {@link defaultMix}. */
  readonly mix?: Partial<Record<Kind, number>>
  /** The content of valid answers; default {@link defaultContent}. */
  readonly content?: string
  /** The size of an oversized body, in bytes (default 1 MiB): set the client's limit below it. */
  readonly oversizedBytes?: number
  /** The longest gap between two dripped pieces, in ms (default 40); each drip draws its own gap up to this. */
  readonly dripMaxGapMs?: number
  /** Bytes per dripped piece (default 16). */
  readonly dripBytes?: number
}

/** What the server did so far. */
export interface Stats {
  /** Chat-completion requests received. */
  readonly requests: number
  /** Of which asked for a stream. */
  readonly streams: number
  /** Requests by the behaviour they got. */
  readonly byKind: Readonly<Record<Kind, number>>
  /** Connections open now. */
  readonly openConnections: number
  /** Drips still writing now. */
  readonly activeDrips: number
}

/** A running server. */
export interface Running {
  /** The base URL of the API (`http://127.0.0.1:<port>/v1`). */
  readonly url: string
  /** Its counters. */
  readonly stats: () => Stats
  /** Whether it still listens (false once its scope closed). */
  readonly listening: () => boolean
}

interface ChatRequest {
  readonly model?: unknown
  readonly stream?: unknown
}

const completionBody = (content: string, model: string) =>
  JSON.stringify({
    id: "chatcmpl-chaos",
    object: "chat.completion",
    created: 0,
    model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 }
  })

const event = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`

const chunkEvent = (model: string, content: string, finish: string | null) =>
  event({
    id: "chatcmpl-chaos",
    object: "chat.completion.chunk",
    created: 0,
    model,
    choices: [{ index: 0, delta: { content }, finish_reason: finish }]
  })

/** A valid stream: the content in a few chunks, the usage, then `[DONE]`. */
const streamBody = (content: string, model: string) => {
  const pieces: Array<string> = []
  for (let i = 0; i < content.length; i += 24) pieces.push(chunkEvent(model, content.slice(i, i + 24), null))
  pieces.push(chunkEvent(model, "", "stop"))
  pieces.push(event({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 } }))
  pieces.push(event("[DONE]"))
  return pieces.join("")
}

const html = "<!doctype html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

/**
 * Starts the server on a free loopback port; it is stopped when the scope closes.
 */
export const serve = (options: Options = {}): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly running: Running; readonly stop: () => Promise<void> }>((resume) => {
      const seed = options.seed ?? 0
      const mix = options.mix ?? defaultMix
      const weights = kinds.map((k) => mix[k] ?? 0)
      const content = options.content ?? defaultContent
      const oversizedBytes = options.oversizedBytes ?? 1024 * 1024
      const dripMaxGapMs = options.dripMaxGapMs ?? 40
      const dripBytes = options.dripBytes ?? 16
      const byKind = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<Kind, number>
      const sockets = new Set<net.Socket>()
      const timers = new Set<NodeJS.Timeout>()
      let requests = 0
      let streams = 0
      let drips = 0
      let listening = false

      /** Writes `body` a piece at a time, with a gap drawn up to `dripMaxGapMs`, until it is written or the client left. */
      const drip = (res: http.ServerResponse, body: string, rng: Random.Random) => {
        const gap = rng.between(1, dripMaxGapMs)
        let at = 0
        drips++
        const done = () => {
          drips--
        }
        const tick = () => {
          if (res.destroyed || res.writableEnded) return done()
          const piece = body.slice(at, at + dripBytes)
          at += dripBytes
          if (at >= body.length) {
            res.end(piece)
            return done()
          }
          res.write(piece)
          const timer = setTimeout(() => {
            timers.delete(timer)
            tick()
          }, gap)
          timers.add(timer)
        }
        tick()
      }

      const answer = (req: http.IncomingMessage, res: http.ServerResponse, text: string) => {
        let parsed: ChatRequest = {}
        try {
          parsed = JSON.parse(text) as ChatRequest
        } catch {
          res.writeHead(400, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: { message: "the request body is not JSON" } }))
          return
        }
        const index = requests++
        const stream = parsed.stream === true
        if (stream) streams++
        const model = typeof parsed.model === "string" ? parsed.model : "chaos-1"
        const rng = Random.make(seed, "chaos", index)
        const kind = kinds[rng.weighted(weights)]!
        byKind[kind]++
        const sse = { "content-type": "text/event-stream", "cache-control": "no-cache" }
        const json = { "content-type": "application/json" }
        const valid = stream ? streamBody(content, model) : completionBody(content, model)
        switch (kind) {
          case "valid":
            res.writeHead(200, stream ? sse : json)
            res.end(valid)
            return
          case "html":
            res.writeHead(200, { "content-type": "text/html" })
            res.end(html)
            return
          case "bad_json":
            if (stream) {
              res.writeHead(200, sse)
              res.end(event('{"choices": [{"index": 0, "delta": {"content": "cut')) // (sic)
            } else {
              res.writeHead(200, json)
              res.end(valid.slice(0, Math.floor(valid.length / 2)))
            }
            return
          case "missing_choices":
            res.writeHead(200, stream ? sse : json)
            res.end(stream ? event({ id: "chatcmpl-chaos" }) : JSON.stringify({ id: "chatcmpl-chaos", model }))
            return
          case "null_body":
            res.writeHead(200, stream ? sse : json)
            res.end(stream ? event("null") : "null")
            return
          case "drip":
            res.writeHead(200, stream ? sse : json)
            drip(res, valid, rng)
            return
          case "reset":
            res.writeHead(200, stream ? sse : json)
            res.write(valid.slice(0, Math.floor(valid.length / 2)))
            // Flushed, then the connection is torn down mid-body.
            setImmediate(() => req.socket.destroy())
            return
          case "oversized": {
            if (stream) {
              res.writeHead(200, sse)
              const piece = chunkEvent(model, "x".repeat(16 * 1024), null)
              res.end(piece.repeat(Math.ceil(oversizedBytes / piece.length) + 1))
            } else {
              const padding = "x".repeat(oversizedBytes)
              const body = completionBody(padding, model)
              // Half declare their length (the client can refuse at once), half are chunked (counted as read).
              res.writeHead(200, rng.chance(0.5) ? { ...json, "content-length": Buffer.byteLength(body) } : json)
              res.end(body)
            }
            return
          }
        }
      }

      const server = http.createServer((req, res) => {
        if (req.method !== "POST" || !(req.url ?? "").endsWith("/chat/completions")) {
          res.writeHead(404, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }))
          return
        }
        const parts: Array<Buffer> = []
        req.on("data", (part: Buffer) => parts.push(part))
        req.on("end", () => answer(req, res, Buffer.concat(parts).toString("utf8")))
        req.on("error", () => undefined)
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        // A reset or an aborted client surfaces here; the server just forgets the socket.
        socket.on("error", () => undefined)
      })
      server.on("clientError", (_error, socket) => socket.destroy())

      const stop = () =>
        new Promise<void>((resolve) => {
          for (const timer of timers) clearTimeout(timer)
          timers.clear()
          drips = 0
          const closed = [...sockets].map(
            (socket) => new Promise<void>((done) => (socket.destroyed ? done() : socket.once("close", () => done())))
          )
          for (const socket of sockets) socket.destroy()
          server.close(() => {
            listening = false
            void Promise.all(closed).then(() => resolve())
          })
        })

      server.listen(0, "127.0.0.1", () => {
        listening = true
        const address = server.address() as net.AddressInfo
        resume(
          Effect.succeed({
            running: {
              url: `http://127.0.0.1:${address.port}/v1`,
              listening: () => listening,
              stats: () => ({
                requests,
                streams,
                byKind: { ...byKind },
                openConnections: sockets.size,
                activeDrips: drips
              })
            },
            stop
          })
        )
      })
    }),
    ({ stop }) => Effect.promise(stop)
  ).pipe(Effect.map(({ running }) => running))
