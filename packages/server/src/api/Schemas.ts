/**
 * The shapes shared by the API's groups, and the field size limits every payload obeys.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The longest text field a payload may hold (instructions, signatures, a string input), in characters.
 *
 * @since 0.1.0
 * @category limits
 */
export const maxTextLength = 65_536

/**
 * The most fields, demos or examples a payload's object or array may hold.
 *
 * @since 0.1.0
 * @category limits
 */
export const maxItems = 10_000

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
  Schema.filter((value) => {
    const check = (v: unknown, depth: number): string | undefined => {
      if (depth > 32) return "is nested deeper than 32 levels"
      if (typeof v === "string")
        return v.length > maxTextLength ? `holds a string longer than ${maxTextLength}` : undefined
      if (Array.isArray(v)) {
        if (v.length > maxItems) return `holds an array of more than ${maxItems} items`
        for (const item of v) {
          const bad = check(item, depth + 1)
          if (bad !== undefined) return bad
        }
        return undefined
      }
      if (typeof v === "object" && v !== null) {
        const entries = Object.entries(v)
        if (entries.length > maxItems) return `holds an object of more than ${maxItems} fields`
        for (const [, item] of entries) {
          const bad = check(item, depth + 1)
          if (bad !== undefined) return bad
        }
      }
      return undefined
    }
    return check(value, 0) ?? true
  }),
  Schema.annotations({ title: "BoundedJson" })
)

/**
 * A JSON object of fields (a module's inputs, an example).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Fields = Schema.Record({ key: Schema.String.pipe(Schema.maxLength(128)), value: BoundedJson }).pipe(
  Schema.filter((record) => Object.keys(record).length <= 1_000 || "holds more than 1000 fields"),
  Schema.annotations({ title: "Fields" })
)

/**
 * An id in a path.
 *
 * @since 0.1.0
 * @category schemas
 */
export const IdPath = Schema.Struct({ id: Id })
