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
export class SignatureParseError extends Schema.TaggedError<SignatureParseError>("@effect-dspy/SignatureParseError")(
  "SignatureParseError",
  {
    ...Errors.fields,
    source: Schema.String,
    column: Schema.Number,
    expected: Schema.String
  }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "signature_parse"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

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
export class SignatureValidationError extends Schema.TaggedError<SignatureValidationError>(
  "@effect-dspy/SignatureValidationError"
)("SignatureValidationError", {
  ...Errors.fields,
  kind: Schema.Literal("input", "output"),
  issues: Schema.Array(FieldIssue)
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "signature_validation"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * Two signatures (or a signature and a new field) declare the same field name.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureConflictError extends Schema.TaggedError<SignatureConflictError>(
  "@effect-dspy/SignatureConflictError"
)("SignatureConflictError", { ...Errors.fields, field: Schema.String }) {
  /** @since 0.1.0 */
  get code(): string {
    return "signature_conflict"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * An edit named a field the signature does not have, or an index out of range, or a bad field name.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureEditError extends Schema.TaggedError<SignatureEditError>("@effect-dspy/SignatureEditError")(
  "SignatureEditError",
  { ...Errors.fields, field: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "signature_edit"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * A saved signature (its JSON form) could not be read back.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignatureDecodeError extends Schema.TaggedError<SignatureDecodeError>("@effect-dspy/SignatureDecodeError")(
  "SignatureDecodeError",
  { ...Errors.fields, issue: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "signature_decode"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}
