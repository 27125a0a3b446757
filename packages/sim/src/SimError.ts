/**
 * Every error of the sim package, in one place. All are members of foundation's error family
 * (`Errors.TaggedError`): tagged, serialisable, with a `code` and a `retryable` declared once. The modules that
 * raise them re-export them (`SimLM.SimConfigError`, `SimServer.SimServerError`), so either name works.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * The options of the simulated LM cannot be used.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimConfigError extends Errors.TaggedError<SimConfigError>()(
  "SimConfigError",
  {},
  { code: "sim_config", retryable: false }
) {}

/**
 * The simulated LM server could not start or take new options (a non-loopback host, a port in use, bad options
 * or an invalid fault profile).
 *
 * @since 0.1.0
 * @category errors
 */
export class SimServerError extends Errors.TaggedError<SimServerError>()(
  "SimServerError",
  {},
  { code: "sim_server", retryable: false }
) {}

/**
 * Any error of the sim package.
 *
 * @since 0.1.0
 * @category models
 */
export type SimError = SimConfigError | SimServerError

/**
 * The schema of {@link SimError}: decodes an encoded error back to its class.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SimError = Schema.Union(SimConfigError, SimServerError)

/**
 * True for errors of the sim package.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSimError: (u: unknown) => u is SimError = Schema.is(SimError)
