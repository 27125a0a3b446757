/**
 * Reading sections without copying lines: `FieldMarker.sections` (which `ChatAdapter.parse` now uses) and the
 * one-pass `FieldMarker.unescapeValue` give what the line-splitting reader and the character-at-a-time
 * Unescaper gave, on arbitrary text made of the pieces that matter (markers, escapes, every line break), and a
 * 1 MB adversarial answer is read to its end (the test timeout is the bound; `pnpm bench hardening` measures
 * the 10 MB / 1 MB ratio).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as FieldMarker from "../../src/adapters/FieldMarker.js"
import * as Signature from "../../src/signature/Signature.js"

const pieces = [
  "[[ ## a ## ]]",
  "[[ ## b ## ]]",
  "[[ ## completed ## ]]",
  "[[",
  "##",
  " ",
  "\t",
  "\u00a0",
  "\\",
  "\\[[ #",
  "#",
  "\n",
  "\r",
  "\r\n",
  "\u2028",
  "x",
  "5"
]
const text = fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((parts) => parts.join(""))

/** The reader before: split into lines, join each section's lines, trim, unescape with the Unescaper. */
const unescapeBefore = (value: string): string => {
  const u = FieldMarker.makeUnescaper()
  return u.push(value) + u.end()
}
const sectionsBefore = (value: string): Array<FieldMarker.Section> => {
  const out: Array<FieldMarker.Section> = []
  let name: string | undefined
  let lines: Array<string> = []
  const flush = () => {
    if (name !== undefined) out.push({ name, value: unescapeBefore(lines.join("\n").trim()) })
  }
  for (const line of value.split(/\r?\n/)) {
    const h = FieldMarker.readHeader(line)
    if (h === undefined) {
      if (name !== undefined) lines.push(line)
      continue
    }
    flush()
    name = h.name
    lines = h.rest === "" ? [] : [h.rest]
  }
  flush()
  return out
}

describe("reading sections in one pass", () => {
  it("unescapeValue gives what the Unescaper gives", () => {
    fc.assert(
      fc.property(text, (t) => assert.strictEqual(FieldMarker.unescapeValue(t), unescapeBefore(t))),
      {
        numRuns: 3_000
      }
    )
  })

  it("sections gives what the line-splitting reader gives", () => {
    fc.assert(
      fc.property(text, (t) => assert.deepStrictEqual(FieldMarker.sections(t), sectionsBefore(t))),
      {
        numRuns: 3_000
      }
    )
  })

  it("a 1 MB answer of near-markers and escaped markers is read to its end", () => {
    const sig = Signature.make("question -> reasoning, answer: int")
    const body = "\\[[ ## a\n[[ ## [[ ## reasoning ## ]]\n".repeat(30_000)
    const parsed = ChatAdapter.parse(sig, `[[ ## reasoning ## ]]\n${body}[[ ## answer ## ]]\n5\n[[ ## completed ## ]]`)
    assert.isTrue(Either.isRight(parsed))
    const values = Either.getOrThrow(parsed)
    assert.strictEqual(values.answer, 5)
    assert.strictEqual(values.reasoning, unescapeBefore(body.trim()))
    assert.strictEqual(FieldMarker.sections("[[ ## q ## ]]\n[[ ## ".repeat(60_000)).length, 1)
  })
})
