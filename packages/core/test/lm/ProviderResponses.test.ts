import { Config, Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type * as http from "node:http"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"
import * as LMError from "../../src/lm/LMError.js"
import * as OpenAIProvider from "../../src/lm/OpenAIProvider.js"
import { chunk, completion, type Handler, serve } from "./loopback.js"

const request: Completion.CompletionRequest = { model: "gpt-4o-mini", messages: [{ role: "user", content: "2+2?" }] }
const apiKey = Redacted.make("sk-test-secret-123")

const providerFor = (handler: Handler, options: Partial<OpenAIProvider.Options> = {}) =>
  Effect.flatMap(serve(handler), ({ baseURL }) =>
    OpenAIProvider.make({ baseURL, apiKey, timeoutMs: 10_000, ...options })
  )

const reply =
  (status: number, body: string, headers: http.OutgoingHttpHeaders = {}): Handler =>
  (_, res) => {
    res.writeHead(status, headers)
    res.end(body)
  }

const sse =
  (events: ReadonlyArray<string>, contentType = "text/event-stream"): Handler =>
  (_, res) => {
    res.writeHead(200, { "content-type": contentType })
    for (const e of events) res.write(`data: ${e}\n\n`)
    res.end()
  }

/** A typed member of the LM family, classified as a provider fault that may be retried. */
const assertMalformed = (error: unknown, ...mentions: ReadonlyArray<string>) => {
  assert.isTrue(LMError.isLMError(error), String(error))
  assert.isTrue(Errors.isDSPyError(error))
  const e = error as LMError.LMError
  assert.strictEqual(e._tag, "LMMalformedResponse", e.message)
  assert.isTrue(Errors.isRetryable(e))
  assert.notInclude(e.message, "could not reach")
  assert.notInclude(e.message, "sk-test-secret-123")
  for (const m of mentions) assert.include(e.message, m)
}

describe("malformed provider responses", () => {
  const cases: Array<[string, Handler, ReadonlyArray<string>]> = [
    [
      "200 text/html",
      reply(200, "<html><body>502 Bad Gateway</body></html>", { "content-type": "text/html" }),
      ["text/html", "not JSON"]
    ],
    ["200 text/plain", reply(200, "OK", { "content-type": "text/plain" }), ["text/plain", "not JSON"]],
    ["200 without a content type", reply(200, "hello"), ["no content type", "not JSON"]],
    [
      "JSON without choices",
      reply(200, '{"id":"x","object":"chat.completion"}', { "content-type": "application/json" }),
      ["choices"]
    ],
    [
      "a choice without message",
      reply(200, '{"choices":[{"index":0,"finish_reason":"stop"}]}', { "content-type": "application/json" }),
      ["message"]
    ],
    ["a null body", reply(200, "null", { "content-type": "application/json" }), ["null"]],
    ["an empty body", reply(200, "", { "content-type": "application/json" }), ["empty"]],
    [
      "truncated JSON",
      reply(200, '{"choices": [{"index": 0, "mess', { "content-type": "application/json" }),
      ["not valid JSON"]
    ],
    ["no choices at all", reply(200, '{"choices": []}', { "content-type": "application/json" }), ["no choices"]],
    [
      "an error object with status 200",
      reply(200, '{"error": {"message": "upstream overloaded"}}', { "content-type": "application/json" }),
      ["upstream overloaded"]
    ],
    [
      "content that is not a string",
      reply(200, JSON.stringify({ choices: [{ index: 0, message: { content: 42 } }] }), {
        "content-type": "application/json"
      }),
      ["content"]
    ]
  ]
  for (const [name, handler, mentions] of cases) {
    it.scoped(`complete: ${name} is an LMMalformedResponse that says so`, () =>
      Effect.gen(function* () {
        const p = yield* providerFor(handler)
        assertMalformed(yield* Effect.flip(p.complete(request)), ...mentions)
      })
    )
  }

  it.scoped("embed: a body without vectors is an LMMalformedResponse", () =>
    Effect.gen(function* () {
      const p = yield* providerFor(reply(200, '{"data": [{"index": 0}]}', { "content-type": "application/json" }))
      assertMalformed(yield* Effect.flip(p.embed(["a"])), "embedding")
    })
  )

  it.scoped("a valid completion without a content type is read", () =>
    Effect.gen(function* () {
      const p = yield* providerFor(reply(200, JSON.stringify(completion("4"))))
      const response = yield* p.complete(request)
      assert.strictEqual(response.choices[0]!.content, "4")
    })
  )

  const streamCases: Array<[string, Handler, ReadonlyArray<string>]> = [
    ["an event that is not JSON", sse([JSON.stringify(chunk("a")), "{not json"]), ["not valid JSON"]],
    ["a chunk without choices", sse([JSON.stringify({ id: "c", object: "chat.completion.chunk" })]), ["choices"]],
    [
      "a chunk whose delta content is a number",
      sse([JSON.stringify({ choices: [{ index: 0, delta: { content: 1 } }] })]),
      ["content"]
    ],
    [
      "an HTML page instead of a stream",
      reply(200, "<html>login</html>", { "content-type": "text/html" }),
      ["text/html"]
    ],
    ["an error event", sse([JSON.stringify({ error: { message: "model crashed" } })]), ["model crashed"]]
  ]
  for (const [name, handler, mentions] of streamCases) {
    it.scoped(`stream: ${name} is an LMMalformedResponse that says so`, () =>
      Effect.gen(function* () {
        const p = yield* providerFor(handler)
        assertMalformed(yield* Effect.flip(Stream.runDrain(p.stream(request))), ...mentions)
      })
    )
  }

  it.scoped("stream: a server that ignores `stream` and answers one JSON completion is read as one chunk", () =>
    Effect.gen(function* () {
      const p = yield* providerFor(
        reply(200, JSON.stringify(completion("whole")), { "content-type": "application/json" })
      )
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(p.stream(request)))
      assert.strictEqual(chunks.map((c) => c.delta).join(""), "whole")
      assert.strictEqual(chunks.find((c) => c.finishReason !== undefined)?.finishReason, "stop")
    })
  )
})

