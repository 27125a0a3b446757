/**
 * Pricing: a small table of per-model prices (US dollars per million tokens) used to compute the cost of a
 * call. A model matches the longest entry that its name starts with (`gpt-4o-mini-2024-07-18` uses
 * `gpt-4o-mini`); unknown models (local servers, the simulated LM) cost 0. Prices are OpenAI's list prices as
 * of mid-2025; pass your own table to the provider when they differ.
 *
 * @since 0.1.0
 */
import type * as Completion from "./Completion.js"

/**
 * The price of one model in US dollars per million tokens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Price {
  readonly inputPerMillion: number
  readonly outputPerMillion: number
}

/**
 * A price table: model name (or name prefix) to price.
 *
 * @since 0.1.0
 * @category models
 */
export type PriceTable = { readonly [model: string]: Price }

/**
 * The default price table (OpenAI and Anthropic list prices, USD per million tokens; embeddings have no output
 * price).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPrices: PriceTable = {
  "gpt-4o": { inputPerMillion: 2.5, outputPerMillion: 10 },
  "gpt-4o-mini": { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  "gpt-4.1": { inputPerMillion: 2, outputPerMillion: 8 },
  "gpt-4.1-mini": { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  "gpt-4.1-nano": { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  "gpt-4-turbo": { inputPerMillion: 10, outputPerMillion: 30 },
  "gpt-3.5-turbo": { inputPerMillion: 0.5, outputPerMillion: 1.5 },
  o1: { inputPerMillion: 15, outputPerMillion: 60 },
  "o3-mini": { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  "o4-mini": { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  "text-embedding-3-small": { inputPerMillion: 0.02, outputPerMillion: 0 },
  "text-embedding-3-large": { inputPerMillion: 0.13, outputPerMillion: 0 },
  "text-embedding-ada-002": { inputPerMillion: 0.1, outputPerMillion: 0 },
  "claude-haiku-4-5": { inputPerMillion: 1, outputPerMillion: 5 },
  "claude-sonnet-4": { inputPerMillion: 3, outputPerMillion: 15 },
  "claude-opus-4": { inputPerMillion: 15, outputPerMillion: 75 },
  "claude-opus-4-5": { inputPerMillion: 5, outputPerMillion: 25 }
}

/**
 * The price of a model: the entry with the longest name that the model name starts with, if any.
 *
 * @since 0.1.0
 * @category pricing
 */
export const priceOf = (model: string, table: PriceTable = defaultPrices): Price | undefined => {
  let best: string | undefined
  for (const name of Object.keys(table)) {
    if (model.startsWith(name) && (best === undefined || name.length > best.length)) best = name
  }
  return best === undefined ? undefined : table[best]
}

/**
 * The cost in US dollars of a call's usage on a model (0 for models not in the table).
 *
 * @since 0.1.0
 * @category pricing
 */
export const cost = (model: string, usage: Completion.Usage, table: PriceTable = defaultPrices): number => {
  const price = priceOf(model, table)
  if (price === undefined) return 0
  return (usage.promptTokens * price.inputPerMillion + usage.completionTokens * price.outputPerMillion) / 1_000_000
}
