// Whether two API reports describe the same API. TypeScript prints the members of an inferred object type (a
// Schema struct's fields, an event's data) in the order it created their types, which differs between a clean and
// an incremental build of the same sources; so reports are compared as their sorted lines. An added, removed or
// changed line still makes them differ. Used by scripts/api-extractor.mjs (`pnpm api:check`, `pnpm api:update`).

/** A report's lines, trailing spaces dropped, sorted. */
const sortedLines = (text) =>
  text
    .split("\n")
    .map((line) => line.trimEnd())
    .sort()
    .join("\n")

/** Whether two reports hold the same lines in any order. */
export const sameApi = (a, b) => sortedLines(a) === sortedLines(b)
