import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"
import * as OpenAIProvider from "../../src/lm/OpenAIProvider.js"

/** A loopback OpenAI-compatible fixture: each test sets `handler`; requests are recorded. */
interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Record<string, unknown>
}
type Handler = (seen: Seen, res: http.ServerResponse, req: http.IncomingMessage) => void

let handler: Handler = (_, res) => res.end()
const seen: Array<Seen> = []
const server = http.createServer((req, res) => {
  const parts: Array<Buffer> = []
  req.on("data", (b: Buffer) => parts.push(b))
  req.on("end", () => {
    const text = Buffer.concat(parts).toString("utf8")
    const entry: Seen = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>)
    }
    seen.push(entry)
    handler(entry, res, req)
  })
})
let baseURL = ""

beforeAll(
  () =>
    new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", () => {
        baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
        resolve()
      })
    )
)
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
)
beforeEach(() => {
  seen.length = 0
})

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const completion = (choices: Array<Record<string, unknown>>, model = "gpt-4o-mini") => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model,
  choices,
  usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 }
})

const apiKey = Redacted.make("sk-test-secret-123")
const provider = (options: Partial<OpenAIProvider.Options> = {}) =>
  OpenAIProvider.make({ baseURL, apiKey, timeoutMs: 5_000, ...options })

const request: Completion.CompletionRequest = {
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "2+2?" }
  ]
}

