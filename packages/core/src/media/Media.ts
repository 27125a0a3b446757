/**
 * Image and audio values for `Image` and `Audio` signature fields: made from bytes, files or URLs (fetched
 * only when `media.allowUrlFetch` allows it), their type sniffed from the bytes (magic numbers, never a file
 * name or a header), their size and type checked against limits, and their sha256 kept beside the bytes. The
 * adapters send them as content parts (an `image_url` with a data URI, an `input_audio` with base64); cache keys,
 * history and events see only their digest and size.
 *
 * @example
 * ```ts
 * import { Media, Predict, Signature } from "@effect-dspy/core"
 * import { Effect } from "effect"
 *
 * const count = Predict.make(Signature.make("image: Image -> count: int"))
 * const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])
 * const program = Effect.flatMap(Media.image(png), (image) => Predict.forward(count, { image }))
 * ```
 *
 * @since 0.1.0
 */
import { Config } from "@effect-dspy/foundation"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { MediaError } from "../CoreError.js"
import type * as Completion from "../lm/Completion.js"

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { MediaError }

/**
 * The image types understood (sniffed from the bytes).
 *
 * @since 0.1.0
 * @category models
 */
export type ImageType = "image/png" | "image/jpeg" | "image/gif" | "image/webp"

/**
 * The audio types understood (sniffed from the bytes): WAV and MP3, the two OpenAI's `input_audio` takes.
 *
 * @since 0.1.0
 * @category models
 */
export type AudioType = "audio/wav" | "audio/mpeg"

/**
 * The kind of a media value.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "image" | "audio"

const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

/**
 * The hex sha256 of some bytes.
 *
 * @since 0.1.0
 * @category digests
 */
export const digest = (bytes: Uint8Array): string => crypto.createHash("sha256").update(bytes).digest("hex")

/**
 * What images and audio share: the sniffed type, the bytes, their sha256 and where they came from.
 *
 * @since 0.1.0
 * @category models
 */
export abstract class Base<T extends string> {
  /** The media type, sniffed from the bytes. */
  readonly mimeType: T
  /** The bytes (never copied into history, events or cache keys: {@link digest} stands for them). */
  readonly bytes: Uint8Array
  /** Hex sha256 of the bytes. */
  readonly sha256: string
  /** Where the value came from (a file path or URL), for messages only: never part of a key. */
  readonly source: string | undefined
  constructor(fields: {
    readonly mimeType: T
    readonly bytes: Uint8Array
    readonly sha256?: string
    readonly source?: string
  }) {
    this.mimeType = fields.mimeType
    this.bytes = fields.bytes
    this.sha256 = fields.sha256 ?? digest(fields.bytes)
    this.source = fields.source
  }
  /** The size in bytes. */
  get size(): number {
    return this.bytes.byteLength
  }
  /** The bytes in base64. */
  base64(): string {
    return toBase64(this.bytes)
  }
  /** A `data:` URI of the bytes. */
  dataUri(): string {
    return `data:${this.mimeType};base64,${this.base64()}`
  }
  /** The digest form (what logs, traces and `JSON.stringify` show): type, size and sha256, no bytes. */
  toJSON(): { readonly _tag: string; readonly mimeType: T; readonly sha256: string; readonly size: number } {
    return { _tag: this.kindTag, mimeType: this.mimeType, sha256: this.sha256, size: this.size }
  }
  /** Type, size and the start of the digest: `Image(image/png, 312 bytes, sha256:1f2e...)`. */
  toString(): string {
    return `${this.kindTag}(${this.mimeType}, ${this.size} bytes, sha256:${this.sha256.slice(0, 16)})`
  }
  /** What `console.log` and `util.inspect` show: {@link toString}, never the bytes. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString()
  }
  /** The class name shown by `toJSON` and `toString`. */
  protected abstract readonly kindTag: string
}

/**
 * An image value (PNG, JPEG, GIF or WebP). Make one with {@link image}, {@link imageFromFile} or
 * {@link imageFromUrl}, which sniff and check it.
 *
 * @since 0.1.0
 * @category models
 */
