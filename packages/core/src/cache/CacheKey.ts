/**
 * Cache keys: the sha256 of the canonical JSON of a completion request. Canonical means object keys sorted
 * and `undefined` values left out, so the order in which parameters were written does not matter. Every
 * request field takes part (model, messages, every sampling parameter, response format, tools, and the
 * rollout id), except credentials and endpoints (`apiKey`, `baseUrl` and their spellings), which may ride
 * along on a request object but must never change or leak into a key.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
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

const canonical = (value: unknown): string => {
  if (value === null || typeof value !== "object") {
    // Non-finite numbers have no JSON form; keep them distinct from null.
    if (typeof value === "number" && !Number.isFinite(value)) return `"${String(value)}"`
    return JSON.stringify(value) ?? "null"
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  const record = value as { readonly [key: string]: unknown }
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`).join(",")}}`
}

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
  const kept: Record<string, unknown> = {}
  for (const k of Object.keys(record)) if (!excludedFields.has(k)) kept[k] = record[k]
  return canonical(kept)
}

/**
 * The cache key of a request: hex sha256 of {@link canonicalRequest}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (request: Completion.CompletionRequest): string =>
  createHash("sha256").update(canonicalRequest(request)).digest("hex")
