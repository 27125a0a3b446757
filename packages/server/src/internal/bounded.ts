/**
 * The bounds of a JSON value the API accepts (`Schemas.BoundedJson`'s filter, and the fast path's check of an
 * execution's inputs): strings of at most `maxTextLength`, arrays and objects of at most `maxItems` items, at
 * most 32 levels deep.
 */

/** The longest string a field may hold. */
export const maxTextLength = 65_536

/** The most items an array (or fields an object) may hold. */
export const maxItems = 10_000

/** The most fields a record of fields (`Schemas.Fields`: a module's inputs) may hold. */
export const maxFields = 1_000

/** The longest name of a field in a record of fields. */
export const maxFieldName = 128

/** What is out of bounds in a JSON value (the first thing found), or `undefined` when it is within them. */
export const boundedJsonIssue = (value: unknown, depth = 0): string | undefined => {
  if (depth > 32) return "is nested deeper than 32 levels"
  if (typeof value === "string") {
    return value.length > maxTextLength ? `holds a string longer than ${maxTextLength}` : undefined
  }
  if (Array.isArray(value)) {
    if (value.length > maxItems) return `holds an array of more than ${maxItems} items`
    for (const item of value) {
      const bad = boundedJsonIssue(item, depth + 1)
      if (bad !== undefined) return bad
    }
    return undefined
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
    if (entries.length > maxItems) return `holds an object of more than ${maxItems} fields`
    for (const [, item] of entries) {
      const bad = boundedJsonIssue(item, depth + 1)
      if (bad !== undefined) return bad
    }
  }
  return undefined
}
