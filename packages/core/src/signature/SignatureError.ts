/**
 * The errors of signatures: a string form that does not parse, values that do not match the fields,
 * conflicting or invalid edits, and a saved form that cannot be read back.
 *
 * @since 0.1.0
 */
export {
  FieldIssue,
  SignatureConflictError,
  SignatureDecodeError,
  SignatureEditError,
  SignatureParseError,
  SignatureValidationError
} from "../CoreError.js"
