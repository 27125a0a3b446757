/**
 * The LM error family, mirroring DSPy's `LMError` hierarchy: each provider maps its failures onto these.
 * `retryable` says whether the LM layer's retry policy may try again.
 *
 * @since 0.1.0
 */
export {
  isLMError,
  LMAuthError,
  LMBadRequest,
  LMCapabilityError,
  LMContextWindowExceeded,
  LMError,
  LMMalformedResponse,
  LMRateLimited,
  LMResponseTooLarge,
  LMServerError,
  LMTimeout
} from "../CoreError.js"
