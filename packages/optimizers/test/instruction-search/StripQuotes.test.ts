/**
 * COPRO's cleaning of proposed instructions is linear on any input: recheck (`pnpm lint:regex`) found
 * `/^"+|"+$/g` quadratic on a long run of quotes not at the end; a scan replaces it. A 1 MB adversarial input must
 * simply complete (the test timeout is the bound; nothing here measures time).
 */
import { assert, describe, it } from "@effect/vitest"
import { stripQuotes } from "../../src/instruction-search/internal/text.js"

describe("stripQuotes", () => {
  it("completes on a 1 MB run of quotes between other characters, and keeps them", () => {
    const attack = `\u0000${'"'.repeat(1_000_000)}"\u0000`
    assert.strictEqual(stripQuotes(attack), attack)
  })

  it("removes the leading and trailing quotes only", () => {
    assert.strictEqual(stripQuotes('""Be brief."'), "Be brief.")
    assert.strictEqual(stripQuotes('Say "hi"'), 'Say "hi')
    assert.strictEqual(stripQuotes('"""'), "")
    assert.strictEqual(stripQuotes("plain"), "plain")
  })
})
