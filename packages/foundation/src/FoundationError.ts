/**
 * Every error of the foundation package, in one place: configuration, the event store and the protections
 * (circuit breakers, rate limiters, bulkheads, pools). All are members of the error family declared with
 * `Errors.TaggedError`; the modules that raise them re-export them (`Config.ConfigInvalid`,
 * `CircuitBreaker.CircuitOpen`), so either name works.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Errors from "./Errors.js"

/**
 * A generic failure from user code or an unexpected place (defined with the family in `Errors`).
 *
 * @since 0.1.0
 * @category errors
 */
export const UnexpectedError = Errors.UnexpectedError

/**
 * A generic failure from user code or an unexpected place.
 *
 * @since 0.1.0
 * @category errors
 */
export type UnexpectedError = Errors.UnexpectedError

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

/**
 * The path does not exist in the configuration schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigPathNotFound extends Errors.TaggedError<ConfigPathNotFound>()(
  "ConfigPathNotFound",
  {
    path: Schema.String,
    /** What may stand where the path went wrong (setting names, or the configured record keys). */
    allowed: Schema.optional(Schema.Array(Schema.String))
  },
  { code: "config_path_not_found", retryable: false }
) {}

/**
 * The path may not be changed at run time (it is not in the whitelist).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigUpdateForbidden extends Errors.TaggedError<ConfigUpdateForbidden>()(
  "ConfigUpdateForbidden",
  { path: Schema.String },
  { code: "config_update_forbidden", retryable: false }
) {}

/**
 * A source or an update does not match the schema; `issues` lists what is wrong, path by path.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigInvalid extends Errors.TaggedError<ConfigInvalid>()(
  "ConfigInvalid",
  {
    source: Schema.String,
    issues: Schema.Array(Schema.String)
  },
  { code: "config_invalid", retryable: false }
) {}

// ---------------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------------

/**
 * The store could not read or write (a broken SQLite file, a full disk).
 *
 * @since 0.1.0
 * @category errors
 */
export class EventStoreError extends Errors.TaggedError<EventStoreError>()(
  "EventStoreError",
  {
    operation: Schema.String,
    /** `io` (the store failed; may pass on retry) or `invalid_input` (fix the call). */
    reason: Schema.optional(Schema.Literal("io", "invalid_input"))
  },
  {
    code: (self) => (self.reason === "invalid_input" ? "event_store_invalid_input" : "event_store"),
    retryable: (self) => self.reason !== "invalid_input"
  }
) {}

// ---------------------------------------------------------------------------------------------------------------
// Protections
// ---------------------------------------------------------------------------------------------------------------

/**
 * The circuit is open: the call was rejected without running. `remainingMs` is the time until the breaker
 * admits a trial call (0 when it is half-open and all trial slots are taken).
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpen extends Errors.TaggedError<CircuitOpen>()(
  "CircuitOpen",
  {
    key: Schema.String,
    remainingMs: Schema.Number
  },
  { code: "circuit_open", retryable: true }
) {}

/**
 * A protected call took longer than its timeout and was interrupted. It counts as a circuit breaker failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class CallTimeout extends Errors.TaggedError<CallTimeout>()(
  "CallTimeout",
  {
    key: Schema.String,
    timeoutMs: Schema.Number
  },
  { code: "call_timeout", retryable: true }
) {}

/**
 * The key is over its rate limit; the call was not made. `retryAfterMs` is how long until a call for this key
 * can be admitted.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends Errors.TaggedError<RateLimited>()(
  "RateLimited",
  {
    limiter: Schema.String,
    key: Schema.String,
    retryAfterMs: Schema.Number
  },
  { code: "rate_limited", retryable: true }
) {}

/**
 * The bulkhead's slots are taken and its queue is full; the call was not made.
 *
 * @since 0.1.0
 * @category errors
 */
export class BulkheadFull extends Errors.TaggedError<BulkheadFull>()(
  "BulkheadFull",
  {
    name: Schema.String,
    maxConcurrent: Schema.Number,
    maxQueued: Schema.Number
  },
  { code: "bulkhead_full", retryable: true }
) {}

/**
 * No resource became free within the checkout timeout; the call was not made.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolTimeout extends Errors.TaggedError<PoolTimeout>()(
  "PoolTimeout",
  {
    name: Schema.String,
    timeoutMs: Schema.Number
  },
  { code: "pool_timeout", retryable: true }
) {}

/**
 * A named protection is used but the configuration has no settings for it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtectionNotConfigured extends Errors.TaggedError<ProtectionNotConfigured>()(
  "ProtectionNotConfigured",
  {
    kind: Schema.Literal("circuitBreakers", "rateLimiters", "bulkheads", "pools"),
    name: Schema.String
  },
  { code: "protection_not_configured", retryable: false }
) {}

/**
 * Settings given to a protection (a circuit breaker, rate limiter, bulkhead or pool) do not match its schema.
 */
export class ProtectionSettingsInvalid extends Errors.TaggedError<ProtectionSettingsInvalid>()(
  "ProtectionSettingsInvalid",
  { protection: Schema.String, name: Schema.String },
  { code: "protection_settings_invalid", retryable: false }
) {}

// ---------------------------------------------------------------------------------------------------------------
// The package's error union
// ---------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------------------------

/**
 * The caller's tenant may not do this: the resource belongs to another tenant, or the action needs a cross-tenant
 * key.
 *
 * @since 0.1.0
 * @category errors
 */
export class TenantForbidden extends Errors.TaggedError<TenantForbidden>()(
  "TenantForbidden",
  { tenant: Schema.String, action: Schema.String },
  { code: "tenant_forbidden", retryable: false }
) {}

/**
 * One of a tenant's limits (Config `tenants.*`) is exhausted: its rate limit, LM-call or cost budget, concurrent
 * optimization jobs or storage quota. Other tenants are unaffected.
 *
 * @since 0.1.0
 * @category errors
 */
export class TenantLimitExceeded extends Errors.TaggedError<TenantLimitExceeded>()(
  "TenantLimitExceeded",
  {
    tenant: Schema.String,
    limit: Schema.Literal("rate", "lm_calls", "cost", "jobs", "storage"),
    /** The configured limit and what the request would have used. */
    allowed: Schema.Number,
    used: Schema.Number,
    /** When a retry may succeed (rate limits), in milliseconds. */
    retryAfterMs: Schema.optional(Schema.Number)
  },
  { code: "tenant_limit_exceeded", retryable: true }
) {}

/**
 * Any error of the foundation package.
 *
 * @since 0.1.0
 * @category models
 */
export type FoundationError =
  | UnexpectedError
  | ConfigPathNotFound
  | ConfigUpdateForbidden
  | ConfigInvalid
  | EventStoreError
  | CircuitOpen
  | CallTimeout
  | RateLimited
  | BulkheadFull
  | PoolTimeout
  | ProtectionNotConfigured
  | ProtectionSettingsInvalid
  | TenantForbidden
  | TenantLimitExceeded

/**
 * The schema of any foundation error: a union that decodes each member to its own class.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FoundationError = Schema.Union(
  UnexpectedError,
  ConfigPathNotFound,
  ConfigUpdateForbidden,
  ConfigInvalid,
  EventStoreError,
  CircuitOpen,
  CallTimeout,
  RateLimited,
  BulkheadFull,
  PoolTimeout,
  ProtectionNotConfigured,
  ProtectionSettingsInvalid,
  TenantForbidden,
  TenantLimitExceeded
)

/**
 * True for errors of the foundation package.
 *
 * @since 0.1.0
 * @category guards
 */
export const isFoundationError: (u: unknown) => u is FoundationError = Schema.is(FoundationError)
