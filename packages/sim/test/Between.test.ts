/**
 * The linear `prefix(.+?)suffix` finder that replaced the multi-hop task's question regexes (recheck, through
 * `pnpm lint:regex`, found them quadratic): the same match as the regex on arbitrary text, and 1 MB adversarial
 * questions read to the end (the test timeout is the bound; nothing here measures time).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Between from "../src/internal/Between.js"
import * as Multihop from "../src/Multihop.js"

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

describe("Between.find", () => {
  it("matches what the regex prefix(.+?)suffix matches, on arbitrary text", () => {
    const piece = fc.constantFrom("ab", "a", "b", "?", " ", "\n", "\u2028", "x", "ab?", "b?")
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 30 }).map((parts) => parts.join("")),
        fc.constantFrom<Between.Pattern>(["ab", "?"], ["a", "b?"], ["b", "b"], ["x", " ab"]),
        (text, pattern) => {
          const re = new RegExp(`${escapeRegex(pattern[0])}(.+?)${escapeRegex(pattern[1])}`)
          const expected = re.exec(text)
          assert.deepStrictEqual(Between.find(text, pattern), expected === null ? null : [expected[0], expected[1]!])
        }
      ),
      { numRuns: 2_000 }
    )
  })

  it("reads 1 MB questions that repeat a prefix without its suffix", () => {
    assert.isUndefined(Multihop.nextQuery("In which country was h".repeat(50_000), ""))
    assert.isUndefined(Multihop.nextQuery("Who founded the organization where ?".repeat(30_000), ""))
    const question = `${"In which country was h".repeat(50_000)}\nIn which country was Ada Lovelace born?`
    assert.strictEqual(Between.find(question, ["In which country was ", " born?"])?.[1], "Ada Lovelace")
  })
})
