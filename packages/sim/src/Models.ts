/**
 * The simulated models: their skill offsets and prices, and the token approximation SimLM reports as
 * usage. Tokens are approximated as one per 4 characters (rounded up) of each message, plus 4 per message
 * and 2 per request for the chat framing; a choice costs one token per 4 characters of its text (or of its
 * tool calls' names and arguments) plus 1. Unknown model names behave as `sim-1`.
 *
 * @since 0.1.0
 */
import type { Completion } from "@effect-dspy/core"

/**
 * A simulated model: a logit offset added to every task's skill, and its price in US dollars per million
 * tokens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Model {
  readonly skillOffset: number
  readonly inputPerMillion: number
  readonly outputPerMillion: number
}

/**
 * The default model table.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultModels: { readonly [name: string]: Model } = {
  "sim-1": { skillOffset: 0, inputPerMillion: 0.5, outputPerMillion: 1.5 },
  "sim-mini": { skillOffset: -0.6, inputPerMillion: 0.1, outputPerMillion: 0.4 },
  "sim-pro": { skillOffset: 0.7, inputPerMillion: 2, outputPerMillion: 8 },
  "sim-embed": { skillOffset: 0, inputPerMillion: 0.02, outputPerMillion: 0 }
}

/**
 * The model entry for a name (`sim-1` for unknown names).
 *
 * @since 0.1.0
 * @category models
 */
export const modelOf = (name: string, table: { readonly [name: string]: Model } = defaultModels): Model =>
  table[name] ?? defaultModels["sim-1"]!

/**
 * Approximate tokens of a text: one per 4 characters, rounded up.
 *
 * @since 0.1.0
 * @category usage
 */
export const tokens = (text: string): number => Math.ceil(text.length / 4)

/**
 * Approximate prompt tokens of a request (messages, offered tools).
 *
 * @since 0.1.0
 * @category usage
 */
export const promptTokens = (request: Completion.CompletionRequest): number => {
  let n = 2
  for (const m of request.messages) {
    if (typeof m.content === "string") n += 4 + tokens(m.content)
    else {
      n += 4
      for (const p of m.content)
        n +=
          p.type === "text" ? tokens(p.text) : p.type === "image_url" ? 765 : Math.ceil(p.input_audio.data.length / 32)
    }
    for (const c of m.toolCalls ?? []) n += tokens(c.name) + tokens(c.arguments)
  }
  for (const t of request.tools ?? [])
    n += tokens(t.name) + tokens(t.description) + tokens(JSON.stringify(t.parameters))
  return n
}

/**
 * Approximate completion tokens of one choice.
 *
 * @since 0.1.0
 * @category usage
 */
export const choiceTokens = (content: string, toolCalls?: ReadonlyArray<Completion.ToolCall>): number =>
  1 + tokens(content) + (toolCalls ?? []).reduce((a, c) => a + tokens(c.name) + tokens(c.arguments), 0)

/**
 * The cost in US dollars of a usage record for a model.
 *
 * @since 0.1.0
 * @category usage
 */
export const cost = (model: Model, usage: Completion.Usage): number =>
  (usage.promptTokens * model.inputPerMillion + usage.completionTokens * model.outputPerMillion) / 1_000_000