export class Image extends Base<ImageType> {
  /** The tag of an image. */
  readonly _tag = "Image" as const
  /** The class name shown by `toJSON` and `toString`. */
  protected readonly kindTag = "Image"
}

/**
 * An audio value (WAV or MP3). Make one with {@link audio}, {@link audioFromFile} or {@link audioFromUrl}.
 *
 * @since 0.1.0
 * @category models
 */
export class Audio extends Base<AudioType> {
  /** The tag of an audio value. */
  readonly _tag = "Audio" as const
  /** The class name shown by `toJSON` and `toString`. */
  protected readonly kindTag = "Audio"
  /** The `input_audio` format name OpenAI takes. */
  get format(): "wav" | "mp3" {
    return this.mimeType === "audio/wav" ? "wav" : "mp3"
  }
}

/**
 * A media value.
 *
 * @since 0.1.0
 * @category models
 */
export type Media = Image | Audio

/**
 * True for media values.
 *
 * @since 0.1.0
 * @category guards
 */
export const isMedia = (u: unknown): u is Media => u instanceof Image || u instanceof Audio

// ---------------------------------------------------------------------------------------------------------------
// Sniffing and limits
// ---------------------------------------------------------------------------------------------------------------

const startsWith = (bytes: Uint8Array, sig: ReadonlyArray<number>, at = 0): boolean =>
  bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b)

const ascii = (s: string): Array<number> => [...s].map((c) => c.charCodeAt(0))

/**
 * The media type of some bytes from their magic numbers: PNG, JPEG, GIF, WebP, WAV, MP3 (an ID3 tag or an MPEG
 * frame sync); undefined for anything else.
 *
 * @since 0.1.0
 * @category sniffing
 */
export const sniff = (bytes: Uint8Array): ImageType | AudioType | undefined => {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png"
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "image/jpeg"
  if (startsWith(bytes, ascii("GIF87a")) || startsWith(bytes, ascii("GIF89a"))) return "image/gif"
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return "image/webp"
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WAVE"), 8)) return "audio/wav"
  if (startsWith(bytes, ascii("ID3"))) return "audio/mpeg"
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0) return "audio/mpeg"
  return undefined
}

