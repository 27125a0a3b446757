/**
 * Every error of the core package, in one place: LM failures, signatures, adapters, primitives, predictors and
 * evaluation. All are members of foundation's error family (`Errors.TaggedError`): tagged, serialisable, with a
 * `code` and a `retryable` declared once. The domain modules re-export their own errors (`Predict.PredictConfigError`,
 * `LMError.LMTimeout`), so either name works.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------------------------
// Language models
// ---------------------------------------------------------------------------------------------------------------

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
 * The prompt does not fit the model's context window. When the LM service found it before sending (from the
 * model's capabilities), `promptTokens` is its count and `limitTokens` the most the prompt could have had.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMContextWindowExceeded extends Errors.TaggedError<LMContextWindowExceeded>()(
  "LMContextWindowExceeded",
  {
    ...lmFields,
    promptTokens: Schema.optional(Schema.Number),
    limitTokens: Schema.optional(Schema.Number)
  },
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
 * The provider answered, but not with a readable completion: a 200 with an HTML or text page, a body that is
 * not valid JSON (cut short, empty, `null`), JSON without `choices` or with a choice without `message`, an
 * error object instead of a completion, a stream event that is not a chunk. `problem` says which. Retryable
 * (a proxy's error page or a cut connection is often transient): the retry policy tries again, and the
 * provider's circuit breaker counts it, so a provider that keeps answering garbage is cut off and its backup
 * used; a module's breaker does not count it (it is the provider's fault, not the module's).
 *
 * @since 0.1.0
 * @category errors
 */
export class LMMalformedResponse extends Errors.TaggedError<LMMalformedResponse>()(
  "LMMalformedResponse",
  {
    ...lmFields,
    status: Schema.optional(Schema.Number),
    contentType: Schema.optional(Schema.String),
    problem: Schema.String
  },
  { code: "lm_malformed_response", retryable: true }
) {}

/**
 * The response (or stream) grew past the provider's `maxResponseBytes` and was dropped there, unread. Not
 * retryable: the same request would likely bring the same answer; raise `providers.<name>.maxResponseBytes` or
 * ask for less (`max_tokens`, fewer choices).
 *
 * @since 0.1.0
 * @category errors
 */
export class LMResponseTooLarge extends Errors.TaggedError<LMResponseTooLarge>()(
  "LMResponseTooLarge",
  {
    ...lmFields,
    limitBytes: Schema.Number
  },
  { code: "lm_response_too_large", retryable: false }
) {}

/**
 * The privacy policy refused to let data out: the request (or the value to store) holds PII of `kinds` and the
 * policy for it is `block`. Nothing was sent or written. `target` says where the data was going (`lm_request`,
 * `saved_program`, `release_bundle`, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class PrivacyBlocked extends Errors.TaggedError<PrivacyBlocked>()(
  "PrivacyBlocked",
  {
    provider: Schema.optional(Schema.String),
    model: Schema.optional(Schema.String),
    target: Schema.String,
    kinds: Schema.Array(Schema.String)
  },
  { code: "privacy_blocked", retryable: false }
) {}

/**
 * The LM's answer holds PII of `kinds` that did not come from the caller's input, and `privacy.leakage` is
 * `block`: the answer was not returned.
 *
 * @since 0.1.0
 * @category errors
 */
export class PrivacyLeak extends Errors.TaggedError<PrivacyLeak>()(
  "PrivacyLeak",
  {
    provider: Schema.String,
    model: Schema.optional(Schema.String),
    kinds: Schema.Array(Schema.String)
  },
  { code: "privacy_leak", retryable: false }
) {}

/**
 * Any LM failure.
 *
 * @since 0.1.0
 * @category models
 */
export type LMError =
  | LMRateLimited
  | LMTimeout
  | LMContextWindowExceeded
  | LMAuthError
  | LMBadRequest
  | LMServerError
  | LMMalformedResponse
  | LMResponseTooLarge
  | PrivacyBlocked
  | PrivacyLeak
  | LMCapabilityError

