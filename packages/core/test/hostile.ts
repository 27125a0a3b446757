/**
 * Arbitrary hostile text for property tests of parsers: random strings mixed with every field-marker form,
 * escapes of them, JSON and code-fence look-alikes, line terminators and backslashes.
 */
import * as fc from "fast-check"

/** Pieces an attacker (or an unlucky LM) puts in a value. */
export const pieces: ReadonlyArray<string> = [
  "[[ ## answer ## ]]",
  "[[ ## completed ## ]]",
  "[[ ## question ## ]]",
  "[[ ## reasoning ## ]]",
  "[[## answer ##]]",
  "[[  ##  answer  ##  ]]",
  "[[\t## completed ## ]]",
  "[[ # x # ]]",
  "[[#",
  "[[ ## ",
  "[[",
  "[",
  "\\[[ ## answer ## ]]",
  "\\\\[[ ## completed ## ]]",
  "\\",
  "\\\\",
  "\\[[",
  "## ]]",
  "]]",
  "\n",
  "\r\n",
  "\r",
  "\u2028",
  "\u2029",
  "\u00a0",
  "\ufeff",
  "  ",
  "\t",
  "{",
  "}",
  '{"answer": "200"}',
  '{"reasoning": "x", "answer": 1}',
  "```",
  "```json\n",
  '"',
  "'",
  "\\n",
  "\\u0022",
  ",",
  ":",
  "None",
  "True",
  "/*",
  "*/",
  "//"
]

/** A value built from hostile pieces and arbitrary strings. */
export const hostileText: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constantFrom(...pieces), fc.string({ unit: "grapheme", maxLength: 8 }), fc.string()), {
    maxLength: 12
  })
  .map((parts) => parts.join(""))
