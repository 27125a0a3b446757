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
 * The shared error model.
 *
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"

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
 * The system's metrics.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"