/**
 * The model cannot take what the request holds (images, audio) and the request was not sent: use a model with
 * the capability, or set `providers.<name>.capabilities.<capability>` if it has it.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMCapabilityError extends Errors.TaggedError<LMCapabilityError>()(
  "LMCapabilityError",
  { ...lmFields, capability: Schema.Literal("images", "audio") },
  { code: "lm_capability", retryable: false }
) {}

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
  LMServerError,
  LMMalformedResponse,
  LMResponseTooLarge,
  PrivacyBlocked,
  PrivacyLeak,
  LMCapabilityError
)

/**
 * True for LM failures (the provider's trouble, as opposed to a module's own failure).
 *
 * @since 0.1.0
 * @category guards
 */
export const isLMError: (u: unknown) => u is LMError = Schema.is(LMError)

/**
 * An image or audio value cannot be made: too large, not a supported or allowed type (sniffed from its bytes),
 * a URL while fetching is not allowed (`media.allowUrlFetch`), a fetch or a read that failed, or saved bytes
 * whose digest does not match.
 *
 * @since 0.1.0
 * @category errors
 */
export class MediaError extends Errors.TaggedError<MediaError>()(
  "MediaError",
  {
    reason: Schema.Literal(
      "too_large",
      "unsupported_type",
      "url_fetch_disabled",
      "fetch_failed",
      "io",
      "digest_mismatch"
    ),
    source: Schema.optional(Schema.String)
  },
  { code: (self) => `media_${self.reason}`, retryable: (self) => self.reason === "fetch_failed" }
) {}

/**
 * The LM configuration cannot be used: the named provider is missing or incomplete.
 *
 * @since 0.1.0
 * @category errors
 */
export class LMConfigError extends Errors.TaggedError<LMConfigError>()(
  "LMConfigError",
  {
    provider: Schema.String
  },
  { code: "lm_config", retryable: false }
) {}

// ---------------------------------------------------------------------------------------------------------------
// Adapters
// ---------------------------------------------------------------------------------------------------------------

/**
 * The LM answer did not parse into the signature's outputs. Carries the raw completion, the expected output
 * field names, the fields that were missing and the ones whose value did not decode.
 *
 * @since 0.1.0
 * @category errors
 */
export class AdapterParseError extends Errors.TaggedError<AdapterParseError>()(
  "AdapterParseError",
  {
    adapter: Schema.String,
    completion: Schema.String,
    outputFields: Schema.Array(Schema.String),
    missing: Schema.Array(Schema.String),
    invalid: Schema.Array(Schema.Struct({ field: Schema.String, problem: Schema.String }))
  },
  { code: "adapter_parse", retryable: true }
) {}

// ---------------------------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------------------------

/**
 * A signature string did not parse. `column` is 1-based; `expected` says what the parser wanted there.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureParseError extends Errors.TaggedError<SignatureParseError>()(
  "SignatureParseError",
  {
    source: Schema.String,
    column: Schema.Number,
    expected: Schema.String
  },
  { code: "signature_parse", retryable: false }
) {}

/**
 * One problem with one field's value.
 *
 * @since 0.1.0
 * @category models
 */
export const FieldIssue = Schema.Struct({ field: Schema.String, problem: Schema.String })

/**
 * One problem with one field's value.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldIssue = typeof FieldIssue.Type

/**
 * Input or output values did not match the signature's fields.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureValidationError extends Errors.TaggedError<SignatureValidationError>()(
  "SignatureValidationError",
  {
    kind: Schema.Literal("input", "output"),
    issues: Schema.Array(FieldIssue)
  },
  { code: "signature_validation", retryable: false }
) {}

/**
 * Two signatures (or a signature and a new field) declare the same field name.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureConflictError extends Errors.TaggedError<SignatureConflictError>()(
  "SignatureConflictError",
  { field: Schema.String },
  { code: "signature_conflict", retryable: false }
) {}

/**
 * An edit named a field the signature does not have, or an index out of range, or a bad field name.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureEditError extends Errors.TaggedError<SignatureEditError>()(
  "SignatureEditError",
  { field: Schema.String },
  { code: "signature_edit", retryable: false }
) {}

/**
 * A saved signature (its JSON form) could not be read back.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureDecodeError extends Errors.TaggedError<SignatureDecodeError>()(
  "SignatureDecodeError",
  { issue: Schema.String },
  { code: "signature_decode", retryable: false }
) {}

// ---------------------------------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------------------------------

/**
 * `inputs()` was called on an example whose input keys were never set with `withInputs`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExampleInputsNotSet extends Errors.TaggedError<ExampleInputsNotSet>()(
  "ExampleInputsNotSet",
  {},
  { code: "example_inputs_not_set", retryable: false }
) {}

/**
 * A prediction was built with no completion.
 *
 * @since 0.1.0
 * @category errors
 */
