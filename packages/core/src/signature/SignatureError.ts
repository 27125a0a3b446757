/**
 * The errors of signatures: a string form that does not parse, values that do not match the fields,
 * conflicting or invalid edits, and a saved form that cannot be read back.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * A signature string did not parse. `column` is 1-based; `expected` says what the parser wanted there.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureParseError extends Errors.TaggedError<SignatureParseError>()(
  "SignatureParseError",
  {
    source: Schema.String,
    column: Schema.Number,
    expected: Schema.String
  },
  { code: "signature_parse", retryable: false }
) {}

/**
 * One problem with one field's value.
 *
 * @since 0.1.0
 * @category models
 */
export const FieldIssue = Schema.Struct({ field: Schema.String, problem: Schema.String })

/**
 * One problem with one field's value.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldIssue = typeof FieldIssue.Type

/**
 * Input or output values did not match the signature's fields.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureValidationError extends Errors.TaggedError<SignatureValidationError>()(
  "SignatureValidationError",
  {
    kind: Schema.Literal("input", "output"),
    issues: Schema.Array(FieldIssue)
  },
  { code: "signature_validation", retryable: false }
) {}

/**
 * Two signatures (or a signature and a new field) declare the same field name.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureConflictError extends Errors.TaggedError<SignatureConflictError>()(
  "SignatureConflictError",
  { field: Schema.String },
  { code: "signature_conflict", retryable: false }
) {}

/**
 * An edit named a field the signature does not have, or an index out of range, or a bad field name.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureEditError extends Errors.TaggedError<SignatureEditError>()(
  "SignatureEditError",
  { field: Schema.String },
  { code: "signature_edit", retryable: false }
) {}

/**
 * A saved signature (its JSON form) could not be read back.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureDecodeError extends Errors.TaggedError<SignatureDecodeError>()(
  "SignatureDecodeError",
  { issue: Schema.String },
  { code: "signature_decode", retryable: false }
) {}
