/**
 * Images and audio through the real providers over HTTP: the OpenAI provider (the `openai` SDK) against the
 * simulated LM's server, which solves the vision task from the pictures it receives, and against a recording
 * fake that shows the exact wire body (`image_url` data URIs, `input_audio`); the Anthropic provider against its
 * fake of the Messages API (image blocks with base64 sources; audio refused before sending). Models without a
 * capability fail with `LMCapabilityError` before any request reaches a server.
 */
import { Config } from "@effect-dspy/foundation"
import { LM, Media, Predict, Signature } from "@effect-dspy/core"
import { SimServer, Vision } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as AnthropicFake from "./anthropicFake.js"
import { configFor, SECRET } from "./support.js"

const count = Signature.make("image: Image -> count: int")
const transcribe = Signature.make("clip: Audio -> transcript")
const pictures = Vision.dataset(11, 24)
const wav = Effect.runSync(
  Media.audio(
    new Uint8Array(
      [..."RIFF"]
        .map((c) => c.charCodeAt(0))
        .concat(
          [4, 0, 0, 0],
          [..."WAVE"].map((c) => c.charCodeAt(0)),
          [7, 7, 7]
        )
    )
  )
)

const lmFor = (config: Record<string, unknown>) => Layer.orDie(LM.layer.pipe(Layer.provide(Config.layerTest(config))))

/** Counts right answers over the pictures; checks the history holds no picture bytes. */
const countPictures = Effect.gen(function* () {
  let right = 0
  for (const e of pictures) {
    const out = yield* Predict.forward(Predict.make(count), { image: e.image })
    if (out.get("count") === e.count) right++
  }
  const history = JSON.stringify(yield* (yield* LM.LM).history)
  for (const e of pictures.slice(0, 5)) {
    assert.notInclude(history, e.image.base64().slice(0, 48))
    assert.include(history, e.image.sha256)
  }
  return right / pictures.length
})

/** A loopback server that records each chat-completions body and answers with a fixed ChatAdapter reply. */
const recording = Effect.acquireRelease(
  Effect.async<{ server: http.Server; bodies: Array<Record<string, unknown>> }>((resume) => {
    const bodies: Array<Record<string, unknown>> = []
    const server = http.createServer((req, res) => {
      const parts: Array<Buffer> = []
      req.on("data", (b: Buffer) => parts.push(b))
      req.on("end", () => {
        bodies.push(JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>)
        const content = "[[ ## count ## ]]\n3\n\n[[ ## transcript ## ]]\nhello\n\n[[ ## completed ## ]]"
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            id: "c1",
            object: "chat.completion",
            created: 1,
            model: "m",
            choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
          })
        )
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, bodies })))
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(
  Effect.map(({ server, bodies }) => ({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    bodies
  }))
)

const userParts = (body: Record<string, unknown>) => {
  const messages = body["messages"] as Array<{ role: string; content: unknown }>
  return messages.at(-1)!.content as Array<Record<string, unknown>>
}

describe("the OpenAI provider", () => {
  it.scoped("sends pictures to the simulated LM's server, which counts their shapes from the pixels", () =>
    Effect.gen(function* () {
      const server = yield* SimServer.serve()
      const accuracy = yield* countPictures.pipe(Effect.provide(lmFor(configFor(server.url))))
      // A reader that never saw the pictures would be right about one time in seven.
      assert.isAtLeast(accuracy, 0.35)
      assert.strictEqual(server.stats().completions, pictures.length)
    })
  )

  it.scoped("puts images as image_url data URIs and audio as input_audio on the wire", () =>
    Effect.gen(function* () {
      const fake = yield* recording
      const layer = lmFor(configFor(fake.url))
      const image = pictures[0]!.image
      const a = yield* Predict.forward(Predict.make(count), { image }).pipe(Effect.provide(layer))
      assert.strictEqual(a.get("count"), 3)
      const imagePart = userParts(fake.bodies[0]!).find((p) => p["type"] === "image_url")
      assert.deepStrictEqual(imagePart, { type: "image_url", image_url: { url: image.dataUri() } })
      const t = yield* Predict.forward(Predict.make(transcribe), { clip: wav }).pipe(Effect.provide(layer))
      assert.strictEqual(t.get("transcript"), "hello")
      const audioPart = userParts(fake.bodies[1]!).find((p) => p["type"] === "input_audio")
      assert.deepStrictEqual(audioPart, { type: "input_audio", input_audio: { data: wav.base64(), format: "wav" } })
      assert.notInclude(JSON.stringify(fake.bodies), SECRET)
    })
  )

  it.scoped("a model without images or audio fails with LMCapabilityError before any request", () =>
    Effect.gen(function* () {
      const fake = yield* recording
      const base = configFor(fake.url)
      const blind = lmFor({
        ...base,
        providers: { local: { ...base.providers.local, capabilities: { images: false, audio: false } } }
      })
      const e1 = yield* Effect.flip(
        Predict.forward(Predict.make(count), { image: pictures[0]!.image }).pipe(Effect.provide(blind))
      )
      assert.strictEqual(e1._tag, "LMCapabilityError")
      const e2 = yield* Effect.flip(
        Predict.forward(Predict.make(transcribe), { clip: wav }).pipe(Effect.provide(blind))
      )
      assert.strictEqual(e2._tag, "LMCapabilityError")
      assert.include(e2.message, "capabilities.audio")
      assert.strictEqual(fake.bodies.length, 0)
    })
  )
})

describe("the Anthropic provider", () => {
  const claude = (url: string) =>
    lmFor({
      modules: { defaultLmProvider: "claude", cacheEnabled: false },
      providers: {
        claude: { kind: "anthropic", baseUrl: url, apiKey: SECRET, defaultModel: "claude-haiku-4-5", maxRetries: 0 }
      }
    })

  it.scoped("sends pictures as base64 image blocks; the fake hands them to the simulated LM, which counts them", () =>
    Effect.gen(function* () {
      const fake = yield* AnthropicFake.serve({})
      const accuracy = yield* countPictures.pipe(Effect.provide(claude(fake.url)))
      assert.isAtLeast(accuracy, 0.35)
      assert.strictEqual(fake.stats().images, pictures.length)
    })
  )

  it.scoped("audio is a typed capability error, and nothing is sent", () =>
    Effect.gen(function* () {
      const fake = yield* AnthropicFake.serve({})
      const error = yield* Effect.flip(
        Predict.forward(Predict.make(transcribe), { clip: wav }).pipe(Effect.provide(claude(fake.url)))
      )
      assert.strictEqual(error._tag, "LMCapabilityError")
      assert.strictEqual(fake.stats().completions + fake.stats().streams, 0)
    })
  )
})
