import { Config } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as util from "node:util"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as CacheKey from "../../src/cache/CacheKey.js"
import * as Media from "../../src/media/Media.js"
import * as Signature from "../../src/signature/Signature.js"
import * as Loopback from "../lm/loopback.js"

const png = (tail: ReadonlyArray<number> = [1, 2, 3]) =>
  new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...tail])
const riff = (kind: string) =>
  new Uint8Array(
    [..."RIFF"]
      .map((c) => c.charCodeAt(0))
      .concat(
        [4, 0, 0, 0],
        [...kind].map((c) => c.charCodeAt(0)),
        [0, 0]
      )
  )

const failure = <A>(e: Effect.Effect<A, Media.MediaError, never>) =>
  Effect.map(Effect.flip(e), (err) => ({ tag: err._tag, reason: err.reason, message: err.message }))

describe("Media values", () => {
  it("sniffs the type from magic bytes, whatever the name", () => {
    assert.strictEqual(Media.sniff(png()), "image/png")
    assert.strictEqual(Media.sniff(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg")
    assert.strictEqual(Media.sniff(new TextEncoder().encode("GIF89a...")), "image/gif")
    assert.strictEqual(Media.sniff(riff("WEBP")), "image/webp")
    assert.strictEqual(Media.sniff(riff("WAVE")), "audio/wav")
    assert.strictEqual(Media.sniff(new TextEncoder().encode("ID3\u0003")), "audio/mpeg")
    assert.strictEqual(Media.sniff(new TextEncoder().encode("hello")), undefined)
  })

  it.effect("an image from bytes keeps its type, size and sha256; its JSON and text show no bytes", () =>
    Effect.gen(function* () {
      const image = yield* Media.image(png())
      assert.strictEqual(image.mimeType, "image/png")
      assert.strictEqual(image.size, 11)
      assert.strictEqual(image.sha256, Media.digest(png()))
      assert.isTrue(image.dataUri().startsWith("data:image/png;base64,"))
      assert.notInclude(JSON.stringify({ image }), image.base64())
      assert.notInclude(String(image), image.base64())
      assert.strictEqual(util.inspect({ image }), `{ image: ${String(image)} }`)
    })
  )

  it.effect("typed errors: not an image, an audio as an image, over the size limit, a type not allowed", () =>
    Effect.gen(function* () {
      const text = yield* failure(Media.image(new TextEncoder().encode("plain text")))
      assert.strictEqual(text.reason, "unsupported_type")
      const wav = yield* failure(Media.image(riff("WAVE")))
      assert.strictEqual(wav.reason, "unsupported_type")
      assert.include(wav.message, "audio/wav")
      const big = yield* failure(Media.image(png(Array.from({ length: 100 }, () => 0)), { maxBytes: 50 }))
      assert.strictEqual(big.reason, "too_large")
      assert.include(big.message, "media.maxBytes")
      const type = yield* failure(Media.image(png(), { allowedTypes: ["image/jpeg"] }))
      assert.strictEqual(type.reason, "unsupported_type")
      const audio = yield* Media.audio(riff("WAVE"))
      assert.strictEqual(audio.format, "wav")
    })
  )

  it.effect(
    "from a file: read and sniffed; a file over the limit is refused before it is read; a missing file is io",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "media-")))
        yield* Effect.addFinalizer(() => Effect.promise(() => fs.rm(dir, { recursive: true, force: true })))
        const file = path.join(dir, "picture.bin")
        yield* Effect.promise(() => fs.writeFile(file, png()))
        const image = yield* Media.imageFromFile(file)
        assert.strictEqual(image.sha256, Media.digest(png()))
        assert.strictEqual(image.source, file)
        const big = yield* failure(Media.imageFromFile(file, { maxBytes: 4 }))
        assert.strictEqual(big.reason, "too_large")
        const missing = yield* failure(Media.imageFromFile(path.join(dir, "nope.png")))
        assert.strictEqual(missing.reason, "io")
      }).pipe(Effect.scoped)
  )

  it.scoped("URLs: refused by default (typed), fetched when Config allows, with size and type limits", () =>
    Effect.gen(function* () {
      const served = new Map<string, Uint8Array>([
        ["/a.png", png([9, 9, 9])],
        ["/b.png", png([9, 9, 9])],
        ["/text", new TextEncoder().encode("not an image")],
        ["/big.png", png(Array.from({ length: 4096 }, () => 7))]
      ])
      let hits = 0
      const server = yield* Loopback.serve((req, res) => {
        hits++
        const body = served.get((req.url ?? "").replace(/^\/v1/, "").replace(/^/, ""))
        if (body === undefined) {
          res.writeHead(404).end()
          return
        }
        res.writeHead(200, { "content-type": "image/png" }).end(Buffer.from(body))
      })
      const base = server.baseURL.replace(/\/v1$/, "")
      const disabled = yield* failure(
        Media.imageFromUrl(`${base}/a.png`).pipe(Effect.provide(Layer.orDie(Config.layerTest({}))))
      )
      assert.strictEqual(disabled.reason, "url_fetch_disabled")
      assert.include(disabled.message, "media.allowUrlFetch")
      assert.strictEqual(hits, 0)

      const allowed = Layer.orDie(Config.layerTest({ media: { allowUrlFetch: true, maxBytes: 1024 } }))
      const [a, b] = yield* Effect.all([Media.imageFromUrl(`${base}/a.png`), Media.imageFromUrl(`${base}/b.png`)]).pipe(
        Effect.provide(allowed)
      )
      assert.strictEqual(a.sha256, b.sha256)
      assert.strictEqual(a.source, `${base}/a.png`)
      // The cache key of a request follows the picture's content, not the URL it came from.
      const keyOf = (image: Media.Image) =>
        CacheKey.make({
          model: "m",
          messages: ChatAdapter.plain.format(Signature.make("image: Image -> count: int"), [], { image }).messages
        })
      assert.strictEqual(keyOf(a), keyOf(b))
      assert.notStrictEqual(keyOf(a), keyOf(yield* Media.image(png([9, 9, 8]))))
      const wrong = yield* failure(Media.imageFromUrl(`${base}/text`).pipe(Effect.provide(allowed)))
      assert.strictEqual(wrong.reason, "unsupported_type")
      const big = yield* failure(Media.imageFromUrl(`${base}/big.png`).pipe(Effect.provide(allowed)))
      assert.strictEqual(big.reason, "too_large")
      const missing = yield* failure(Media.imageFromUrl(`${base}/none`).pipe(Effect.provide(allowed)))
      assert.strictEqual(missing.reason, "fetch_failed")
      const ftp = yield* failure(Media.imageFromUrl("ftp://example.invalid/a.png").pipe(Effect.provide(allowed)))
      assert.strictEqual(ftp.reason, "fetch_failed")
      // A data: URI is bytes, not a fetch: allowed without media.allowUrlFetch.
      const inline = yield* Media.imageFromUrl(a.dataUri()).pipe(Effect.provide(Layer.orDie(Config.layerTest({}))))
      assert.strictEqual(inline.sha256, a.sha256)
    })
  )

  it.effect("the saved form round-trips and a tampered one is refused with a typed error", () =>
    Effect.gen(function* () {
      const image = yield* Media.image(png())
      const saved = Media.toSaved(image)
      const back = Media.fromSaved(saved)
      assert.isTrue(Either.isRight(back) && back.right instanceof Media.Image && back.right.sha256 === image.sha256)
      const tampered = Media.fromSaved({ ...saved, base64: Buffer.from(png([4])).toString("base64") })
      assert.isTrue(Either.isLeft(tampered) && tampered.left.reason === "digest_mismatch")
    })
  )

  it("a part digest is the digest of the bytes, and a redacted part holds no bytes", () => {
    const image = Either.getOrThrow(Media.fromBytesEither("image", png()))
    const part = Media.toPart(image)
    assert.strictEqual(Media.partDigest(part)!.sha256, image.sha256)
    const redacted = Media.redactPart(part)
    assert.notInclude(JSON.stringify(redacted), image.base64())
    assert.include(JSON.stringify(redacted), image.sha256)
  })
})
