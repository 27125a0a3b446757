/**
 * Counting the tokens of a request before it is sent, to tell early whether it fits a model's context window.
 * OpenAI's models are counted with their own encodings (`o200k_base`, `cl100k_base`) by `gpt-tokenizer`, loaded
 * on the first count that needs one (about half a second, once). Providers whose tokenizer is not public
 * (Anthropic, local servers, the simulated LM) are counted `approximate`ly: one token per 4 characters, rounded
 * up, which errs low for Claude (about 3.5 characters a token), so the early check never refuses a prompt that
 * fits; a prompt that passes it and still does not fit is refused by the provider, with the same typed error.
 * Each message adds 4 tokens and each request 3 (the chat framing), tools the tokens of their JSON definitions.
 *
 * @example
 * ```ts
 * import { Tokens } from "@effect-dspy/core"
 * import { Effect } from "effect"
 *
 * const request = { messages: [{ role: "user" as const, content: "What is 2 + 3?" }] }
 * Effect.runPromise(Tokens.count(request, "o200k_base")).then((n) => console.log(n)) // 15
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Completion from "./Completion.js"

/**
 * How a model's tokens are counted: an exact encoding, or the documented approximation.
 *
 * @since 0.1.0
 * @category models
 */
export type Tokenizer = "o200k_base" | "cl100k_base" | "approximate"

/**
 * What is counted: the messages and the offered tools of a request.
 *
 * @since 0.1.0
 * @category models
 */
export type Countable = Pick<Completion.CompletionRequest, "messages" | "tools">

/** Tokens of the chat framing: per message, and once per request (the reply's priming). */
const perMessage = 4
const perRequest = 3

interface Encoding {
  readonly countTokens: (text: string) => number
}

const loaded = new Map<Exclude<Tokenizer, "approximate">, Promise<Encoding>>()

const load = (name: Exclude<Tokenizer, "approximate">): Effect.Effect<Encoding> =>
  Effect.promise(() => {
    let encoding = loaded.get(name)
    if (encoding === undefined) {
      encoding =
        name === "o200k_base"
          ? import("gpt-tokenizer/encoding/o200k_base").then((m) => ({ countTokens: (t: string) => m.countTokens(t) }))
          : import("gpt-tokenizer/encoding/cl100k_base").then((m) => ({ countTokens: (t: string) => m.countTokens(t) }))
      loaded.set(name, encoding)
    }
    return encoding
  })

/**
 * The tokens counted for one media part: an image as a high-detail 1024x1024 image costs on OpenAI (765); an
 * audio clip one token per 32 bytes of its base64 (about 10 tokens per second of 16 kHz speech, rounded up).
 *
 * @since 0.1.0
 * @category counting
 */
export const mediaTokens = (part: Completion.ContentPart): number =>
  part.type === "image_url" ? 765 : part.type === "input_audio" ? Math.ceil(part.input_audio.data.length / 32) : 0

const measureContent = (content: Completion.Content, measure: (text: string) => number): number => {
  if (typeof content === "string") return measure(content)
  let n = 0
  for (const p of content) n += p.type === "text" ? measure(p.text) : mediaTokens(p)
  return n
}

/** The framing plus `measure` of every text: message contents, tool calls, tool definitions (as JSON). */
const sum = (request: Countable, measure: (text: string) => number): number => {
  let n = request.messages.length * perMessage + perRequest
  for (const m of request.messages) {
    n += measureContent(m.content, measure)
    if (m.toolCalls !== undefined) for (const c of m.toolCalls) n += measure(c.name) + measure(c.arguments)
  }
  if (request.tools !== undefined) for (const t of request.tools) n += measure(JSON.stringify(t))
  return n
}

/**
 * The approximate count: one token per 4 characters of each text (rounded up), plus the framing.
 *
 * @since 0.1.0
 * @category counting
 */
export const approximate = (request: Countable): number => sum(request, (t) => Math.ceil(t.length / 4))

/**
 * A bound no exact count exceeds: the UTF-8 bytes of the texts plus the framing (a byte-level BPE token holds
 * at least one byte). A request under a limit by this bound fits without being encoded.
 *
 * @since 0.1.0
 * @category counting
 */
export const upperBound = (request: Countable): number => sum(request, (t) => Buffer.byteLength(t, "utf8"))

/**
 * The tokens of a request by the given tokenizer (the encoding is loaded on first use).
 *
 * @since 0.1.0
 * @category counting
 */
export const count = (request: Countable, tokenizer: Tokenizer): Effect.Effect<number> =>
  tokenizer === "approximate"
    ? Effect.sync(() => approximate(request))
    : Effect.map(load(tokenizer), (encoding) => sum(request, encoding.countTokens))
