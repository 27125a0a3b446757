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
