/**
 * The equation scanner of `Skill.reasoningQuality`: the same matches as the regex it replaced (the oracle here) on
 * arbitrary text built from the pieces that matter, and 1 MB adversarial inputs (recheck's fuzzer's attack, digit
 * and whitespace runs) read to the end. No timing assertion: the test timeout is the bound.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Equations from "../src/internal/Equations.js"

const oracle = /(?<!\d)(-?\d+(?:\.\d+)?)\s*([-+*/x×])\s*(-?\d+(?:\.\d+)?)\s*=\s*(-?\d+(?:\.\d+)?)/g
const byRegex = (t: string): Array<Equations.Equation> =>
  [...t.matchAll(oracle)].map((m) => [m[1]!, m[2]!, m[3]!, m[4]!] as const)
const pieces = ["-", "+", "*", "/", "x", "×", "=", "1", "23", "0", ".", " ", "\t", "\u00a0", "a", "\n", "(", "÷"]
const MB = 1_000_000

describe("Equations.all", () => {
  it("gives the regex's matches, in order", () => {
    assert.deepStrictEqual(Equations.all("so 12 * 3 = 36, then 36-1.5 =34.5 and -2x-3=6"), [
      ["12", "*", "3", "36"],
      ["36", "-", "1.5", "34.5"],
      ["-2", "x", "-3", "6"]
    ])
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((p) => p.join("")),
        (t) => {
          assert.deepStrictEqual(Equations.all(t), byRegex(t))
        }
      ),
      { numRuns: 5_000 }
    )
  })

  it("reads 1 MB adversarial inputs to the end", () => {
    const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB)
    for (const unit of ["-0\t", "-0-", "0.0.0\u0000", "1 ", "1+", "1.1+1.1=", "-"]) {
      const t = `${fill(unit)}\t.00\u0000`
      assert.deepStrictEqual(Equations.all(t), byRegex(t), unit)
    }
    assert.strictEqual(Equations.all(`${"9".repeat(MB)}+1=${"0".repeat(MB)}`).length, 1)
    assert.lengthOf(Equations.all(`1${" ".repeat(MB)}+${" ".repeat(MB)}1`), 0)
  })
})
