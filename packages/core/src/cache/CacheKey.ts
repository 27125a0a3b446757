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
export const canonicalRequest = (request: Completion.CompletionRequest): string =>
  CanonicalJson.stringifyWithout(redactRequest(request), excludedFields)

/**
 * The cache key of a request: hex sha256 of {@link canonicalRequest}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (request: Completion.CompletionRequest): string =>
  CanonicalJson.sha256Hex(canonicalRequest(request))
