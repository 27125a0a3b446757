/**
 * LM call history: what each call asked and answered, kept by the `LM` service (bounded) and rendered for
 * people by {@link render}, like DSPy's `inspect_history`.
 *
 * @since 0.1.0
 */
import * as Media from "../media/Media.js"
import type * as Completion from "./Completion.js"

/**
 * One recorded call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  /** Epoch milliseconds (Effect's Clock) when the call started. */
  readonly timestamp: number
  readonly provider: string
  readonly model: string
  readonly request: Completion.CompletionRequest
  /** The answer, or none when the call failed. */
  readonly response?: Completion.CompletionResponse
  /** The error code and message when the call failed. */
  readonly error?: { readonly code: string; readonly message: string }
  readonly usage: Completion.Usage
  readonly costUsd: number
  readonly cacheHit: boolean
  readonly durationMs: number
  readonly correlationId?: string
}

const textSize = (text: string | undefined): number => (text === undefined ? 0 : 2 * text.length)

const contentSize = (content: Completion.Content): number => {
  if (typeof content === "string") return textSize(content)
  let n = 0
  for (const p of content) n += p.type === "text" ? textSize(p.text) : 128
  return n
}

/**
 * A request as history keeps it: each image or audio part's bytes replaced by a reference to their digest,
 * type and size (`sha256:<hex>;type=image/png;size=1234`, see `Media.redactPart`); the same object when it
 * holds no media. History and events never hold the bytes.
 *
 * @since 0.1.0
 * @category models
 */
export const redactRequest = (request: Completion.CompletionRequest): Completion.CompletionRequest => {
  if (!Array.isArray(request.messages) || !request.messages.some((m) => typeof m.content !== "string")) return request
  return {
    ...request,
    messages: request.messages.map((m) =>
      typeof m.content === "string" ? m : { ...m, content: m.content.map(Media.redactPart) }
    )
  }
}

const renderContent = (content: Completion.Content): string =>
  typeof content === "string"
    ? content
    : content
        .map((p) => {
          if (p.type === "text") return p.text
          const ref = p.type === "image_url" ? p.image_url.url : p.input_audio.data
          return `[${p.type === "image_url" ? "image" : "audio"} ${ref.startsWith("sha256:") ? ref : "(bytes not shown)"}]`
        })
        .join("\n\n")

const callsSize = (calls: ReadonlyArray<Completion.ToolCall> | undefined): number => {
  let n = 0
  for (const c of calls ?? []) n += textSize(c.id) + textSize(c.name) + textSize(c.arguments)
  return n
}

/**
 * The approximate memory an entry holds, in bytes: two per character of its texts (messages, tool calls,
 * answers, error) plus a fixed 256 for the rest. What the LM service's `historyMaxBytes` counts.
 *
 * @since 0.1.0
 * @category models
 */
export const sizeOf = (entry: Entry): number => {
  let n = 256
  for (const m of entry.request.messages) n += contentSize(m.content) + callsSize(m.toolCalls)
  for (const c of entry.response?.choices ?? []) n += textSize(c.content) + callsSize(c.toolCalls)
  return n + textSize(entry.error?.message)
}

const roleTitle: Record<Completion.Message["role"], string> = {
  system: "System message:",
  user: "User message:",
  assistant: "Assistant message:",
  tool: "Tool message:"
}

const renderToolCalls = (calls: ReadonlyArray<Completion.ToolCall> | undefined): Array<string> =>
  calls === undefined ? [] : calls.map((c) => `[tool call ${c.id}] ${c.name}(${c.arguments})`)

const renderEntry = (entry: Entry): string => {
  const lines: Array<string> = []
  const when = new Date(entry.timestamp).toISOString()
  const cost = entry.costUsd > 0 ? `, $${entry.costUsd.toFixed(6)}` : ""
  const hit = entry.cacheHit ? ", cache hit" : ""
  lines.push(
    `[${when}] ${entry.provider}/${entry.model} (${entry.durationMs} ms, ${entry.usage.promptTokens} in / ${entry.usage.completionTokens} out tokens${cost}${hit})`
  )
  for (const message of entry.request.messages) {
    lines.push("", roleTitle[message.role], "", renderContent(message.content), ...renderToolCalls(message.toolCalls))
  }
  if (entry.response !== undefined) {
    const choices = entry.response.choices
    choices.forEach((choice) => {
      const title = choices.length > 1 ? `Response (choice ${choice.index + 1} of ${choices.length}):` : "Response:"
      lines.push("", title, "", choice.content, ...renderToolCalls(choice.toolCalls))
    })
  } else if (entry.error !== undefined) {
    lines.push("", `Failed (${entry.error.code}): ${entry.error.message}`)
  }
  return lines.join("\n")
}

/**
 * A readable rendering of the given entries, oldest first, separated by blank lines.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (entries: ReadonlyArray<Entry>): string => entries.map(renderEntry).join("\n\n\n")
