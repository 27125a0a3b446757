/**
 * The `effect-dspy` command line (`@effect-dspy/cli`).
 *
 * @since 0.1.0
 */

/**
 * The command (`run`, `version`, `--help`) and its runner.
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * The command line's errors.
 *
 * @since 0.1.0
 */
export * as CliError from "./CliError.js"