export class PredictionEmpty extends Errors.TaggedError<PredictionEmpty>()(
  "PredictionEmpty",
  {},
  { code: "prediction_empty", retryable: false }
) {}

/**
 * A predictor path that the program does not have.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownPredictorPath extends Errors.TaggedError<UnknownPredictorPath>()(
  "UnknownPredictorPath",
  { path: Schema.String, known: Schema.Array(Schema.String) },
  { code: "unknown_predictor_path", retryable: false }
) {}

/**
 * Saved state could not be used: it is not a program state (`decode`), it does not fit the program
 * (`mismatch`: a missing predictor, different fields), or the file could not be read or written (`io`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ModuleStateError extends Errors.TaggedError<ModuleStateError>()(
  "ModuleStateError",
  { reason: Schema.Literal("decode", "mismatch", "io"), path: Schema.optional(Schema.String) },
  { code: (self) => `module_state_${self.reason}`, retryable: (self) => self.reason === "io" }
) {}

// ---------------------------------------------------------------------------------------------------------------
// Predictors
// ---------------------------------------------------------------------------------------------------------------

/**
 * The predictor's settings are invalid (a non-positive `n`, a negative temperature, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class PredictConfigError extends Errors.TaggedError<PredictConfigError>()(
  "PredictConfigError",
  { option: Schema.String },
  { code: "predict_config", retryable: false }
) {}

/**
 * The run stopped because `maxErrors` calls failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ParallelMaxErrors extends Errors.TaggedError<ParallelMaxErrors>()(
  "ParallelMaxErrors",
  { errors: Schema.Number, maxErrors: Schema.Number, lastError: Schema.Unknown },
  { code: "parallel_max_errors", retryable: false }
) {}

/**
 * The options of a parallel run are invalid.
 *
 * @since 0.1.0
 * @category errors
 */
export class ParallelConfigError extends Errors.TaggedError<ParallelConfigError>()(
  "ParallelConfigError",
  { option: Schema.String },
  { code: "parallel_config", retryable: false }
) {}

/**
 * A call did not finish within the per-call timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class ParallelTimeout extends Errors.TaggedError<ParallelTimeout>()(
  "ParallelTimeout",
  { index: Schema.Number, timeoutMs: Schema.Number },
  { code: "parallel_timeout", retryable: true }
) {}

/**
 * The trajectory could not be made to fit the context window (it has no step left to drop, or 3
 * truncations were not enough).
 *
 * @since 0.1.0
 * @category errors
 */
export class ReActContextOverflow extends Errors.TaggedError<ReActContextOverflow>()(
  "ReActContextOverflow",
  { steps: Schema.Number },
  { code: "react_context_overflow", retryable: false }
) {}

/**
 * The number of attempts given differs from M.
 *
 * @since 0.1.0
 * @category errors
 */
export class AttemptCountMismatch extends Errors.TaggedError<AttemptCountMismatch>()(
  "AttemptCountMismatch",
  { expected: Schema.Number, got: Schema.Number },
  { code: "attempt_count_mismatch", retryable: false }
) {}

/**
 * A tool call failed: its arguments did not decode, or the function failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ToolError extends Errors.TaggedError<ToolError>()(
  "ToolError",
  {
    tool: Schema.String,
    cause: Schema.optional(Schema.Unknown)
  },
  { code: "tool", retryable: false }
) {}

/**
 * Every attempt failed (or more than `failCount` did).
 *
 * @since 0.1.0
 * @category errors
 */
export class BestOfNFailed extends Errors.TaggedError<BestOfNFailed>()(
  "BestOfNFailed",
  {
    attempts: Schema.Number,
    failures: Schema.Number,
    lastError: Schema.Unknown
  },
  { code: "best_of_n_failed", retryable: false }
) {}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------------------------

