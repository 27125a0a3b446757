/** A loopback HTTP server for provider tests, started in the test's scope and stopped with it. */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

/** Starts a server on 127.0.0.1 (a free port); `baseURL` ends in `/v1`. Every connection is closed at the end. */
export const serve = (handler: Handler): Effect.Effect<{ readonly baseURL: string }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer((req, res) => {
        const parts: Array<Buffer> = []
        req.on("data", (b: Buffer) => parts.push(b))
        req.on("end", () => handler(req, res, Buffer.concat(parts).toString("utf8")))
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((server) => ({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` })))

/** A chat completion body with one choice. */
export const completion = (content: string, extra: Record<string, unknown> = {}) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  ...extra
})

/** A streamed chunk body. */
export const chunk = (content: string, finish: string | null = null) => ({
  id: "c",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta: { content }, finish_reason: finish }]
})
