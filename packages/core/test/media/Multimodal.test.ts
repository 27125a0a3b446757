import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as JSONAdapter from "../../src/adapters/JSONAdapter.js"
import * as TwoStepAdapter from "../../src/adapters/TwoStepAdapter.js"
import * as XMLAdapter from "../../src/adapters/XMLAdapter.js"
import * as CacheKey from "../../src/cache/CacheKey.js"
import * as CoreEvents from "../../src/CoreEvents.js"
import * as Capabilities from "../../src/lm/Capabilities.js"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"
import * as Media from "../../src/media/Media.js"
import * as Example from "../../src/primitives/Example.js"
import * as Module from "../../src/primitives/Module.js"
import * as Predict from "../../src/predict/Predict.js"
import * as FieldType from "../../src/signature/FieldType.js"
import * as Signature from "../../src/signature/Signature.js"
import { fakeProvider } from "../lm/fixtures.js"

const pngOf = (...tail: ReadonlyArray<number>) =>
  Either.getOrThrow(
    Media.fromBytesEither("image", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...tail]))
  )
const wav = Either.getOrThrow(
  Media.fromBytesEither(
    "audio",
    new Uint8Array(
      [..."RIFF"]
        .map((c) => c.charCodeAt(0))
        .concat(
          [4, 0, 0, 0],
          [..."WAVE"].map((c) => c.charCodeAt(0)),
          [1, 2]
        )
    )
  )
)
const image = pngOf(1, 2, 3, 4)
const count = Signature.make("image: Image -> count: int")

const parts = (content: Completion.Content) => {
  assert.isTrue(Array.isArray(content), "the user message is content parts")
  return content as ReadonlyArray<Completion.ContentPart>
}

describe("Image and Audio fields", () => {
  it("the string form parses Image and Audio, and the typed form reads Media schemas", () => {
    assert.deepStrictEqual(count.inputFields[0]!.type, FieldType.image)
    assert.strictEqual(count.inputFields[0]!.typeName, "Image")
    const clip = Signature.make("clip: Audio, pictures: list[Image] -> transcript")
    assert.strictEqual(clip.inputFields[0]!.typeName, "Audio")
    assert.strictEqual(clip.inputFields[1]!.typeName, "list[Image]")
    const typed = Signature.make({
      inputs: { photo: Media.ImageSchema, voice: Media.AudioSchema },
      outputs: { caption: Schema.String }
    })
    assert.deepStrictEqual(
      typed.inputFields.map((f) => f.type._tag),
      ["image", "audio"]
    )
    // A saved signature keeps the types.
    const back = Signature.fromJSON(Signature.toJSON(count))
    assert.isTrue(Either.isRight(back) && back.right.inputFields[0]!.typeName === "Image")
    // Values are checked: a string is not an image.
    assert.isTrue(Either.isLeft(Signature.validateInputs(count, { image: "picture.png" as unknown as Media.Image })))
    assert.isTrue(Either.isRight(Signature.validateInputs(count, { image })))
  })

  for (const adapter of [ChatAdapter.plain, JSONAdapter.make(), XMLAdapter.make(), TwoStepAdapter.make()]) {
    it(`${adapter.name} sends an image input as an image_url part with a data URI, in place`, () => {
      const { messages } = adapter.format(count, [{ image: pngOf(7), count: 2 }], { image })
      const user = parts(messages.at(-1)!.content)
      const images = user.filter((p) => p.type === "image_url")
      assert.strictEqual(images.length, 1)
      assert.strictEqual(images[0]!.type === "image_url" && images[0]!.image_url.url, image.dataUri())
      // The field's label comes before the picture.
      const at = user.findIndex((p) => p.type === "image_url")
      assert.isAbove(at, 0)
      assert.include(JSON.stringify(user[at - 1]), "image")
      // The demo's picture goes in its own user turn.
      const demo = messages.find((m) => m.role === "user" && Array.isArray(m.content) && m !== messages.at(-1))
      assert.isDefined(demo)
      assert.include(JSON.stringify(demo!.content), pngOf(7).dataUri())
      // No text part holds the marker or bytes.
      for (const p of user) if (p.type === "text") assert.notInclude(p.text, "\u0000")
    })
  }

  it("an audio input is an input_audio part (base64 and format); text-only signatures keep string content", () => {
    const { messages } = ChatAdapter.plain.format(Signature.make("clip: Audio -> transcript"), [], { clip: wav })
    const audio = parts(messages.at(-1)!.content).find((p) => p.type === "input_audio")
    assert.deepStrictEqual(audio, { type: "input_audio", input_audio: { data: wav.base64(), format: "wav" } })
    const plain = ChatAdapter.plain.format(Signature.make("question -> answer"), [], { question: "hi" })
    assert.isString(plain.messages.at(-1)!.content)
  })

  it("an Image output cannot be parsed from text: typed parse error", () => {
    const r = ChatAdapter.plain.parse(Signature.make("q -> picture: Image"), "[[ ## picture ## ]]\nabc")
    assert.isTrue(Either.isLeft(r) && r.left.message.includes("inputs only"))
  })
})

