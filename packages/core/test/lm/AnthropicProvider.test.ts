/**
 * The Anthropic provider against a local fake of the Messages API on loopback (a node:http server on a free port,
 * stopped after the tests): the request it sends, the answers it reads (text, tools, n choices, streams), and
 * the typed error each failure becomes. The API key never shows in an error.
 */
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as AnthropicProvider from "../../src/lm/AnthropicProvider.js"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"

interface Seen {
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Record<string, unknown>
}
type Handler = (seen: Seen, res: http.ServerResponse) => void

let handler: Handler = (_, res) => res.end()
const seen: Array<Seen> = []
const server = http.createServer((req, res) => {
  const parts: Array<Buffer> = []
  req.on("data", (b: Buffer) => parts.push(b))
  req.on("end", () => {
    const text = Buffer.concat(parts).toString("utf8")
    const entry: Seen = {
      url: req.url ?? "",
      headers: req.headers,
      body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>)
    }
    seen.push(entry)
    handler(entry, res)
  })
})
let baseURL = ""
beforeAll(
  () =>
    new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", () => {
        baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
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

const SECRET = "sk-ant-test-secret-456"
const apiKey = Redacted.make(SECRET)
const provider = (options: Partial<AnthropicProvider.Options> = {}) =>
  AnthropicProvider.make({ baseURL, apiKey, timeoutMs: 5_000, ...options })

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}
const raw = (res: http.ServerResponse, contentType: string, body: string) => {
  res.writeHead(200, { "content-type": contentType })
  res.end(body)
}
const message = (content: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) => ({
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "claude-haiku-4-5",
  content,
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 1000, output_tokens: 500, cache_read_input_tokens: 200 },
  ...extra
})
const apiError = (type: string, text: string) => ({ type: "error", error: { type, message: text } })
const sse = (res: http.ServerResponse, events: Array<[string, unknown]>, end = true) => {
  res.writeHead(200, { "content-type": "text/event-stream" })
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  if (end) res.end()
}

const request: Completion.CompletionRequest = {
  model: "claude-haiku-4-5",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "2+2?" }
  ]
}

