/**
 * Field types in DSPy's vocabulary (`int`, `list[str]`, `Literal[...]`), their schemas and JSON schemas.
 *
 * @since 0.1.0
 */
export * as FieldType from "./signature/FieldType.js"

/**
 * Signatures: the string and typed forms, immutable edits, merge, validation, JSON form.
 *
 * @since 0.1.0
 */
export * as Signature from "./signature/Signature.js"

/**
 * The errors of signatures.
 *
 * @since 0.1.0
 */
export * as SignatureError from "./signature/SignatureError.js"

/**
 * Examples: records of input and label fields.
 *
 * @since 0.1.0
 */
export * as Example from "./primitives/Example.js"

/**
 * Predictions: the parsed outputs of a module call with all completions and usage.
 *
 * @since 0.1.0
 */
export * as Prediction from "./primitives/Prediction.js"