describe("OpenAIProvider", () => {
  it.scoped("sends every parameter (not the rollout id) and maps n choices, usage and cost", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        json(
          res,
          200,
          completion([
            { index: 0, message: { role: "assistant", content: "4" }, finish_reason: "stop" },
            { index: 1, message: { role: "assistant", content: "four" }, finish_reason: "length" }
          ])
        )
      const p = yield* provider()
      const response = yield* p.complete({
        ...request,
        n: 2,
        temperature: 0.5,
        maxTokens: 64,
        stop: ["\n"],
        rolloutId: 42,
        responseFormat: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true }
      })
      assert.deepStrictEqual(
        response.choices.map((c) => [c.index, c.content, c.finishReason]),
        [
          [0, "4", "stop"],
          [1, "four", "length"]
        ]
      )
      assert.deepStrictEqual(response.usage, { promptTokens: 1000, completionTokens: 500, totalTokens: 1500 })
      // gpt-4o-mini: $0.15 / M input, $0.60 / M output
      assert.closeTo(response.costUsd, 0.00015 + 0.0003, 1e-12)
      assert.isFalse(response.cacheHit)
      const sent = seen[0]!
      assert.strictEqual(sent.url, "/v1/chat/completions")
      assert.strictEqual(sent.headers.authorization, "Bearer sk-test-secret-123")
      assert.strictEqual(sent.body.n, 2)
      assert.strictEqual(sent.body.temperature, 0.5)
      assert.strictEqual(sent.body.max_tokens, 64)
      assert.deepStrictEqual(sent.body.stop, ["\n"])
      assert.deepStrictEqual(sent.body.response_format, {
        type: "json_schema",
        json_schema: { name: "answer", schema: { type: "object" }, strict: true }
      })
      assert.isUndefined(sent.body.rolloutId)
      assert.notInclude(JSON.stringify(sent.body), "42")
      assert.deepStrictEqual(sent.body.messages, [
        { role: "system", content: "Be brief." },
        { role: "user", content: "2+2?" }
      ])
    })
  )

  it.scoped("sends tools and maps tool calls; unknown models cost 0", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        json(
          res,
          200,
          completion(
            [
              {
                index: 0,
                message: {
                  role: "assistant",
                  content: null,
                  tool_calls: [{ id: "call_1", type: "function", function: { name: "add", arguments: '{"a":2}' } }]
                },
                finish_reason: "tool_calls"
              }
            ],
            "local-llama"
          )
        )
      const p = yield* provider()
      const response = yield* p.complete({
        ...request,
        model: "local-llama",
        responseFormat: { type: "json_object" },
        tools: [{ name: "add", description: "adds", parameters: { type: "object" } }]
      })
      assert.deepStrictEqual(response.choices[0]!.toolCalls, [{ id: "call_1", name: "add", arguments: '{"a":2}' }])
      assert.strictEqual(response.choices[0]!.content, "")
      assert.strictEqual(response.choices[0]!.finishReason, "tool_calls")
      assert.strictEqual(response.costUsd, 0)
      assert.deepStrictEqual(seen[0]!.body.tools, [
        { type: "function", function: { name: "add", description: "adds", parameters: { type: "object" } } }
      ])
      assert.deepStrictEqual(seen[0]!.body.response_format, { type: "json_object" })
    })
  )

  it.scoped("streams SSE deltas per choice with usage on the last chunk", () =>
    Effect.gen(function* () {
      handler = (_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`)
        const chunk = (choices: Array<unknown>, usage: unknown = null) => ({
          id: "c",
          object: "chat.completion.chunk",
          created: 1,
          model: "gpt-4o-mini",
          choices,
          usage
        })
        send(chunk([{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null }]))
        send(chunk([{ index: 1, delta: { content: "Bon" }, finish_reason: null }]))
        send(chunk([{ index: 0, delta: { content: "lo" }, finish_reason: null }]))
        send(chunk([{ index: 1, delta: { content: "jour" }, finish_reason: "stop" }]))
        send(chunk([{ index: 0, delta: {}, finish_reason: "stop" }]))
        send(chunk([], { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }))
        res.end("data: [DONE]\n\n")
      }
      const p = yield* provider()
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(p.stream({ ...request, n: 2 })))
      const text = (i: number) =>
        chunks
          .filter((c) => c.index === i)
          .map((c) => c.delta)
          .join("")
      assert.strictEqual(text(0), "Hello")
      assert.strictEqual(text(1), "Bonjour")
      assert.deepStrictEqual(chunks.at(-1)!.usage, { promptTokens: 3, completionTokens: 4, totalTokens: 7 })
      assert.strictEqual(chunks.filter((c) => c.finishReason === "stop").length, 2)
      assert.strictEqual(seen[0]!.body.stream, true)
      assert.deepStrictEqual(seen[0]!.body.stream_options, { include_usage: true })
    })
  )

  it.scoped("assembles streamed tool calls", () =>
    Effect.gen(function* () {
      handler = (_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        const send = (choice: unknown) =>
          res.write(
            `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [choice] })}\n\n`
          )
        send({
          index: 0,
          delta: { tool_calls: [{ index: 0, id: "call_9", function: { name: "add", arguments: '{"a"' } }] }
        })
        send({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ":1}" } }] } })
        send({ index: 0, delta: {}, finish_reason: "tool_calls" })
        res.end("data: [DONE]\n\n")
      }
      const p = yield* provider()
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(p.stream(request)))
      assert.deepStrictEqual(chunks.at(-1)!.toolCalls, [{ id: "call_9", name: "add", arguments: '{"a":1}' }])
      assert.strictEqual(chunks.at(-1)!.finishReason, "tool_calls")
    })
  )

  it.scoped("embeds via /embeddings in input order", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        json(res, 200, {
          object: "list",
          model: "text-embedding-3-small",
          data: [
            { object: "embedding", index: 1, embedding: [0, 1] },
            { object: "embedding", index: 0, embedding: [1, 0] }
          ],
          usage: { prompt_tokens: 2, total_tokens: 2 }
        })
      const p = yield* provider()
      const vectors = yield* p.embed(["a", "b"])
      assert.deepStrictEqual(vectors, [
        [1, 0],
        [0, 1]
      ])
      assert.strictEqual(seen[0]!.url, "/v1/embeddings")
      assert.strictEqual(seen[0]!.body.encoding_format, "float")
      assert.deepStrictEqual(seen[0]!.body.input, ["a", "b"])
    })
  )

  describe("error mapping", () => {
    const cases: Array<[string, number, Record<string, unknown>, Record<string, string>, string]> = [
      ["429", 429, { error: { message: "slow down" } }, {}, "LMRateLimited"],
      ["401", 401, { error: { message: "Incorrect API key provided: sk-test-secret-123" } }, {}, "LMAuthError"],
      ["403", 403, { error: { message: "forbidden" } }, {}, "LMAuthError"],
      ["400", 400, { error: { message: "bad temperature" } }, {}, "LMBadRequest"],
      ["404", 404, { error: { message: "no such model" } }, {}, "LMBadRequest"],
      ["422", 422, { error: { message: "unprocessable" } }, {}, "LMBadRequest"],
      [
        "400 context_length_exceeded",
        400,
        { error: { message: "This model's maximum context length is 8192 tokens", code: "context_length_exceeded" } },
        {},
        "LMContextWindowExceeded"
      ],
      ["500", 500, { error: { message: "oops" } }, {}, "LMServerError"],
      ["503", 503, { error: { message: "overloaded" } }, {}, "LMServerError"]
    ]
    for (const [name, status, body, headers, tag] of cases) {
      it.scoped(`maps ${name} to ${tag}`, () =>
        Effect.gen(function* () {
          handler = (_, res) => json(res, status, body, headers)
          const p = yield* provider()
          const error = yield* Effect.flip(p.complete(request))
          assert.strictEqual(error._tag, tag)
          assert.strictEqual(error.provider, "openai")
          assert.notInclude(error.message, "sk-test-secret-123")
          assert.notInclude(JSON.stringify(error), "sk-test-secret-123")
        })
      )
    }

    it.scoped("reads Retry-After in seconds and retry-after-ms", () =>
      Effect.gen(function* () {
        const p = yield* provider()
        handler = (_, res) => json(res, 429, { error: { message: "slow" } }, { "retry-after": "2" })
        const seconds = yield* Effect.flip(p.complete(request))
        assert.strictEqual(seconds._tag === "LMRateLimited" && seconds.retryAfterMs, 2000)
        handler = (_, res) => json(res, 429, { error: { message: "slow" } }, { "retry-after-ms": "150" })
        const millis = yield* Effect.flip(p.complete(request))
        assert.strictEqual(millis._tag === "LMRateLimited" && millis.retryAfterMs, 150)
      })
    )

    it("parses an HTTP-date Retry-After against the given time", () => {
      const now = Date.parse("2025-01-01T00:00:00Z")
      const headers = new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:03 GMT" })
      assert.strictEqual(OpenAIProvider.parseRetryAfter(headers, now), 3000)
      assert.isUndefined(OpenAIProvider.parseRetryAfter(new Headers({ "retry-after": "soon" }), now))
    })

    it.scoped("maps a refused connection to LMServerError", () =>
      Effect.gen(function* () {
        const p = yield* OpenAIProvider.make({ baseURL: "http://127.0.0.1:1/v1", apiKey })
        const error = yield* Effect.flip(p.complete(request))
        assert.strictEqual(error._tag, "LMServerError")
        assert.include(error.message, "base URL")
      })
    )

    it.scoped("maps a request that outlives its timeout to LMTimeout", () =>
      Effect.gen(function* () {
        handler = () => {}
        const p = yield* provider({ timeoutMs: 100 })
        const error = yield* Effect.flip(p.complete(request))
        assert.strictEqual(error._tag, "LMTimeout")
        assert.strictEqual(error._tag === "LMTimeout" && error.timeoutMs, 100)
      })
    )
  })

  it.scoped("interrupting a call aborts the HTTP request (the server sees the connection close)", () =>
    Effect.gen(function* () {
      const arrived = yield* Deferred.make<void>()
      const closed = yield* Deferred.make<void>()
      handler = (_, res) => {
        res.on("close", () => Deferred.unsafeDone(closed, Effect.void))
        Deferred.unsafeDone(arrived, Effect.void)
      }
      const p = yield* provider({ timeoutMs: 60_000 })
      const fiber = yield* Effect.fork(p.complete(request))
      yield* Deferred.await(arrived)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(closed)
      assert.isTrue(yield* Deferred.isDone(closed))
    })
  )

  it.scopedLive("works behind the LM service, whose retries recover from a 503", () =>
    Effect.gen(function* () {
      let n = 0
      handler = (_, res) =>
        ++n === 1
          ? json(res, 503, { error: { message: "busy" } })
          : json(
              res,
              200,
              completion([{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }])
            )
      const p = yield* provider()
      const lm = yield* LM.make({ provider: p, model: "gpt-4o-mini", retry: { baseDelayMs: 1 } })
      const response = yield* lm.complete({ messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(response.choices[0]!.content, "ok")
      assert.strictEqual(seen.length, 2)
    })
  )
})
