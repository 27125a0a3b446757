/**
 * The errors the HTTP API answers with: each one a JSON body `{"_tag","message",...}` with its HTTP status. The
 * application's own failures are mapped onto them by {@link fromFailure} (a missing module is a 404, a version
 * conflict a 409, an invalid spec a 400, an open circuit a 503, ...); nothing else of a failure, and never a stack
 * trace, reaches a response.
 *
 * @since 0.1.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"

/**
 * No valid credential: no `Authorization: Bearer <key>`, session cookie or token, or one that is unknown or expired.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/**
 * The credential lacks the scope the endpoint needs (`read`, `execute` or `admin`).
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String, required: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/**
 * The key's rate limit is spent; `retryAfterMs` says when to try again.
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()(
  "TooManyRequests",
  { message: Schema.String, retryAfterMs: Schema.Number },
  HttpApiSchema.annotations({ status: 429 })
) {}

/**
 * A request the application refused as invalid (a spec, a policy, a job request); `field` names what to fix when
 * known.
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  { message: Schema.String, field: Schema.optional(Schema.String) },
  HttpApiSchema.annotations({ status: 400 })
) {}

/**
 * No such module, version, job or experiment.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/**
 * The change conflicts with the state now (a module that exists, a version that is no longer current).
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/**
 * The application cannot serve the request now (shutting down, an open circuit, a full bulkhead); retry later.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  { message: Schema.String, retryable: Schema.Boolean },
  HttpApiSchema.annotations({ status: 503 })
) {}

/**
 * The request failed inside the application (an LM error, a program's failure); `code` is the failure's code.
 *
 * @since 0.1.0
 * @category errors
 */
export class Failed extends Schema.TaggedError<Failed>()(
  "Failed",
  { message: Schema.String, code: Schema.String, retryable: Schema.Boolean },
  HttpApiSchema.annotations({ status: 500 })
) {}

/**
 * Any error the API answers with.
 *
 * @since 0.1.0
 * @category models
 */
export type ApiError =
  | Unauthorized
  | Forbidden
  | TooManyRequests
  | BadRequest
  | NotFound
  | Conflict
  | Unavailable
  | Failed

const notFound = new Set([
  "ModuleNotFound",
  "ModuleVersionNotFound",
  "OptimizationJobNotFound",
  "ExperimentNotFound",
  "ConfigPathNotFound"
])
const conflict = new Set(["ModuleAlreadyExists", "ModuleVersionConflict", "ExperimentStatusConflict"])
const invalid = new Set([
  "ModuleSpecInvalid",
  "PolicyInvalid",
  "OptimizationRequestInvalid",
  "ExperimentInvalid",
  "ReleaseShapeMismatch",
  "ReleaseBundleInvalid",
  "InputValidationError",
  "SignatureParseError",
  "SignatureValidationError",
  "ConfigInvalid"
])
const unavailable = new Set([
  "ApplicationStopping",
  "ExecutionAborted",
  "CircuitOpen",
  "BulkheadFull",
  "PoolTimeout",
  "ModuleManagerUnavailable",
  "CallTimeout"
])

const describe = (failure: unknown): { readonly tag: string; readonly message: string; readonly code: string } => {
  if (typeof failure === "object" && failure !== null) {
    const record = failure as { readonly _tag?: unknown; readonly message?: unknown; readonly code?: unknown }
    const tag = typeof record._tag === "string" ? record._tag : "Error"
    const message = typeof record.message === "string" && record.message !== "" ? record.message : tag
    const code = typeof record.code === "string" ? record.code : tag
    return { tag, message, code }
  }
  return { tag: "Error", message: "the request failed", code: "error" }
}

const retryableOf = (failure: unknown): boolean =>
  typeof failure === "object" &&
  failure !== null &&
  typeof (failure as { readonly retryable?: unknown }).retryable === "boolean"
    ? ((failure as { readonly retryable: boolean }).retryable as boolean)
    : false

/**
 * Maps a failure of the application onto the API's errors by its tag (its message kept, its cause and stack
 * dropped): not found 404, conflicts 409, invalid input 400, rate limits and a tenant's exhausted limits 429, another
 * tenant's resources 403 (`TenantForbidden`), unavailability 503, else 500.
 *
 * @since 0.1.0
 * @category mapping
 */
export const fromFailure = (failure: unknown): ApiError => {
  const { tag, message, code } = describe(failure)
  if (notFound.has(tag)) return new NotFound({ message })
  if (conflict.has(tag)) return new Conflict({ message })
  if (invalid.has(tag)) return new BadRequest({ message })
  if (tag === "TenantForbidden") return new Forbidden({ message, required: "cross-tenant" })
  if (tag === "RateLimited" || tag === "TenantLimitExceeded") {
    const retry = (failure as { readonly retryAfterMs?: unknown }).retryAfterMs
    return new TooManyRequests({ message, retryAfterMs: typeof retry === "number" ? retry : 1000 })
  }
  if (unavailable.has(tag)) return new Unavailable({ message, retryable: true })
  return new Failed({ message, code, retryable: retryableOf(failure) })
}
