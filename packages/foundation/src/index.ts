/**
 * @since 0.1.0
 */

/**
 * Correlation ids carried through nested effects.
 *
 * @since 0.1.0
 */
export * as Correlation from "./Correlation.js"

/**
 * Fiber-local values for the length of an effect, in a few runtime steps (`Effect.locally`'s cheap twin).
 *
 * @since 0.1.0
 */
export * as FiberLocal from "./FiberLocal.js"

/**
 * A guard against a database file deleted, replaced or made read-only while a store has it open.
 *
 * @since 0.1.0
 */
export * as DatabaseFile from "./DatabaseFile.js"

/**
 * The shared error model.
 *
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"

/**
 * Every error of the foundation package in one module, their union and guard.
 *
 * @since 0.1.0
 */
export * as FoundationError from "./FoundationError.js"

/**
 * The one canonical JSON (sorted keys), for cache keys, fingerprints and checkpoint keys.
 *
 * @since 0.1.0
 */
export * as CanonicalJson from "./CanonicalJson.js"

/**
 * The one seeded random module: keyed, forkable streams.
 *
 * @since 0.1.0
 */
export * as Random from "./Random.js"

/**
 * The configuration schema and defaults.
 *
 * @since 0.1.0
 */
export * as ConfigSchema from "./ConfigSchema.js"

/**
 * The Config service.
 *
 * @since 0.1.0
 */
export * as Config from "./Config.js"

/**
 * The Events service: an append-only, queryable event store.
 *
 * @since 0.1.0
 */
export * as Events from "./Events.js"

/**
 * The typed definitions of the events foundation publishes.
 *
 * @since 0.1.0
 */
export * as FoundationEvents from "./FoundationEvents.js"

/**
 * The system's metrics.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

/**
 * Circuit breakers: closed, open, half-open, with count and rate modes.
 *
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * Per-key rate limiters: token bucket and sliding log.
 *
 * @since 0.1.0
 */
export * as RateLimiter from "./RateLimiter.js"

/**
 * Bulkheads: bounded concurrency with a bounded queue.
 *
 * @since 0.1.0
 */
export * as Bulkhead from "./Bulkhead.js"

/**
 * Resource pools: resident and overflow resources, checkout timeouts, invalidation.
 *
 * @since 0.1.0
 */
export * as Pool from "./Pool.js"

/**
 * Protected execution and the service holding the named protections.
 *
 * @since 0.1.0
 */
export * as Protection from "./Protection.js"

/**
 * Telemetry: OpenTelemetry layers, correlation-aware spans, and the mapping of the metrics to OpenTelemetry.
 *
 * @since 0.1.0
 */
export * as Telemetry from "./Telemetry.js"

/**
 * The end user a request acts for, carried through nested effects.
 *
 * @since 0.1.0
 */
export * as Subject from "./Subject.js"

/**
 * Tenants: the tenant id carried by a fiber reference, and the naming of a tenant's stored resources.
 *
 * @since 0.1.0
 */
export * as Tenant from "./Tenant.js"