describe("cache keys, history and events see digests, never bytes", () => {
  const request = (img: Media.Image): Completion.CompletionRequest => ({
    model: "m",
    messages: ChatAdapter.plain.format(count, [], { image: img }).messages
  })

  it("the same bytes from two sources give one key; different bytes another", () => {
    const fromA = Either.getOrThrow(Media.fromBytesEither("image", image.bytes, { source: "https://a.example/x.png" }))
    const fromB = Either.getOrThrow(Media.fromBytesEither("image", image.bytes, { source: "https://b.example/y.png" }))
    assert.strictEqual(CacheKey.make(request(fromA)), CacheKey.make(request(fromB)))
    assert.notStrictEqual(CacheKey.make(request(image)), CacheKey.make(request(pngOf(1, 2, 3, 5))))
    assert.notInclude(CacheKey.canonicalRequest(request(image)), image.base64())
    assert.include(CacheKey.canonicalRequest(request(image)), image.sha256)
  })

  it.effect("history and the lm_request event record the digest and size; the provider gets the bytes", () =>
    Effect.gen(function* () {
      const { provider, calls } = fakeProvider()
      const lm = yield* LM.make({ provider })
      const big = pngOf(...Array.from({ length: 3000 }, (_, i) => i % 251))
      yield* lm.complete(request(big))
      assert.include(JSON.stringify(calls[0]!.request), big.base64())
      const history = yield* lm.history
      const text = JSON.stringify(history)
      assert.notInclude(text, big.base64())
      assert.notInclude(text, big.base64().slice(0, 64))
      assert.include(text, `sha256:${big.sha256}`)
      assert.include(text, `size=${big.size}`)
      const rendered = yield* lm.inspectHistory(1)
      assert.notInclude(rendered, big.base64().slice(0, 64))
      assert.include(rendered, big.sha256)
      const [event] = yield* Events.queryOf(CoreEvents.LMRequest)
      assert.deepStrictEqual(event!.data.media, [
        { kind: "image", mime_type: "image/png", size: big.size, sha256: big.sha256 }
      ])
      assert.notInclude(JSON.stringify(event), big.base64().slice(0, 64))
    }).pipe(Effect.provide(Events.layerMemory))
  )
})

describe("capabilities: a model without images or audio fails before any request", () => {
  it.effect("images to a model without them, audio to one without it: LMCapabilityError, zero requests", () =>
    Effect.gen(function* () {
      const { provider, calls } = fakeProvider()
      const noVision = yield* LM.make({
        provider,
        capabilities: () => Effect.succeed({ ...Capabilities.unknown, images: false })
      })
      const e1 = yield* Effect.flip(
        noVision.complete({ messages: ChatAdapter.plain.format(count, [], { image }).messages })
      )
      assert.strictEqual(e1._tag, "LMCapabilityError")
      assert.strictEqual(e1._tag === "LMCapabilityError" && e1.capability, "images")
      const noAudio = yield* LM.make({
        provider,
        capabilities: () => Effect.succeed(Capabilities.anthropic("claude-haiku-4-5"))
      })
      const e2 = yield* Effect.flip(
        noAudio.complete({
          messages: ChatAdapter.plain.format(Signature.make("clip: Audio -> transcript"), [], { clip: wav }).messages
        })
      )
      assert.strictEqual(e2._tag, "LMCapabilityError")
      assert.include(e2.message, "audio")
      assert.strictEqual(calls.length, 0)
      // Text requests still go through.
      yield* noVision.complete({ messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(calls.length, 1)
      assert.isFalse(Capabilities.anthropic("claude-haiku-4-5").audio)
    })
  )
})

describe("saved programs with pictures in their demos", () => {
  it.scoped("store the digest and the bytes (version 2), load them back checked; version 1 files still open", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "mm-save-")))
      yield* Effect.addFinalizer(() => Effect.promise(() => fs.rm(dir, { recursive: true, force: true })))
      const file = path.join(dir, "program.json")
      const program = Predict.withDemos(Predict.make(count), [
        Example.make({ image, count: 3 }).withInputs("image"),
        Example.make({ image: pngOf(8), count: 1 }).withInputs("image")
      ])
      yield* Module.save(program, file)
      const text = yield* Effect.promise(() => fs.readFile(file, "utf8"))
      const json = JSON.parse(text) as { version: number }
      assert.strictEqual(json.version, Module.stateVersion)
      assert.include(text, image.sha256)
      assert.include(text, image.base64())
      const loaded = yield* Module.load(Predict.make(count), file)
      const demos = Object.values(Module.demos(loaded)).flat()
      const first = Example.toRecord(demos[0]!)["image"]
      assert.isTrue(first instanceof Media.Image && first.sha256 === image.sha256 && first.mimeType === "image/png")
      // The loaded demos send their pictures again.
      const formatted = ChatAdapter.plain.format(loaded.signature, loaded.demos, { image })
      assert.include(JSON.stringify(formatted.messages), pngOf(8).dataUri())

      // Altered bytes: a typed error naming the demo field.
      const tampered = text.replace(image.base64(), pngOf(9, 9).base64())
      yield* Effect.promise(() => fs.writeFile(file, tampered))
      const error = yield* Effect.flip(Module.load(Predict.make(count), file))
      assert.strictEqual(error._tag, "ModuleStateError")
      assert.include(error.message, "image")

      // A version 1 file (written before media) opens and migrates forward.
      const v1 = {
        ...Module.dumpState(
          Predict.withDemos(Predict.make("question -> answer"), [
            Example.make({ question: "q", answer: "a" }).withInputs("question")
          ])
        ),
        version: 1
      }
      const old = Module.loadState(Predict.make("question -> answer"), v1)
      assert.isTrue(Either.isRight(old))
      assert.deepStrictEqual(Either.isRight(old) && Module.dumpState(old.right).version, 2)
      assert.isTrue(Either.isRight(old) && Example.toRecord(old.right.demos[0]!)["answer"] === "a")
    })
  )
})
