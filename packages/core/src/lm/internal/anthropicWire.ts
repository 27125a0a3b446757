/**
 * The shapes of Anthropic Messages API answers, checked before use: a message, and the events of a streamed one.
 * A body that is not one reads as a `problem` sentence (what is wrong, where), never as a `TypeError` later.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const OptionalCount = Schema.optional(Schema.NullOr(Schema.Number))

const Usage = Schema.Struct({
  input_tokens: OptionalCount,
  output_tokens: OptionalCount,
  cache_creation_input_tokens: OptionalCount,
  cache_read_input_tokens: OptionalCount
})

/** Token usage, as far as it is read. */
export type Usage = typeof Usage.Type

const Block = Schema.Struct({
  type: Schema.String,
  text: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  input: Schema.optional(Schema.Unknown)
})

/** A message, as far as it is read. */
export const Message = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.NullOr(Schema.String)),
  content: Schema.Array(Block),
  stop_reason: Schema.optional(Schema.NullOr(Schema.String)),
  usage: Schema.optional(Schema.NullOr(Usage))
})

/** A message, as far as it is read. */
export type Message = typeof Message.Type

const MessageStart = Schema.Struct({
  type: Schema.Literal("message_start"),
  message: Schema.Struct({
    id: Schema.optional(Schema.String),
    model: Schema.optional(Schema.NullOr(Schema.String)),
    usage: Schema.optional(Schema.NullOr(Usage))
  })
})

const BlockStart = Schema.Struct({
  type: Schema.Literal("content_block_start"),
  index: Schema.Number,
  content_block: Block
})

const BlockDelta = Schema.Struct({
  type: Schema.Literal("content_block_delta"),
  index: Schema.Number,
  delta: Schema.Struct({
    type: Schema.String,
    text: Schema.optional(Schema.String),
    partial_json: Schema.optional(Schema.String)
  })
})

const MessageDelta = Schema.Struct({
  type: Schema.Literal("message_delta"),
  delta: Schema.optional(Schema.Struct({ stop_reason: Schema.optional(Schema.NullOr(Schema.String)) })),
  usage: Schema.optional(Schema.NullOr(Usage))
})

const MessageStop = Schema.Struct({ type: Schema.Literal("message_stop") })

/** A stream event, as far as it is read. */
export const Event = Schema.Union(MessageStart, BlockStart, BlockDelta, MessageDelta, MessageStop)

/** A stream event, as far as it is read. */
export type Event = typeof Event.Type

const decodeMessage = Schema.decodeUnknownEither(Message)
const decodeEvent = Schema.decodeUnknownEither(Event)

const firstIssue = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "an unexpected shape"
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")
  return `\`${path.startsWith(".") ? path.slice(1) : path}\`: ${issue.message}`.slice(0, 300)
}

const kindOf = (u: unknown): string => (u === null ? "`null`" : Array.isArray(u) ? "an array" : `a ${typeof u}`)

/** The `error` of an error body (`{"type":"error","error":{"type":...,"message":...}}`), if it is one. */
export const errorOf = (body: unknown): { readonly type: string; readonly message: string } | undefined => {
  if (typeof body !== "object" || body === null || !("error" in body)) return undefined
  const error = (body as { readonly error: unknown }).error
  if (typeof error === "string") return { type: "error", message: error }
  if (typeof error !== "object" || error === null) return { type: "error", message: JSON.stringify(error) }
  const e = error as { readonly type?: unknown; readonly message?: unknown }
  return {
    type: typeof e.type === "string" ? e.type : "error",
    message: typeof e.message === "string" ? e.message : JSON.stringify(error).slice(0, 300)
  }
}

/** Reads a parsed JSON body as a message, or says what is wrong with it. */
export const message = (body: unknown): Either.Either<Message, string> => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left(`the body is ${kindOf(body)}, not a message object`)
  }
  if (!("content" in body)) {
    const error = errorOf(body)
    return Either.left(
      error !== undefined
        ? `an error object instead of a message: ${error.type}: ${error.message}`
        : "the message has no `content` (not an Anthropic Messages API answer)"
    )
  }
  return Either.mapLeft(decodeMessage(body), (e) => `the message has an unexpected shape: ${firstIssue(e)}`)
}

/** The event types read; others (`ping`, `content_block_stop`, types added later) are skipped. */
const known = new Set(["message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop"])

/** Reads a parsed stream event, or says what is wrong with it; `undefined` for an event type that is not read. */
export const event = (body: unknown): Either.Either<Event | undefined, string> => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left(`a stream event is ${kindOf(body)}, not an event object`)
  }
  const type = (body as { readonly type?: unknown }).type
  if (typeof type !== "string") return Either.left("a stream event has no `type`")
  if (!known.has(type)) return Either.right(undefined)
  return Either.mapLeft(decodeEvent(body), (e) => `a \`${type}\` event has an unexpected shape: ${firstIssue(e)}`)
}
