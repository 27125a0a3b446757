/**
 * The LM wire model: a chat-completion request and its response, in the OpenAI chat-completions shape
 * that every provider here speaks (OpenAI, vLLM, Ollama, llama.cpp, the simulated LM and its local server).
 *
 * @since 0.1.0
 */

/**
 * A tool call made by the model.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolCall {
  readonly id: string
  readonly name: string
  /** The arguments as the JSON text the model wrote. */
  readonly arguments: string
}

/**
 * A piece of a message's content, in OpenAI's shape: text, an image (`image_url`, a data URI when made from an
 * `Image` value) or audio (`input_audio`: base64 bytes and their format).
 *
 * @since 0.1.0
 * @category models
 */
export type ContentPart =
  | { readonly type: "text"; readonly text: string }
  | {
      readonly type: "image_url"
      readonly image_url: { readonly url: string; readonly detail?: "auto" | "low" | "high" }
    }
  | { readonly type: "input_audio"; readonly input_audio: { readonly data: string; readonly format: "wav" | "mp3" } }

/**
 * A message's content: text, or parts (text mixed with images and audio).
 *
 * @since 0.1.0
 * @category models
 */
export type Content = string | ReadonlyArray<ContentPart>

/**
 * The text of a content: the string itself, or the text parts joined by blank lines (media parts left out).
 *
 * @since 0.1.0
 * @category content
 */
export const textOf = (content: Content): string =>
  typeof content === "string"
    ? content
    : content
        .filter((p): p is Extract<ContentPart, { readonly type: "text" }> => p.type === "text")
        .map((p) => p.text)
        .join("\n\n")

/**
 * The media parts of a request's messages (images and audio).
 *
 * @since 0.1.0
 * @category content
 */
export const mediaParts = (
  messages: ReadonlyArray<Message>
): Array<Exclude<ContentPart, { readonly type: "text" }>> => {
  const out: Array<Exclude<ContentPart, { readonly type: "text" }>> = []
  for (const m of messages) {
    if (typeof m.content === "string") continue
    for (const p of m.content) if (p.type !== "text") out.push(p)
  }
  return out
}

/**
 * One chat message.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly role: "system" | "user" | "assistant" | "tool"
  readonly content: Content
  readonly toolCalls?: ReadonlyArray<ToolCall>
  readonly toolCallId?: string
}

/**
 * A tool offered to the model (function calling); `parameters` is a JSON Schema object.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolDefinition {
  readonly name: string
  readonly description: string
  readonly parameters: { readonly [key: string]: unknown }
}

/**
 * The requested output format: free text, any JSON object, or JSON matching a schema.
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseFormat =
  | { readonly type: "text" }
  | { readonly type: "json_object" }
  | {
      readonly type: "json_schema"
      readonly name: string
      readonly schema: { readonly [key: string]: unknown }
      readonly strict?: boolean
    }

/**
 * A completion request. `rolloutId` takes part in the cache key and in the simulated LM's sampling, but is
 * never sent to a remote provider.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompletionRequest {
  readonly model: string
  readonly messages: ReadonlyArray<Message>
  readonly n?: number
  readonly temperature?: number
  readonly maxTokens?: number
  readonly stop?: ReadonlyArray<string>
  readonly rolloutId?: number
  readonly responseFormat?: ResponseFormat
  readonly tools?: ReadonlyArray<ToolDefinition>
}

/**
 * Token counts of one call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Usage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly totalTokens: number
}

/**
 * Why a choice ended.
 *
 * @since 0.1.0
 * @category models
 */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter"

/**
 * One of the `n` answers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Choice {
  readonly index: number
  readonly content: string
  readonly toolCalls?: ReadonlyArray<ToolCall>
  readonly finishReason: FinishReason
}

/**
 * A completion response. `cacheHit` marks answers served from the cache (their usage and cost are zero).
 *
 * @since 0.1.0
 * @category models
 */
export interface CompletionResponse {
  readonly id: string
  readonly model: string
  readonly choices: ReadonlyArray<Choice>
  readonly usage: Usage
  readonly costUsd: number
  readonly cacheHit: boolean
}

/**
 * A streamed piece of a completion: text appended to choice `index`, and, on the last chunk, the finish
 * reason and usage.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompletionChunk {
  readonly index: number
  readonly delta: string
  readonly toolCalls?: ReadonlyArray<ToolCall>
  readonly finishReason?: FinishReason
  readonly usage?: Usage
}

/**
 * An empty usage record.
 *
 * @since 0.1.0
 * @category constants
 */
export const emptyUsage: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 }