describe("AnthropicProvider", () => {
  it.scoped("sends the system prompt, turns, stop sequences, max_tokens and the key; maps text, usage and cost", () =>
    Effect.gen(function* () {
      handler = (_, res) => json(res, 200, message([{ type: "text", text: "4" }]))
      const p = yield* provider()
      const response = yield* p.complete({ ...request, maxTokens: 64, stop: ["\n"], temperature: 0.5, rolloutId: 7 })
      assert.strictEqual(response.choices[0]!.content, "4")
      assert.strictEqual(response.choices[0]!.finishReason, "stop")
      // cache reads count as prompt tokens
      assert.deepStrictEqual(response.usage, { promptTokens: 1200, completionTokens: 500, totalTokens: 1700 })
      // claude-haiku-4-5: $1 / M input, $5 / M output
      assert.closeTo(response.costUsd, 0.0012 + 0.0025, 1e-12)
      const sent = seen[0]!
      assert.strictEqual(sent.url, "/v1/messages")
      // the SDK sends the key as a bearer token (older API versions: x-api-key)
      assert.include([sent.headers.authorization, `Bearer ${sent.headers["x-api-key"]}`], `Bearer ${SECRET}`)
      assert.isString(sent.headers["anthropic-version"])
      assert.strictEqual(sent.body.system, "Be brief.")
      assert.deepStrictEqual(sent.body.messages, [{ role: "user", content: "2+2?" }])
      assert.strictEqual(sent.body.max_tokens, 64)
      assert.deepStrictEqual(sent.body.stop_sequences, ["\n"])
      // the API takes no temperature, and the rollout id is never sent
      assert.isUndefined(sent.body.temperature)
      assert.notInclude(JSON.stringify(sent.body), "rollout")
    })
  )

  it.scoped("a json_schema format becomes output_config.format; json_object is left to the prompt", () =>
    Effect.gen(function* () {
      handler = (_, res) => json(res, 200, message([{ type: "text", text: '{"a":1}' }]))
      const p = yield* provider()
      const schema = { type: "object", properties: { a: { type: "integer" } }, required: ["a"] }
      yield* p.complete({ ...request, responseFormat: { type: "json_schema", name: "out", schema, strict: true } })
      assert.deepStrictEqual(seen[0]!.body.output_config, { format: { type: "json_schema", schema } })
      yield* p.complete({ ...request, responseFormat: { type: "json_object" } })
      assert.isUndefined(seen[1]!.body.output_config)
      // no maxTokens: the default, within the model's largest answer
      assert.strictEqual(seen[1]!.body.max_tokens, 4096)
    })
  )

  it.scoped("sends tools, tool calls and tool results as blocks; reads tool_use blocks as tool calls", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        json(
          res,
          200,
          message(
            [
              { type: "thinking", thinking: "...", signature: "s" },
              { type: "tool_use", id: "toolu_1", name: "add", input: { a: 2, b: 3 } }
            ],
            { stop_reason: "tool_use" }
          )
        )
      const p = yield* provider()
      const response = yield* p.complete({
        ...request,
        messages: [
          ...request.messages,
          { role: "assistant", content: "", toolCalls: [{ id: "toolu_0", name: "add", arguments: '{"a":1}' }] },
          { role: "tool", content: "1", toolCallId: "toolu_0" },
          { role: "user", content: "and 2+3?" }
        ],
        tools: [{ name: "add", description: "adds", parameters: { type: "object" } }]
      })
      assert.deepStrictEqual(response.choices[0]!.toolCalls, [
        { id: "toolu_1", name: "add", arguments: '{"a":2,"b":3}' }
      ])
      assert.strictEqual(response.choices[0]!.finishReason, "tool_calls")
      assert.strictEqual(response.choices[0]!.content, "")
      const body = seen[0]!.body
      assert.deepStrictEqual(body.tools, [{ name: "add", description: "adds", input_schema: { type: "object" } }])
      assert.deepStrictEqual(body.messages, [
        { role: "user", content: "2+2?" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_0", name: "add", input: { a: 1 } }] },
        // the tool result and the next user turn are one user turn
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_0", content: "1" },
            { type: "text", text: "and 2+3?" }
          ]
        }
      ])
    })
  )

  it.scoped("a tool call whose arguments are not JSON is refused before sending", () =>
    Effect.gen(function* () {
      const p = yield* provider()
      const error = yield* Effect.flip(
        p.complete({
          ...request,
          messages: [
            ...request.messages,
            { role: "assistant", content: "", toolCalls: [{ id: "t", name: "f", arguments: "{oops" }] }
          ]
        })
      )
      assert.strictEqual(error._tag, "LMBadRequest")
      assert.include(error.message, "not JSON")
      assert.strictEqual(seen.length, 0)
    })
  )

  it.scoped("n choices are n requests made together, usage summed", () =>
    Effect.gen(function* () {
      let i = 0
      handler = (_, res) => json(res, 200, message([{ type: "text", text: `answer ${i++}` }]))
      const p = yield* provider()
      const response = yield* p.complete({ ...request, n: 3 })
      assert.strictEqual(seen.length, 3)
      assert.deepStrictEqual(
        response.choices.map((c) => c.index),
        [0, 1, 2]
      )
      assert.deepStrictEqual(
        new Set(response.choices.map((c) => c.content)),
        new Set(["answer 0", "answer 1", "answer 2"])
      )
      assert.strictEqual(response.usage.completionTokens, 1500)
    })
  )

  it.scoped("streams text deltas and tool calls, with usage and the finish reason on the last chunk", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        sse(res, [
          [
            "message_start",
            {
              type: "message_start",
              message: { id: "m", model: "claude-haiku-4-5", usage: { input_tokens: 9, output_tokens: 1 } }
            }
          ],
          ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
          ["ping", { type: "ping" }],
          [
            "content_block_delta",
            { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } }
          ],
          ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo" } }],
          ["content_block_stop", { type: "content_block_stop", index: 0 }],
          [
            "content_block_start",
            {
              type: "content_block_start",
              index: 1,
              content_block: { type: "tool_use", id: "toolu_9", name: "add", input: {} }
            }
          ],
          [
            "content_block_delta",
            { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"a"' } }
          ],
          [
            "content_block_delta",
            { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: ":1}" } }
          ],
          [
            "message_delta",
            { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 12 } }
          ],
          ["message_stop", { type: "message_stop" }]
        ])
      const p = yield* provider()
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(p.stream(request)))
      assert.strictEqual(chunks.map((c) => c.delta).join(""), "Hello")
      const last = chunks.at(-1)!
      assert.strictEqual(last.finishReason, "tool_calls")
      assert.deepStrictEqual(last.toolCalls, [{ id: "toolu_9", name: "add", arguments: '{"a":1}' }])
      assert.deepStrictEqual(last.usage, { promptTokens: 9, completionTokens: 12, totalTokens: 21 })
      assert.strictEqual(seen[0]!.body.stream, true)
    })
  )

  it.scoped("a stream cut before message_stop fails with LMServerError, not a silently short answer", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        sse(res, [
          ["message_start", { type: "message_start", message: { usage: { input_tokens: 1 } } }],
          ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "par" } }]
        ])
      const p = yield* provider()
      const error = yield* Effect.flip(Stream.runDrain(p.stream(request)))
      assert.strictEqual(error._tag, "LMServerError")
      assert.include(error.message, "message_stop")
    })
  )

  it.scoped("an overloaded error event mid-stream is a retryable LMServerError 529", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        sse(res, [
          ["message_start", { type: "message_start", message: { usage: { input_tokens: 1 } } }],
          ["error", apiError("overloaded_error", "Overloaded")]
        ])
      const p = yield* provider()
      const error = yield* Effect.flip(Stream.runDrain(p.stream(request)))
      assert.strictEqual(error._tag, "LMServerError")
      assert.strictEqual((error as { status?: number }).status, 529)
      assert.isTrue(error.retryable)
    })
  )

  it.scoped("a stream event that is not JSON, or not an event, is an LMMalformedResponse", () =>
    Effect.gen(function* () {
      const p = yield* provider()
      handler = (_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end("event: content_block_delta\ndata: {not json\n\n")
      }
      const notJson = yield* Effect.flip(Stream.runDrain(p.stream(request)))
      assert.strictEqual(notJson._tag, "LMMalformedResponse")
      handler = (_, res) =>
        sse(res, [["content_block_delta", { type: "content_block_delta", index: 0, delta: "oops" }]])
      const badShape = yield* Effect.flip(Stream.runDrain(p.stream(request)))
      assert.strictEqual(badShape._tag, "LMMalformedResponse")
      assert.include((badShape as { problem: string }).problem, "content_block_delta")
    })
  )

  it.scopedLive("a stream past maxResponseBytes is LMResponseTooLarge; a silent one is LMTimeout", () =>
    Effect.gen(function* () {
      handler = (_, res) =>
        sse(res, [
          ["message_start", { type: "message_start", message: { usage: { input_tokens: 1 } } }],
          ...Array.from(
            { length: 50 },
            () =>
              [
                "content_block_delta",
                { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "x".repeat(100) } }
              ] as [string, unknown]
          )
        ])
      const small = yield* provider({ maxResponseBytes: 1_000 })
      assert.strictEqual((yield* Effect.flip(Stream.runDrain(small.stream(request))))._tag, "LMResponseTooLarge")
      handler = (_, res) =>
        sse(res, [["message_start", { type: "message_start", message: { usage: { input_tokens: 1 } } }]], false)
      const quick = yield* provider({ timeoutMs: 200 })
      const silent = yield* Effect.flip(Stream.runDrain(quick.stream(request)))
      assert.strictEqual(silent._tag, "LMTimeout")
    })
  )

  it.scoped("embeddings are refused with a typed error saying where to embed", () =>
    Effect.gen(function* () {
      const p = yield* provider()
      const error = yield* Effect.flip(p.embed(["a"]))
      assert.strictEqual(error._tag, "LMBadRequest")
      assert.include(error.message, "embeddings")
    })
  )

  describe("error mapping", () => {
    const cases: Array<[string, number, unknown, Record<string, string>, string, number | undefined]> = [
      ["429", 429, apiError("rate_limit_error", "slow down"), { "retry-after": "2" }, "LMRateLimited", undefined],
      ["401", 401, apiError("authentication_error", `invalid x-api-key ${SECRET}`), {}, "LMAuthError", undefined],
      ["403", 403, apiError("permission_error", "forbidden"), {}, "LMAuthError", undefined],
      ["400", 400, apiError("invalid_request_error", "max_tokens: too big"), {}, "LMBadRequest", 400],
      ["404", 404, apiError("not_found_error", "model: claude-nope"), {}, "LMBadRequest", 404],
      [
        "400 prompt too long",
        400,
        apiError("invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"),
        {},
        "LMContextWindowExceeded",
        undefined
      ],
      ["500", 500, apiError("api_error", "oops"), {}, "LMServerError", 500],
      ["529 overloaded", 529, apiError("overloaded_error", "Overloaded"), {}, "LMServerError", 529]
    ]
    for (const [name, status, body, headers, tag, expectedStatus] of cases) {
      it.scoped(`maps ${name} to ${tag}`, () =>
        Effect.gen(function* () {
          handler = (_, res) => json(res, status, body, headers)
          const p = yield* provider()
          const error = yield* Effect.flip(p.complete(request))
          assert.strictEqual(error._tag, tag)
          assert.strictEqual(error.provider, "anthropic")
          if (expectedStatus !== undefined) assert.strictEqual((error as { status?: number }).status, expectedStatus)
          if (error._tag === "LMRateLimited") assert.strictEqual(error.retryAfterMs, 2000)
          assert.notInclude(error.message, SECRET)
          assert.notInclude(JSON.stringify(error), SECRET)
        })
      )
    }

    const malformed: Array<[string, (res: http.ServerResponse) => void, string]> = [
      ["an HTML page", (res) => raw(res, "text/html", "<html>proxy</html>"), "not valid JSON"],
      ["an empty body", (res) => raw(res, "application/json", ""), "an empty body"],
      ["JSON without content", (res) => json(res, 200, { id: "x", type: "message" }), "no `content`"],
      ["an error object with 200", (res) => json(res, 200, apiError("api_error", "boom")), "an error object"],
      ["a block without a type", (res) => json(res, 200, message([{ text: "hi" }])), "unexpected shape"]
    ]
    for (const [name, reply, problem] of malformed) {
      it.scoped(`a 200 with ${name} is an LMMalformedResponse saying so`, () =>
        Effect.gen(function* () {
          handler = (_, res) => reply(res)
          const p = yield* provider()
          const error = yield* Effect.flip(p.complete(request))
          assert.strictEqual(error._tag, "LMMalformedResponse")
          assert.include((error as { problem: string }).problem, problem)
          assert.isTrue(error.retryable)
        })
      )
    }

    it.scoped("a body over maxResponseBytes is LMResponseTooLarge", () =>
      Effect.gen(function* () {
        handler = (_, res) => json(res, 200, message([{ type: "text", text: "x".repeat(10_000) }]))
        const p = yield* provider({ maxResponseBytes: 1_000 })
        const error = yield* Effect.flip(p.complete(request))
        assert.strictEqual(error._tag, "LMResponseTooLarge")
      })
    )

    it.scoped("a refused connection is an LMServerError naming the base URL", () =>
      Effect.gen(function* () {
        const p = yield* AnthropicProvider.make({ baseURL: "http://127.0.0.1:1", apiKey })
        const error = yield* Effect.flip(p.complete(request))
        assert.strictEqual(error._tag, "LMServerError")
        assert.include(error.message, "base URL")
      })
    )

    it.scoped("a request that outlives its timeout is LMTimeout", () =>
      Effect.gen(function* () {
        handler = () => {}
        const p = yield* provider({ timeoutMs: 100 })
        const error = yield* Effect.flip(p.complete(request))
        assert.strictEqual(error._tag, "LMTimeout")
        assert.strictEqual(error._tag === "LMTimeout" && error.timeoutMs, 100)
      })
    )
  })

  it.scoped("interrupting a call aborts the HTTP request", () =>
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

  it.scopedLive("behind the LM service, its retries recover from a 529", () =>
    Effect.gen(function* () {
      let n = 0
      handler = (_, res) =>
        ++n === 1
          ? json(res, 529, apiError("overloaded_error", "Overloaded"))
          : json(res, 200, message([{ type: "text", text: "ok" }]))
      const p = yield* provider()
      const lm = yield* LM.make({ provider: p, model: "claude-haiku-4-5", retry: { baseDelayMs: 1 } })
      const response = yield* lm.complete({ messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(response.choices[0]!.content, "ok")
      assert.strictEqual(seen.length, 2)
    })
  )
})
