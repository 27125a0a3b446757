/**
 * The canonical JSON of the messages every call of a predictor shares (its system message, its demo turns),
 * written once: the adapter that builds such a message hands it here ({@link share}), and the cache key reads
 * the text back ({@link textOf}) instead of encoding the message again. Only shared messages are remembered, so
 * the per-call ones (the inputs) add nothing to the table.
 */
import { CanonicalJson } from "@effect-dspy/foundation"

const texts = new WeakMap<object, string>()

/** A message's canonical JSON as an array item (what the request's canonical JSON holds for it). */
const encode = (message: unknown): string => CanonicalJson.stringify([message]).slice(1, -1)

/** Remembers the canonical JSON of a message shared between calls (never changed afterwards); returns it. */
export const share = <M extends object>(message: M): M => {
  if (!texts.has(message)) texts.set(message, encode(message))
  return message
}

/** A message's canonical JSON: remembered when it was shared, else encoded now. */
export const textOf = (message: unknown): string => {
  if (typeof message === "object" && message !== null) {
    const known = texts.get(message)
    if (known !== undefined) return known
  }
  return encode(message)
}