describe("unbounded responses", () => {
  it.scoped("a response over maxResponseBytes fails with LMResponseTooLarge", () =>
    Effect.gen(function* () {
      const big = JSON.stringify(completion("x".repeat(1_000_000)))
      const p = yield* providerFor(reply(200, big, { "content-type": "application/json" }), {
        maxResponseBytes: 65_536
      })
      const error = yield* Effect.flip(p.complete(request))
      assert.strictEqual(error._tag, "LMResponseTooLarge")
      assert.isFalse(Errors.isRetryable(error))
      assert.include(error.message, "65536")
      assert.include(error.message, "maxResponseBytes")
    })
  )

  it.scoped("a body that never ends is cut at the limit (not buffered whole)", () =>
    Effect.gen(function* () {
      const handler: Handler = (_, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        const block = "x".repeat(16_384)
        const write = () => {
          while (!res.destroyed && res.write(block)) {}
          if (!res.destroyed) res.once("drain", write)
        }
        write()
      }
      const p = yield* providerFor(handler, { maxResponseBytes: 1_000_000 })
      const error = yield* Effect.flip(p.complete(request))
      assert.strictEqual(error._tag, "LMResponseTooLarge")
    })
  )

  it.scoped("a stream over maxResponseBytes fails with LMResponseTooLarge", () =>
    Effect.gen(function* () {
      const handler: Handler = (_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        const event = `data: ${JSON.stringify(chunk("y".repeat(1000)))}\n\n`
        const write = () => {
          while (!res.destroyed && res.write(event)) {}
          if (!res.destroyed) res.once("drain", write)
        }
        write()
      }
      const p = yield* providerFor(handler, { maxResponseBytes: 200_000 })
      const error = yield* Effect.flip(Stream.runDrain(p.stream(request)))
      assert.strictEqual(error._tag, "LMResponseTooLarge")
    })
  )

  it.scoped("a stream that keeps dripping fails at its total deadline, not only when idle", () =>
    Effect.gen(function* () {
      const first = yield* Deferred.make<void>()
      const handler: Handler = (_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        const timer = setInterval(() => res.write(`data: ${JSON.stringify(chunk("."))}\n\n`), 5)
        res.on("close", () => clearInterval(timer))
      }
      const p = yield* providerFor(handler, { timeoutMs: 60_000, streamDeadlineMs: 1_000 })
      const fiber = yield* p.stream(request).pipe(
        Stream.tap(() => Deferred.succeed(first, undefined)),
        Stream.runDrain,
        Effect.flip,
        Effect.fork
      )
      yield* Deferred.await(first)
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "LMTimeout")
      assert.include(error.message, "streamDeadlineMs")
    })
  )
})

describe("the limits come from Config", () => {
  it.scoped("providers.<name>.maxResponseBytes reaches the openai provider, and follows run-time updates", () =>
    Effect.gen(function* () {
      const body = JSON.stringify(completion("z".repeat(5_000)))
      const { baseURL } = yield* serve(reply(200, body, { "content-type": "application/json" }))
      const config = Config.layerTest({
        modules: { defaultLmProvider: "local" },
        providers: { local: { kind: "openai", baseUrl: baseURL, maxResponseBytes: 1_000, maxRetries: 0 } }
      })
      // Built in the test's scope: the provider's connection pool lives until the test ends.
      const context = yield* Layer.build(Layer.provideMerge(LM.layer, config))
      const lm = Context.get(context, LM.LM)
      const service = Context.get(context, Config.Config)
      const error = yield* Effect.flip(lm.complete({ messages: [{ role: "user", content: "hi" }] }))
      assert.strictEqual(error._tag, "LMResponseTooLarge", error.message)
      assert.strictEqual(error._tag === "LMResponseTooLarge" && error.limitBytes, 1_000)
      // The message names the setting to raise by the provider's name in Config, not by its kind.
      assert.include(error.message, "raise providers.local.maxResponseBytes")
      yield* service.update("providers.local.maxResponseBytes", 100_000)
      const response = yield* lm.complete({ messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(response.choices[0]!.content.length, 5_000)
    })
  )
})
