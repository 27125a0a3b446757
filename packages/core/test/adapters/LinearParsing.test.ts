/**
 * The adapters' value coercion is linear on any input: recheck (`pnpm lint:regex`) found the number test
 * `/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/` quadratic on a long digit run ending badly; it is rewritten
 * so that each digit run has one way to match. A 1 MB adversarial input must simply complete (the test timeout
 * is the bound; nothing here measures time).
 */
import { assert, describe, it } from "@effect/vitest"
import * as values from "../../src/adapters/internal/values.js"
import * as FieldType from "../../src/signature/FieldType.js"

describe("number coercion", () => {
  it("completes on a 1 MB run of digits that is not a number, and leaves it as it is", () => {
    const attack = `0${"0".repeat(1_000_000)}E`
    assert.strictEqual(values.coerce(FieldType.float, attack), attack)
    const spaced = `1${" ".repeat(1_000_000)}x`
    assert.strictEqual(values.coerce(FieldType.int, spaced), spaced)
  })

  it("still reads the numbers it read before", () => {
    for (const [text, n] of [
      [" 1.5e3 ", 1500],
      ["-2", -2],
      ["+.5", 0.5],
      ["3.", 3],
      ["\n7E-1\t", 0.7]
    ] as const) {
      assert.strictEqual(values.coerce(FieldType.float, text), n, text)
    }
    for (const text of ["", ".", "1e", "e3", "1.2.3", "- 1"])
      assert.strictEqual(values.coerce(FieldType.float, text), text)
  })
})
