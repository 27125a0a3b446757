/**
 * The shapes shared by the API's groups, and the field size limits every payload obeys.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Bounded from "../internal/bounded.js"

/**
 * The longest text field a payload may hold (instructions, signatures, a string input), in characters.
 *
 * @since 0.1.0
 * @category limits
 */
export const maxTextLength = Bounded.maxTextLength

/**
 * The most fields, demos or examples a payload's object or array may hold.
 *
 * @since 0.1.0
 * @category limits
 */
export const maxItems = Bounded.maxItems

/**
 * An identifier (module, job, key): 1 to 128 characters of letters, digits, `_`, `-`, `.`, `:`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Id = Schema.String.pipe(
  Schema.pattern(/^[\w.:-]{1,128}$/),
  Schema.annotations({ title: "Id", description: "1 to 128 letters, digits, _ - . :" })
)

/**
 * A text field of at most {@link maxTextLength} characters.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Text = Schema.String.pipe(Schema.maxLength(maxTextLength))

/**
 * A JSON value whose strings are at most {@link maxTextLength} characters and whose arrays and objects hold at
 * most {@link maxItems} entries, at most 32 levels deep.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BoundedJson = Schema.Unknown.pipe(
  Schema.filter((value) => Bounded.boundedJsonIssue(value) ?? true),
  Schema.annotations({ title: "BoundedJson" })
)

/**
 * A JSON object of fields (a module's inputs, an example).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Fields = Schema.Record({
  key: Schema.String.pipe(Schema.maxLength(Bounded.maxFieldName)),
  value: BoundedJson
}).pipe(
  Schema.filter(
    (record) => Object.keys(record).length <= Bounded.maxFields || `holds more than ${Bounded.maxFields} fields`
  ),
  Schema.annotations({ title: "Fields" })
)

/**
 * An id in a path.
 *
 * @since 0.1.0
 * @category schemas
 */
export const IdPath = Schema.Struct({ id: Id })
