/**
 * The LM error family, mirroring DSPy's `LMError` hierarchy: each provider maps its failures onto these.
 * `retryable` says whether the LM layer's retry policy may try again.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

const lmFields = { ...Errors.fields, provider: Schema.String, model: Schema.optional(Schema.String) }

/**
 * The provider rejected the call for rate (HTTP 429); retry after `retryAfterMs` when given.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMRateLimited extends Schema.TaggedError<LMRateLimited>("@effect-dspy/LMRateLimited")("LMRateLimited", {
  ...lmFields,
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "lm_rate_limited"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * The call did not answer within its timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMTimeout extends Schema.TaggedError<LMTimeout>("@effect-dspy/LMTimeout")("LMTimeout", {
  ...lmFields,
  timeoutMs: Schema.Number
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "lm_timeout"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * The prompt does not fit the model's context window.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMContextWindowExceeded extends Schema.TaggedError<LMContextWindowExceeded>(
  "@effect-dspy/LMContextWindowExceeded"
)("LMContextWindowExceeded", lmFields) {
  /** @since 0.1.0 */
  get code(): string {
    return "lm_context_window_exceeded"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The credentials were refused (HTTP 401/403): check the API key.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMAuthError extends Schema.TaggedError<LMAuthError>("@effect-dspy/LMAuthError")("LMAuthError", lmFields) {
  /** @since 0.1.0 */
  get code(): string {
    return "lm_auth"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The provider refused the request as malformed (HTTP 400/404/422): the request must change.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMBadRequest extends Schema.TaggedError<LMBadRequest>("@effect-dspy/LMBadRequest")("LMBadRequest", {
  ...lmFields,
  status: Schema.optional(Schema.Number)
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "lm_bad_request"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The provider failed (HTTP 5xx) or the connection broke.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMServerError extends Schema.TaggedError<LMServerError>("@effect-dspy/LMServerError")("LMServerError", {
  ...lmFields,
  status: Schema.optional(Schema.Number)
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "lm_server"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * Any LM failure.
 *
 * @since 0.1.0
 * @category models
 */
export type LMError = LMRateLimited | LMTimeout | LMContextWindowExceeded | LMAuthError | LMBadRequest | LMServerError
