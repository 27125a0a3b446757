/**
 * Cache keys: the sha256 of the canonical JSON of a completion request. Canonical means object keys sorted
 * and `undefined` values left out, so the order in which parameters were written does not matter. Every
 * request field takes part (model, messages, every sampling parameter, response format, tools, and the
 * rollout id), except credentials and endpoints (`apiKey`, `baseUrl` and their spellings), which may ride
 * along on a request object but must never change or leak into a key.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import type * as Completion from "../lm/Completion.js"

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
 * A copy with object keys in sorted order (and non-finite numbers as strings, so that they stay distinct from
 * `null`); `JSON.stringify` of it is the canonical form. One native `JSON.stringify` over a sorted copy is
 * several times faster than building the string piece by piece, and this runs on every cached LM call.
 */
const sortedCopy = (value: unknown): unknown => {
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value)
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) return value.map(sortedCopy)
  const record = value as { readonly [key: string]: unknown }
  const keys = Object.keys(record).sort()
  const out: Record<string, unknown> = {}
  for (const k of keys) out[k] = sortedCopy(record[k])
  return out
}

const canonical = (value: unknown): string => JSON.stringify(sortedCopy(value)) ?? "null"

/**
 * The canonical JSON of any value: sorted object keys, `undefined` members dropped, arrays in order.
 *
 * @since 0.1.0
 * @category encoding
 */
export const canonicalJson = (value: unknown): string => canonical(value)

/**
 * The canonical JSON of a request without its excluded fields: what the key hashes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const canonicalRequest = (request: Completion.CompletionRequest): string => {
  const record = request as unknown as { readonly [key: string]: unknown }
  const keys = Object.keys(record).sort()
  const kept: Record<string, unknown> = {}
  for (const k of keys) if (!excludedFields.has(k)) kept[k] = sortedCopy(record[k])
  return JSON.stringify(kept)
}

/**
 * The cache key of a request: hex sha256 of {@link canonicalRequest}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (request: Completion.CompletionRequest): string => sha256Hex(canonicalRequest(request))

// `crypto.hash` (Node >= 20.12) is a one-shot digest, about twice as fast as `createHash` for short inputs.
const oneShot = (crypto as { readonly hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash
const sha256Hex = (text: string): string =>
  oneShot !== undefined ? oneShot("sha256", text, "hex") : crypto.createHash("sha256").update(text).digest("hex")