/**
 * Limits a value must meet: its largest size and the media types accepted. Left out: Config's `media.maxBytes`
 * and `media.allowedTypes` for URLs, and their defaults (20 MiB, every type understood) otherwise.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly maxBytes?: number
  readonly allowedTypes?: ReadonlyArray<string>
}

/**
 * The default largest value, 20 MiB (OpenAI's limit for one image).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBytes = 20 * 1024 * 1024

const imageTypes: ReadonlyArray<string> = ["image/png", "image/jpeg", "image/gif", "image/webp"]
const audioTypes: ReadonlyArray<string> = ["audio/wav", "audio/mpeg"]

const describeSource = (source: string | undefined): string => (source === undefined ? "the bytes" : source)

const tooLarge = (size: number, maxBytes: number, source: string | undefined) =>
  new MediaError({
    reason: "too_large",
    ...(source === undefined ? {} : { source }),
    message: `${describeSource(source)} is ${size} bytes, over the limit of ${maxBytes}: use a smaller file or raise media.maxBytes`
  })

/**
 * Makes a media value of a kind from bytes: the type is sniffed from the bytes and must be of the kind and
 * allowed; the size must be within the limit.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBytesEither = <K extends Kind>(
  kind: K,
  bytes: Uint8Array,
  options: Limits & { readonly source?: string } = {}
): Either.Either<K extends "image" ? Image : Audio, MediaError> => {
  const source = options.source
  const maxBytes = options.maxBytes ?? defaultMaxBytes
  if (bytes.byteLength > maxBytes) return Either.left(tooLarge(bytes.byteLength, maxBytes, source))
  const type = sniff(bytes)
  const ofKind = kind === "image" ? imageTypes : audioTypes
  if (type === undefined || !ofKind.includes(type)) {
    return Either.left(
      new MediaError({
        reason: "unsupported_type",
        ...(source === undefined ? {} : { source }),
        message: `${describeSource(source)} ${type === undefined ? "is not a known media type" : `is ${type}`}, not an ${kind} of a supported type (${ofKind.join(", ")})`
      })
    )
  }
  if (options.allowedTypes !== undefined && !options.allowedTypes.includes(type)) {
    return Either.left(
      new MediaError({
        reason: "unsupported_type",
        ...(source === undefined ? {} : { source }),
        message: `${describeSource(source)} is ${type}, which is not among the allowed types (${options.allowedTypes.join(", ")}): convert it or add the type to media.allowedTypes`
      })
    )
  }
  const fields = { mimeType: type, bytes, ...(source === undefined ? {} : { source }) }
  return Either.right(
    (kind === "image" ? new Image(fields as never) : new Audio(fields as never)) as K extends "image" ? Image : Audio
  )
}

/**
 * An image from bytes (see {@link fromBytesEither}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const image = (bytes: Uint8Array, options?: Limits): Effect.Effect<Image, MediaError> =>
  Effect.suspend(() => fromBytesEither("image", bytes, options))

/**
 * An audio value from bytes (see {@link fromBytesEither}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const audio = (bytes: Uint8Array, options?: Limits): Effect.Effect<Audio, MediaError> =>
  Effect.suspend(() => fromBytesEither("audio", bytes, options))

/**
 * A media value from a file: its size is checked before it is read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFile = <K extends Kind>(
  kind: K,
  path: string,
  options: Limits = {}
): Effect.Effect<K extends "image" ? Image : Audio, MediaError> =>
  Effect.tryPromise({
    try: async () => {
      const stat = await fs.stat(path)
      const maxBytes = options.maxBytes ?? defaultMaxBytes
      if (stat.size > maxBytes) return Either.left(tooLarge(stat.size, maxBytes, path))
      return Either.right(new Uint8Array(await fs.readFile(path)))
    },
    catch: (cause) =>
      new MediaError({ reason: "io", source: path, message: `Could not read ${kind} file ${path}: ${String(cause)}` })
  }).pipe(
    Effect.flatten,
    Effect.flatMap((bytes) => fromBytesEither(kind, bytes, { ...options, source: path }))
  )

/**
 * An image from a file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const imageFromFile = (path: string, options?: Limits): Effect.Effect<Image, MediaError> =>
  fromFile("image", path, options)

/**
 * An audio value from a file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const audioFromFile = (path: string, options?: Limits): Effect.Effect<Audio, MediaError> =>
  fromFile("audio", path, options)

/**
 * The media type and base64 of a `data:` URI with base64 data; undefined for anything else.
 *
 * @since 0.1.0
 * @category conversions
 */
export const parseDataUri = (uri: string): { readonly mimeType: string; readonly base64: string } | undefined => {
  if (!uri.startsWith("data:")) return undefined
  const comma = uri.indexOf(",")
  if (comma < 0) return undefined
  const meta = uri.slice(5, comma)
  if (!meta.endsWith(";base64")) return undefined
  return { mimeType: meta.slice(0, -7), base64: uri.slice(comma + 1) }
}

const readLimited = async (
  response: Response,
  maxBytes: number,
  url: string
): Promise<Either.Either<Uint8Array, MediaError>> => {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN)
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel()
    return Either.left(tooLarge(declared, maxBytes, url))
  }
  const reader = response.body?.getReader()
  if (reader === undefined) return Either.right(new Uint8Array(0))
  const chunks: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel()
      return Either.left(tooLarge(size, maxBytes, url))
    }
    chunks.push(value)
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return Either.right(out)
}

