/**
 * Server-sent events: the wire format (`id:`, `event:`, `data:` lines and a blank line), an incremental parser
 * (for clients and tests: `HttpApiClient` does not decode SSE), and the response of a stream of events, with a
 * heartbeat comment so proxies keep the connection open.
 *
 * @example
 * ```ts
 * import { Sse } from "@effect-dspy/server"
 *
 * const seen: Array<Sse.Event> = []
 * const parser = Sse.makeParser((event) => seen.push(event))
 * parser.feed(Sse.encode({ id: "1", event: "tick", data: JSON.stringify({ n: 1 }) }))
 * console.log(seen[0]?.event, seen[0]?.data) // tick {"n":1}
 * ```
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Stream from "effect/Stream"

/**
 * One event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly id?: string | undefined
  readonly event?: string | undefined
  readonly data: string
  readonly retry?: number | undefined
}

/**
 * One event in the wire format.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (event: Event): string => {
  let out = ""
  if (event.id !== undefined) out += `id: ${event.id.replace(/[\r\n]/g, "")}\n`
  if (event.event !== undefined) out += `event: ${event.event.replace(/[\r\n]/g, "")}\n`
  if (event.retry !== undefined) out += `retry: ${Math.floor(event.retry)}\n`
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`
  return `${out}\n`
}

/**
 * An incremental parser: feed it chunks of text as they arrive; it calls `onEvent` for each complete event
 * (comments and events without data are skipped, as a browser does). `lastEventId` is the last id seen (what a
 * reconnecting client sends as `Last-Event-ID`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Parser {
  readonly feed: (chunk: string) => void
  readonly lastEventId: () => string | undefined
}

/**
 * Makes a parser.
 *
 * @since 0.1.0
 * @category parsing
 */
export const makeParser = (onEvent: (event: Event) => void): Parser => {
  let buffer = ""
  let data: Array<string> = []
  let eventName: string | undefined
  let id: string | undefined
  let lastId: string | undefined
  const dispatch = () => {
    if (id !== undefined) lastId = id
    if (data.length > 0) onEvent({ id: lastId, event: eventName, data: data.join("\n") })
    data = []
    eventName = undefined
    id = undefined
  }
  const line = (text: string) => {
    if (text === "") return dispatch()
    if (text.startsWith(":")) return
    const colon = text.indexOf(":")
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? "" : text.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") data.push(value)
    else if (field === "event") eventName = value
    else if (field === "id") id = value
  }
  return {
    feed: (chunk) => {
      buffer += chunk
      let start = 0
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i]
        if (c === "\n" || c === "\r") {
          // A CR LF pair ends one line; a CR at the end of the buffer may be the first half of one.
          if (c === "\r" && i === buffer.length - 1) break
          line(buffer.slice(start, i))
          if (c === "\r" && buffer[i + 1] === "\n") i++
          start = i + 1
        }
      }
      buffer = buffer.slice(start)
    },
    lastEventId: () => lastId
  }
}

const encoder = new TextEncoder()
// An event fanned out to many subscribers (the same object) is encoded once.
const encoded = new WeakMap<Event, Uint8Array>()
const bytesOf = (event: Event): Uint8Array => {
  let bytes = encoded.get(event)
  if (bytes === undefined) {
    bytes = encoder.encode(encode(event))
    encoded.set(event, bytes)
  }
  return bytes
}

/**
 * A heartbeat: a comment line, which clients ignore, that keeps proxies from closing an idle connection.
 *
 * @since 0.1.0
 * @category encoding
 */
export const heartbeat: Uint8Array = new TextEncoder().encode(": heartbeat\n\n")

/**
 * The response of a stream of events: `text/event-stream`, not cached, not buffered by proxies. The response
 * ends when the stream does (a failure of the stream ends it too). Long-lived streams send {@link heartbeat}s
 * themselves (`Uint8Array` elements are written as they are).
 *
 * @since 0.1.0
 * @category responses
 */
export const response = <E>(events: Stream.Stream<Event | Uint8Array, E>): HttpServerResponse.HttpServerResponse => {
  const body = Stream.map(events, (e) => (e instanceof Uint8Array ? e : bytesOf(e))).pipe(
    Stream.catchAllCause(() => Stream.empty)
  )
  return HttpServerResponse.stream(Stream.concat(Stream.make(encoder.encode(": connected\n\n")), body), {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
  })
}

/**
 * The `Last-Event-ID` a reconnecting client sent, if any.
 *
 * @since 0.1.0
 * @category requests
 */
export const lastEventId = (headers: { readonly [name: string]: string | undefined }): string | undefined => {
  const value = headers["last-event-id"]
  return value === undefined || value === "" ? undefined : value
}

/**
 * Skips the events a reconnecting client already has: those up to `lastId` (numbered streams, where ids are
 * sequence numbers).
 *
 * @since 0.1.0
 * @category streams
 */
export const resumeAfter = <E, R>(
  events: Stream.Stream<Event, E, R>,
  lastId: string | undefined
): Stream.Stream<Event, E, R> => {
  const after = lastId === undefined ? Number.NaN : Number(lastId)
  return Number.isFinite(after) ? Stream.filter(events, (e) => e.id === undefined || Number(e.id) > after) : events
}
