/**
 * The shapes of OpenAI-compatible answers, checked before use: a chat completion, a streamed chunk. A body
 * that is not one reads as a `problem` sentence (what is wrong, where), never as a `TypeError` later.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const OptionalNumber = Schema.optional(Schema.NullOr(Schema.Number))

const Usage = Schema.Struct({
  prompt_tokens: OptionalNumber,
  completion_tokens: OptionalNumber,
  total_tokens: OptionalNumber
})

const ToolCall = Schema.Struct({
  id: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  function: Schema.optional(Schema.Struct({ name: Schema.String, arguments: Schema.String }))
})

const Choice = Schema.Struct({
  index: Schema.optional(Schema.Number),
  message: Schema.Struct({
    content: Schema.optional(Schema.NullOr(Schema.String)),
    tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCall)))
  }),
  finish_reason: Schema.optional(Schema.NullOr(Schema.String))
})

/** A chat completion, as far as it is read. */
export const ChatCompletion = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.NullOr(Schema.String)),
  choices: Schema.Array(Choice),
  usage: Schema.optional(Schema.NullOr(Usage))
})

/** A chat completion, as far as it is read. */
export type ChatCompletion = typeof ChatCompletion.Type

/** Token usage, as far as it is read. */
export type WireUsage = typeof Usage.Type

const ChunkToolCall = Schema.Struct({
  index: Schema.Number,
  id: Schema.optional(Schema.NullOr(Schema.String)),
  function: Schema.optional(
    Schema.Struct({
      name: Schema.optional(Schema.NullOr(Schema.String)),
      arguments: Schema.optional(Schema.NullOr(Schema.String))
    })
  )
})

const ChunkChoice = Schema.Struct({
  index: Schema.Number,
  delta: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        content: Schema.optional(Schema.NullOr(Schema.String)),
        tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ChunkToolCall)))
      })
    )
  ),
  finish_reason: Schema.optional(Schema.NullOr(Schema.String))
})

/** A streamed chunk, as far as it is read. */
export const Chunk = Schema.Struct({
  choices: Schema.Array(ChunkChoice),
  usage: Schema.optional(Schema.NullOr(Usage))
})

/** A streamed chunk, as far as it is read. */
export type Chunk = typeof Chunk.Type

const decodeCompletion = Schema.decodeUnknownEither(ChatCompletion)
const decodeChunk = Schema.decodeUnknownEither(Chunk)

const firstIssue = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "an unexpected shape"
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")
  return `\`${path.startsWith(".") ? path.slice(1) : path}\`: ${issue.message}`.slice(0, 300)
}

const errorMessage = (body: Record<string, unknown>): string | undefined => {
  const error = body["error"]
  if (typeof error === "string") return error
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    return (error as { message: string }).message
  }
  return error === undefined ? undefined : JSON.stringify(error)?.slice(0, 300)
}

const kindOf = (u: unknown): string => (u === null ? "`null`" : Array.isArray(u) ? "an array" : `a ${typeof u}`)

/** Reads a parsed JSON body as a chat completion, or says what is wrong with it. */
export const completion = (body: unknown): Either.Either<ChatCompletion, string> => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left(`the body is ${kindOf(body)}, not a completion object`)
  }
  const record = body as Record<string, unknown>
  if (!("choices" in record)) {
    const error = errorMessage(record)
    return Either.left(
      error !== undefined
        ? `an error object instead of a completion: ${error}`
        : "the completion has no `choices` (not an OpenAI-compatible chat completion)"
    )
  }
  if (Array.isArray(record["choices"]) && record["choices"].length === 0) {
    return Either.left("the completion has no choices")
  }
  return Either.mapLeft(decodeCompletion(body), (e) => `the completion has an unexpected shape: ${firstIssue(e)}`)
}

/** Reads a parsed stream event as a chunk, or says what is wrong with it. */
export const chunk = (body: unknown): Either.Either<Chunk, string> => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left(`a stream event is ${kindOf(body)}, not a chunk object`)
  }
  const record = body as Record<string, unknown>
  if (!("choices" in record)) {
    const error = errorMessage(record)
    if (error !== undefined) return Either.left(`the stream carried an error: ${error}`)
    // A usage-only event may leave out `choices`.
    if (typeof record["usage"] === "object" && record["usage"] !== null) {
      return Either.mapLeft(decodeChunk({ ...record, choices: [] }), (e) => `a stream chunk: ${firstIssue(e)}`)
    }
    return Either.left("a stream chunk has no `choices`")
  }
  return Either.mapLeft(decodeChunk(body), (e) => `a stream chunk has an unexpected shape: ${firstIssue(e)}`)
}

const Embeddings = Schema.Struct({
  data: Schema.Array(Schema.Struct({ index: Schema.Number, embedding: Schema.Array(Schema.Number) }))
})
const decodeEmbeddings = Schema.decodeUnknownEither(Embeddings)

/** Reads a parsed embeddings body, or says what is wrong with it. */
export const embeddings = (
  body: unknown
): Either.Either<ReadonlyArray<{ readonly index: number; readonly embedding: ReadonlyArray<number> }>, string> =>
  typeof body !== "object" || body === null || Array.isArray(body)
    ? Either.left(`the body is ${kindOf(body)}, not an embeddings object`)
    : Either.mapBoth(decodeEmbeddings(body), {
        onLeft: (e) => `the embeddings have an unexpected shape: ${firstIssue(e)}`,
        onRight: (r) => r.data
      })
