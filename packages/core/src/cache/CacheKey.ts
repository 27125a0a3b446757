/**
 * Cache keys: the sha256 of the canonical JSON of a completion request. Canonical means object keys sorted
 * and `undefined` values left out, so the order in which parameters were written does not matter. Every
 * request field takes part (model, messages, every sampling parameter, response format, tools, and the
 * rollout id), except credentials and endpoints (`apiKey`, `baseUrl` and their spellings), which may ride
 * along on a request object but must never change or leak into a key. Images and audio take part by their
 * content: each media part is hashed as the sha256 of its bytes (with type and size), so the same image reached
 * through two URLs gives one key and different bytes give different keys.
 *
 * @since 0.1.0
 */
import { CanonicalJson } from "@effect-dspy/foundation"
import type * as Completion from "../lm/Completion.js"
import { redactRequest } from "../lm/History.js"
import * as MessageTexts from "./internal/messageTexts.js"

/**
 * The top-level request fields that never take part in a key.
 *
 * @since 0.1.0
 * @category constants
 */
export const excludedFields: ReadonlySet<string> = new Set([
  "apiKey",
  "api_key",
  "baseUrl",
  "baseURL",
  "base_url",
  "organization",
  "headers"
])

/**
 * The canonical JSON of a request without its excluded fields: what the key hashes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const canonicalRequest = (request: Completion.CompletionRequest): string => {
  const redacted = redactRequest(request)
  const messages = redacted.messages
  if (
    !Array.isArray(messages) ||
    Object.getPrototypeOf(redacted) !== Object.prototype ||
    typeof (redacted as { readonly toJSON?: unknown }).toJSON === "function"
  ) {
    return CanonicalJson.stringifyWithout(redacted, excludedFields)
  }
  // The same text as `stringifyWithout` (sorted members, `undefined` ones left out), with the canonical JSON of
  // the messages adapters share between calls (the system message, the demos) written once, when they were built:
  // only the call's own messages are encoded here.
  const record = redacted as unknown as { readonly [key: string]: unknown }
  const keys = Object.keys(record).sort()
  const parts: Array<string> = []
  for (const key of keys) {
    if (excludedFields.has(key)) continue
    const value = record[key]
    if (key === "messages") {
      parts.push(`"messages":[${messages.map(MessageTexts.textOf).join(",")}]`)
      continue
    }
    if (value === undefined) continue
    // A one-member record: the member's canonical text as `stringifyWithout` writes it (or none: `{}`).
    const member = CanonicalJson.stringify({ [key]: value })
    if (member !== "{}") parts.push(member.slice(1, -1))
  }
  return `{${parts.join(",")}}`
}

/**
 * The cache key of a request: hex sha256 of {@link canonicalRequest}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (request: Completion.CompletionRequest): string => {
  const text = canonicalRequest(request)
  let key = recentKeys.get(text)
  if (key === undefined) {
    key = CanonicalJson.sha256Hex(text)
    if (recentKeys.size >= maxRecentKeys) recentKeys.clear()
    recentKeys.set(text, key)
  }
  return key
}

/**
 * The keys of the canonical texts hashed lately: a cache hit's request is the same text again, and its digest is
 * then a map lookup instead of a SHA-256 of the whole prompt. Bounded (cleared when full); the key is the same.
 */
const recentKeys = new Map<string, string>()
const maxRecentKeys = 4096
