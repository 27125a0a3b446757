/**
 * What the protection modules share: the invalid-settings error, settings decoding, and the rejection test.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ProtectionSettingsInvalid } from "../FoundationError.js"

/**
 * The errors of this module (defined with every error of the package in `FoundationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ProtectionSettingsInvalid }

/** Decodes settings against their schema (filling defaults), failing with a message that names the fields. */
export const decodeSettings =
  <A, I>(schema: Schema.Schema<A, I>, protection: string, schemaName: string) =>
  (name: string, input: I): Effect.Effect<A, ProtectionSettingsInvalid> =>
    Schema.decodeUnknown(schema)(input).pipe(
      Effect.mapError(
        (error) =>
          new ProtectionSettingsInvalid({
            protection,
            name,
            message: `Invalid ${protection} settings for "${name}": ${ParseResult.TreeFormatter.formatErrorSync(error)}. Fix the settings (see ConfigSchema.${schemaName}).`
          })
      )
    )

const rejectionTags: ReadonlySet<string> = new Set(["CircuitOpen", "RateLimited", "BulkheadFull", "PoolTimeout"])

/**
 * True for the rejections of the protections themselves: the call never reached the dependency, so a circuit
 * breaker neither counts it as a failure nor as a success, and `executeProtected` does not retry it at once.
 */
export const isRejection = (u: unknown): boolean =>
  typeof u === "object" && u !== null && "_tag" in u && rejectionTags.has((u as { _tag: string })._tag)
