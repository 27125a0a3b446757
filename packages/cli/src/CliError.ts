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
