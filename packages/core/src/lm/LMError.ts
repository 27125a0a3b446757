/**
 * The LM error family, mirroring DSPy's `LMError` hierarchy: each provider maps its failures onto these.
 * `retryable` says whether the LM layer's retry policy may try again.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

const lmFields = { provider: Schema.String, model: Schema.optional(Schema.String) }

/**
 * The provider rejected the call for rate (HTTP 429); retry after `retryAfterMs` when given.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMRateLimited extends Errors.TaggedError<LMRateLimited>()(
  "LMRateLimited",
  {
    ...lmFields,
    retryAfterMs: Schema.optional(Schema.Number)
  },
  { code: "lm_rate_limited", retryable: true }
) {}

/**
 * The call did not answer within its timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMTimeout extends Errors.TaggedError<LMTimeout>()(
  "LMTimeout",
  {
    ...lmFields,
    timeoutMs: Schema.Number
  },
  { code: "lm_timeout", retryable: true }
) {}

/**
 * The prompt does not fit the model's context window.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMContextWindowExceeded extends Errors.TaggedError<LMContextWindowExceeded>()(
  "LMContextWindowExceeded",
  lmFields,
  { code: "lm_context_window_exceeded", retryable: false }
) {}

/**
 * The credentials were refused (HTTP 401/403): check the API key.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMAuthError extends Errors.TaggedError<LMAuthError>()("LMAuthError", lmFields, {
  code: "lm_auth",
  retryable: false
}) {}

/**
 * The provider refused the request as malformed (HTTP 400/404/422): the request must change.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMBadRequest extends Errors.TaggedError<LMBadRequest>()(
  "LMBadRequest",
  {
    ...lmFields,
    status: Schema.optional(Schema.Number)
  },
  { code: "lm_bad_request", retryable: false }
) {}

/**
 * The provider failed (HTTP 5xx) or the connection broke.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMServerError extends Errors.TaggedError<LMServerError>()(
  "LMServerError",
  {
    ...lmFields,
    status: Schema.optional(Schema.Number)
  },
  { code: "lm_server", retryable: true }
) {}

/**
 * Any LM failure.
 *
 * @since 0.1.0
 * @category models
 */
export type LMError = LMRateLimited | LMTimeout | LMContextWindowExceeded | LMAuthError | LMBadRequest | LMServerError

/**
 * The schema of any LM failure: a union that decodes each member to its own class.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LMError = Schema.Union(
  LMRateLimited,
  LMTimeout,
  LMContextWindowExceeded,
  LMAuthError,
  LMBadRequest,
  LMServerError
)

/**
 * True for LM failures (the provider's trouble, as opposed to a module's own failure).
 *
 * @since 0.1.0
 * @category guards
 */
export const isLMError: (u: unknown) => u is LMError = Schema.is(LMError)
