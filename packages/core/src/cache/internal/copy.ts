import type * as Completion from "../../lm/Completion.js"

const copyToolCalls = (calls: ReadonlyArray<Completion.ToolCall>): Array<Completion.ToolCall> =>
  calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }))

/**
 * A fresh deep copy of a response as served from the cache: marked as a hit, with zero usage and cost (a hit
 * costs nothing). Written by hand for the known shape: several times faster than `structuredClone`.
 */
export const hitCopy = (r: Completion.CompletionResponse): Completion.CompletionResponse => ({
  id: r.id,
  model: r.model,
  choices: r.choices.map((c) => {
    const choice: { -readonly [K in keyof Completion.Choice]: Completion.Choice[K] } = {
      index: c.index,
      content: c.content,
      finishReason: c.finishReason
    }
    if (c.toolCalls !== undefined) choice.toolCalls = copyToolCalls(c.toolCalls)
    return choice
  }),
  usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
  costUsd: 0,
  cacheHit: true
})