/**
 * A media value from a URL. A `data:` URI is decoded in place. An `http(s)` URL is fetched only when Config's
 * `media.allowUrlFetch` is true (else `MediaError` `url_fetch_disabled`), within `media.fetchTimeoutMs`, reading
 * at most `media.maxBytes`; its type is sniffed from the bytes (not the `Content-Type` header) and must be in
 * `media.allowedTypes`. The value's identity is its bytes: the same image from two URLs is the same value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromUrl = <K extends Kind>(
  kind: K,
  url: string,
  options: Limits = {}
): Effect.Effect<K extends "image" ? Image : Audio, MediaError, Config.Config> =>
  Effect.gen(function* () {
    const settings = (yield* Effect.flatMap(Config.Config, (c) => c.current)).media
    const limits: Limits = {
      maxBytes: options.maxBytes ?? settings.maxBytes,
      allowedTypes: options.allowedTypes ?? settings.allowedTypes
    }
    const data = parseDataUri(url)
    if (data !== undefined) {
      const bytes = new Uint8Array(Buffer.from(data.base64, "base64"))
      return yield* fromBytesEither(kind, bytes, { ...limits, source: "a data: URI" })
    }
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return yield* new MediaError({ reason: "fetch_failed", source: url, message: `${url} is not a URL` })
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      return yield* new MediaError({
        reason: "fetch_failed",
        source: url,
        message: `${url} is neither http(s) nor a data: URI: read files with ${kind}FromFile`
      })
    }
    if (!settings.allowUrlFetch) {
      return yield* new MediaError({
        reason: "url_fetch_disabled",
        source: url,
        message: `Fetching ${kind}s from URLs is disabled: set media.allowUrlFetch to true in Config, or pass the bytes (${kind}(bytes)) or a file (${kind}FromFile)`
      })
    }
    const maxBytes = limits.maxBytes ?? defaultMaxBytes
    const bytes = yield* Effect.tryPromise({
      try: async (signal) => {
        const response = await fetch(parsed, { signal, redirect: "follow" })
        if (!response.ok) {
          await response.body?.cancel()
          return Either.left(
            new MediaError({
              reason: "fetch_failed",
              source: url,
              message: `Fetching ${url} answered HTTP ${response.status}`
            })
          )
        }
        return readLimited(response, maxBytes, url)
      },
      catch: (cause) =>
        new MediaError({ reason: "fetch_failed", source: url, message: `Fetching ${url} failed: ${String(cause)}` })
    }).pipe(
      Effect.flatten,
      Effect.timeoutFail({
        duration: Duration.millis(settings.fetchTimeoutMs),
        onTimeout: () =>
          new MediaError({
            reason: "fetch_failed",
            source: url,
            message: `Fetching ${url} took longer than media.fetchTimeoutMs (${settings.fetchTimeoutMs} ms)`
          })
      })
    )
    return yield* fromBytesEither(kind, bytes, { ...limits, source: url })
  })

/**
 * An image from a URL (see {@link fromUrl}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const imageFromUrl = (url: string, options?: Limits): Effect.Effect<Image, MediaError, Config.Config> =>
  fromUrl("image", url, options)

/**
 * An audio value from a URL (see {@link fromUrl}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const audioFromUrl = (url: string, options?: Limits): Effect.Effect<Audio, MediaError, Config.Config> =>
  fromUrl("audio", url, options)

// ---------------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------------

/**
 * The annotation that marks a field schema as an image or audio field (how `FieldType.fromAST` reads it).
 *
 * @since 0.1.0
 * @category annotations
 */
export const MediaKindAnnotationId: unique symbol = Symbol.for("@effect-dspy/core/Media/Kind")

/**
 * The schema of an image field (the typed form of `image: Image`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ImageSchema: Schema.Schema<Image> = Schema.declare((u: unknown): u is Image => u instanceof Image, {
  identifier: "Image",
  description: "an image (Media.image, Media.imageFromFile or Media.imageFromUrl)",
  [MediaKindAnnotationId]: "image"
})

/**
 * The schema of an audio field (the typed form of `clip: Audio`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const AudioSchema: Schema.Schema<Audio> = Schema.declare((u: unknown): u is Audio => u instanceof Audio, {
  identifier: "Audio",
  description: "an audio clip (Media.audio, Media.audioFromFile or Media.audioFromUrl)",
  [MediaKindAnnotationId]: "audio"
})

// ---------------------------------------------------------------------------------------------------------------
// Content parts
// ---------------------------------------------------------------------------------------------------------------

/**
 * A media value as an OpenAI content part: an `image_url` holding a data URI, or an `input_audio` holding the
 * base64 bytes and the format.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toPart = (media: Media): Completion.ContentPart =>
  media instanceof Image
    ? { type: "image_url", image_url: { url: media.dataUri() } }
    : { type: "input_audio", input_audio: { data: media.base64(), format: media.format } }

/**
 * What stands for a media part where bytes must not go (history, events, cache keys): kind, type, size, sha256.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartDigest {
  readonly kind: Kind
  readonly mimeType: string
  readonly size: number
  readonly sha256: string
}

/**
 * The digest of a media content part (of its decoded bytes: the same as the value's `sha256`); undefined for
 * a text part. An `image_url` that is not a data URI (a remote URL given by hand) is digested as its text.
 *
 * @since 0.1.0
 * @category digests
 */