/**
 * The run stopped because `maxErrors` examples failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class EvaluateMaxErrors extends Errors.TaggedError<EvaluateMaxErrors>()(
  "EvaluateMaxErrors",
  { errors: Schema.Number, maxErrors: Schema.Number, lastError: Schema.String },
  { code: "evaluate_max_errors", retryable: false }
) {}

/**
 * The options of a run are invalid (a concurrency or maxErrors that is not a positive integer, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class EvaluateConfigError extends Errors.TaggedError<EvaluateConfigError>()(
  "EvaluateConfigError",
  { option: Schema.String },
  { code: "evaluate_config", retryable: false }
) {}

/**
 * The example's inputs are not known (`withInputs` was never called on it).
 *
 * @since 0.1.0
 * @category errors
 */
export class EvaluateInputsError extends Errors.TaggedError<EvaluateInputsError>()(
  "EvaluateInputsError",
  {},
  { code: "evaluate_inputs", retryable: false }
) {}

/**
 * Embeddings could not be computed (the LM failed) or are unusable (a wrong count, mismatched sizes).
 *
 * @since 0.1.0
 * @category errors
 */
export class EmbedderError extends Errors.TaggedError<EmbedderError>()(
  "EmbedderError",
  {
    reason: Schema.Literal("lm", "shape")
  },
  { code: (self) => `embedder_${self.reason}`, retryable: (self) => self.reason === "lm" }
) {}

/**
 * A vector index could not be built, saved or loaded (texts and vectors of different counts, an unreadable or
 * unknown-version file, a file system failure), or a search was asked for an invalid `k`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RetrieveError extends Errors.TaggedError<RetrieveError>()(
  "RetrieveError",
  {
    reason: Schema.Literal("io", "decode", "version", "shape", "config"),
    path: Schema.optional(Schema.String)
  },
  { code: (self) => `retrieve_${self.reason}`, retryable: (self) => self.reason === "io" }
) {}

// ---------------------------------------------------------------------------------------------------------------
// The package's error union
// ---------------------------------------------------------------------------------------------------------------

/**
 * Any error of the core package.
 *
 * @since 0.1.0
 * @category models
 */
export type CoreError =
  | LMRateLimited
  | LMTimeout
  | LMContextWindowExceeded
  | LMAuthError
  | LMBadRequest
  | LMServerError
  | LMMalformedResponse
  | LMResponseTooLarge
  | PrivacyBlocked
  | PrivacyLeak
  | LMCapabilityError
  | MediaError
  | SignatureParseError
  | SignatureValidationError
  | SignatureConflictError
  | SignatureEditError
  | SignatureDecodeError
  | LMConfigError
  | AdapterParseError
  | ExampleInputsNotSet
  | PredictionEmpty
  | UnknownPredictorPath
  | ModuleStateError
  | PredictConfigError
  | ParallelMaxErrors
  | ParallelConfigError
  | ParallelTimeout
  | ReActContextOverflow
  | AttemptCountMismatch
  | ToolError
  | BestOfNFailed
  | EvaluateMaxErrors
  | EvaluateConfigError
  | EvaluateInputsError
  | EmbedderError
  | RetrieveError

/**
 * The schema of any core error: a union that decodes each member to its own class (for errors that crossed a
 * boundary as JSON).
 *
 * @since 0.1.0
 * @category schemas
 */
export const CoreError = Schema.Union(
  LMRateLimited,
  LMTimeout,
  LMContextWindowExceeded,
  LMAuthError,
  LMBadRequest,
  LMServerError,
  LMMalformedResponse,
  LMResponseTooLarge,
  PrivacyBlocked,
  PrivacyLeak,
  LMCapabilityError,
  MediaError,
  SignatureParseError,
  SignatureValidationError,
  SignatureConflictError,
  SignatureEditError,
  SignatureDecodeError,
  LMConfigError,
  AdapterParseError,
  ExampleInputsNotSet,
  PredictionEmpty,
  UnknownPredictorPath,
  ModuleStateError,
  PredictConfigError,
  ParallelMaxErrors,
  ParallelConfigError,
  ParallelTimeout,
  ReActContextOverflow,
  AttemptCountMismatch,
  ToolError,
  BestOfNFailed,
  EvaluateMaxErrors,
  EvaluateConfigError,
  EvaluateInputsError,
  EmbedderError,
  RetrieveError
)

/**
 * True for errors of the core package.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCoreError: (u: unknown) => u is CoreError = Schema.is(CoreError)
