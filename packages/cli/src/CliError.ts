/**
 * The errors of the `effect-dspy` command line.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * The `--input` of `effect-dspy run` is not a JSON object (`message` says what to fix).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Errors.TaggedError<InvalidInput>()(
  "InvalidInput",
  { input: Schema.String },
  { code: "cli_invalid_input", retryable: false }
) {}

/**
 * A request to a running server failed: it could not be reached (`status` 0) or it answered with an error.
 *
 * @since 0.1.0
 * @category errors
 */
export class RemoteFailed extends Errors.TaggedError<RemoteFailed>()(
  "RemoteFailed",
  { status: Schema.Number },
  { code: "cli_remote_failed", retryable: (e) => e.status === 0 || e.status === 503 || e.status === 429 }
) {}

/**
 * The server could not start: its key file is missing or invalid, or it cannot listen (`message` says what).
 *
 * @since 0.1.0
 * @category errors
 */
export class ServeFailed extends Errors.TaggedError<ServeFailed>()(
  "ServeFailed",
  {},
  { code: "cli_serve_failed", retryable: false }
) {}