export const partDigest = (part: Completion.ContentPart): PartDigest | undefined => {
  if (part.type === "text") return undefined
  if (part.type === "image_url") {
    const data = parseDataUri(part.image_url.url)
    if (data === undefined) {
      const text = new TextEncoder().encode(part.image_url.url)
      return { kind: "image", mimeType: "text/uri-list", size: text.byteLength, sha256: digest(text) }
    }
    const bytes = Buffer.from(data.base64, "base64")
    return { kind: "image", mimeType: data.mimeType, size: bytes.byteLength, sha256: digest(bytes) }
  }
  const bytes = Buffer.from(part.input_audio.data, "base64")
  return {
    kind: "audio",
    mimeType: part.input_audio.format === "wav" ? "audio/wav" : "audio/mpeg",
    size: bytes.byteLength,
    sha256: digest(bytes)
  }
}

/**
 * A media content part with its bytes replaced by a reference to their digest (`sha256:<hex>` with the type
 * and size), the same shape otherwise: what history records. Text parts are returned as they are.
 *
 * @since 0.1.0
 * @category digests
 */
export const redactPart = (part: Completion.ContentPart): Completion.ContentPart => {
  const d = partDigest(part)
  if (d === undefined) return part
  const ref = `sha256:${d.sha256};type=${d.mimeType};size=${d.size}`
  return part.type === "image_url"
    ? { type: "image_url", image_url: { url: ref } }
    : {
        type: "input_audio",
        input_audio: { data: ref, format: part.type === "input_audio" ? part.input_audio.format : "wav" }
      }
}

// ---------------------------------------------------------------------------------------------------------------
// Saved form
// ---------------------------------------------------------------------------------------------------------------

/**
 * The saved form of a media value (in saved programs' demos): kind, type, sha256, size and the bytes in base64.
 * Loading checks the digest and sniffs the bytes again.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SavedJson = Schema.Struct({
  $media: Schema.Literal("image", "audio"),
  mimeType: Schema.String,
  sha256: Schema.String,
  size: Schema.Number,
  base64: Schema.String
})

/**
 * The saved form of a media value.
 *
 * @since 0.1.0
 * @category schemas
 */
export type SavedJson = typeof SavedJson.Type

/**
 * The saved form of a value.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toSaved = (media: Media): SavedJson => ({
  $media: media instanceof Image ? "image" : "audio",
  mimeType: media.mimeType,
  sha256: media.sha256,
  size: media.size,
  base64: media.base64()
})

/**
 * True for data in the saved form.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSaved: (u: unknown) => u is SavedJson = Schema.is(SavedJson)

/**
 * A value back from its saved form: the bytes must hash to the saved sha256 and sniff as the saved kind.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromSaved = (saved: SavedJson): Either.Either<Media, MediaError> => {
  const bytes = new Uint8Array(Buffer.from(saved.base64, "base64"))
  const actual = digest(bytes)
  if (actual !== saved.sha256) {
    return Either.left(
      new MediaError({
        reason: "digest_mismatch",
        message: `A saved ${saved.$media} has sha256 ${actual} but records ${saved.sha256}: the saved file was altered or truncated`
      })
    )
  }
  return fromBytesEither(saved.$media, bytes, { maxBytes: Number.MAX_SAFE_INTEGER })
}
