/**
 * The linear readers that replaced the last regexes recheck (`pnpm lint:regex`) found vulnerable in the simulated
 * LM: each gives what its regex gave on arbitrary text built from the pieces that matter (the old regex is the
 * oracle here), and a 1 MB adversarial input (recheck's attack, scaled up) is read to the end. No timing
 * assertion: the test timeout is the bound; the regexes took minutes on these inputs.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Extraction from "../src/Extraction.js"
import * as ExpressionSpan from "../src/internal/ExpressionSpan.js"
import * as ProgramCode from "../src/internal/ProgramCode.js"
import * as SchemaNote from "../src/internal/SchemaNote.js"
import * as ScoredObjects from "../src/internal/ScoredObjects.js"

const MB = 1_000_000
const textOf = (pieces: ReadonlyArray<string>, maxLength = 24) =>
  fc.array(fc.constantFrom(...pieces), { maxLength }).map((parts) => parts.join(""))
const runs = { numRuns: 3_000 }

describe("the arithmetic expression readers", () => {
  const expression = /(?:^|[^\w.])(\(*-?\d+(?:\.\d+)?(?:\s*[-+*/x×÷]\s*\(*\s*-?\d+(?:\.\d+)?\s*\)*)+)/
  const leftToRightOld = /(-?\d+(?:\.\d+)?(?:\s*[-+*/x×÷]\s*-?\d+(?:\.\d+)?)+)/
  const leftToRightNew = /(?<!\d)(-?\d+(?:\.\d+)?(?:\s*[-+*/x×÷]\s*-?\d+(?:\.\d+)?)+)/
  const cueOld = /\d\s*[-+*/x×÷]\s*\(?\s*-?\d/
  const cueNew = /\d\s*[-+*/x×÷]\s*(?:\(\s*)?-?\d/
  const pieces = [
    "(",
    ")",
    "-",
    "+",
    "*",
    "/",
    "x",
    "×",
    "÷",
    "1",
    "23",
    ".",
    " ",
    "\t",
    "\n",
    "a",
    "_",
    "?",
    "1 + 2",
    "(3",
    "4)"
  ]

  it("ExpressionSpan.find captures what the expression regex captured", () => {
    fc.assert(
      fc.property(textOf(pieces), (text) => assert.strictEqual(ExpressionSpan.find(text), expression.exec(text)?.[1])),
      runs
    )
  })

  it("the left-to-right reader and the expression cue match as before (not after a digit: same match)", () => {
    fc.assert(
      fc.property(textOf(pieces), (text) => {
        assert.deepStrictEqual(leftToRightNew.exec(text)?.[1], leftToRightOld.exec(text)?.[1])
        assert.strictEqual(cueNew.test(text), cueOld.test(text))
      }),
      runs
    )
  })

  it("a 1 MB question of parentheses, blanks or digits is read to the end", () => {
    const solve = (question: string) => Arithmetic.task.solve({ question }, "")
    // recheck's attacks: a run of `(` then an operator followed by blanks; a run of digits; blanks after an operator.
    assert.isUndefined(solve(`\t${"(".repeat(MB / 2)}(0-${"\t".repeat(MB / 2)}`))
    assert.isUndefined(ExpressionSpan.find(`\t${"(".repeat(MB / 2)}(0-${"\t".repeat(MB / 2)}`))
    assert.isUndefined(solve(`0-${"\t".repeat(MB)}*`))
    assert.isUndefined(solve("0".repeat(MB)))
    // Nested deeper than 256: no expression (the evaluator overflowed the stack); 256 deep still evaluates.
    assert.isUndefined(solve(`What is ${"(".repeat(MB)}2 + 3?`))
    assert.strictEqual(solve(`What is ${"(".repeat(256)}2 + 3${")".repeat(256)} * 4?`)?.gold["answer"], 20)
    assert.strictEqual(solve(`${"0".repeat(MB)} and then: what is 12 * (3 + 4)?`)?.gold["answer"], 84)
  })
})

describe("the extraction task's order notes", () => {
  const regexes = [
    /^(.+?) ordered (\d+) x (.+?) for a total of \$(\d+\.\d{2})\. (Express shipping was requested|Standard shipping was selected)\.$/,
    /^Order note: (\d+) units of (.+?) for (.+?), total \$(\d+\.\d{2}), (express delivery|regular delivery)\.$/,
    /^Hi, this is (.+?)\. Please send me (\d+) of the (.+?)\. I was charged \$(\d+\.\d{2})\. (I need it fast, so express please\.|No rush on shipping\.)$/
  ]
  const orders = [
    ["customer", "quantity", "product", "total", "express"],
    ["quantity", "product", "customer", "total", "express"],
    ["customer", "quantity", "product", "total", "express"]
  ] as const
  const oracle = (text: string) => {
    for (const [i, re] of regexes.entries()) {
      const m = re.exec(text.trim())
      if (m === null) continue
      const raw: Record<string, string> = {}
      orders[i]!.forEach((k, j) => {
        raw[k] = m[j + 1]!
      })
      return {
        customer: raw["customer"],
        product: raw["product"],
        quantity: Number(raw["quantity"]),
        total: Number(raw["total"]),
        express: /express/i.test(raw["express"]!)
      }
    }
    return undefined
  }
  const pieces = [
    "Ann",
    " ordered ",
    " x ",
    " for a total of ",
    "$",
    "12",
    "3",
    ".",
    ". ",
    "Express shipping was requested",
    "Standard shipping was selected",
    "Order note: ",
    " units of ",
    " for ",
    ", total ",
    ", ",
    "express delivery",
    "Hi, this is ",
    ". Please send me ",
    " of the ",
    ". I was charged ",
    "No rush on shipping.",
    " ",
    "\n",
    "\u2028"
  ]

  it("Extraction.read reads what the templates' regexes read", () => {
    const note = fc.oneof(
      textOf(pieces, 16),
      fc
        .tuple(fc.constantFrom(0, 1, 2), textOf(pieces, 3), textOf(pieces, 3), textOf(pieces, 2))
        .map(
          ([t, customer, product, total]) =>
            [
              `${customer} ordered 3 x ${product} for a total of $${total}12.50. Express shipping was requested.`,
              `Order note: 3 units of ${product} for ${customer}, total $${total}9.99, regular delivery.`,
              `Hi, this is ${customer}. Please send me 3 of the ${product}. I was charged $1${total}.00. No rush on shipping.`
            ][t]!
        )
    )
    fc.assert(
      fc.property(note, (text) => assert.deepStrictEqual(Extraction.read(text)?.order, oracle(text))),
      runs
    )
  })

  it("a 1 MB note repeating a template's pieces is read to the end", () => {
    assert.isUndefined(Extraction.read(`x${" ordered 0 x s".repeat(MB / 14)}r`))
    assert.isUndefined(Extraction.read(`Order note: 0 units of v${" for :".repeat(MB / 6)}r`))
    assert.isUndefined(Extraction.read(`Hi, this is o${". Please send me 0 of the s".repeat(MB / 26)}\u0000`))
    const long = "Ann".repeat(MB / 3)
    assert.deepStrictEqual(
      Extraction.read(`${long} ordered 2 x Lamp for a total of $10.00. Standard shipping was selected.`)?.order,
      { customer: long, product: "Lamp", quantity: 2, total: 10, express: false }
    )
  })
})

describe("the instruction proposer's readers", () => {
  const scored = /\{[^{}]*"instruction"\s*:\s*"((?:[^"\\]|\\.)*)"[^{}]*"score"\s*:\s*(-?\d+(?:\.\d+)?)[^{}]*\}/g
  const programCode = /^\s*(\S+) = (\w+)\(([^)]*)\)/gm

  it("ScoredObjects.find reads the objects the regex matched", () => {
    const pieces = ["{", "}", '"instruction"', '"score"', ":", " ", "\n", '"', "\\", '\\"', "a", "-", "1", ".5", ","]
    const noise = textOf(pieces, 4)
    const object = fc
      .tuple(noise, noise, noise, fc.constantFrom("1", "-2.5", "3.", "x", "-"))
      .map(([a, b, c, n]) => `{${a}"instruction": "${b}", "score": ${n}${c}}`)
    const text = fc.array(fc.oneof(noise, object), { maxLength: 6 }).map((parts) => parts.join(""))
    fc.assert(
      fc.property(text, (text) =>
        assert.deepStrictEqual(
          ScoredObjects.find(text),
          [...text.matchAll(scored)].map((m) => ({ text: m[1]!, score: Number(m[2]) }))
        )
      ),
      { numRuns: 5_000 }
    )
    assert.deepStrictEqual(ScoredObjects.find('[{"instruction": "Be brief {really}.", "score": 0.75}]'), [
      { text: "Be brief {really}.", score: 0.75 }
    ])
  })

  it("ProgramCode.predictors reads the lines the regex matched", () => {
    const pieces = ["qa = Predict(", "q -> a", ")", " ", "\t", "\n", "\r", "\u2028", "=", "x", "(", " = "]
    fc.assert(
      fc.property(textOf(pieces, 20), (code) =>
        assert.deepStrictEqual(
          ProgramCode.predictors(code),
          [...code.matchAll(programCode)].map((m) => [m[1]!, m[2]!, m[3]!])
        )
      ),
      { numRuns: 5_000 }
    )
  })

  it("1 MB of unclosed objects or of line starts without a predictor is read to the end", () => {
    assert.deepStrictEqual(ScoredObjects.find(`{${'"instruction":"0'.repeat(MB / 16)}`), [])
    assert.deepStrictEqual(ScoredObjects.find(`{${'"instruction":"0", "score":'.repeat(MB / 26)}`), [])
    assert.deepStrictEqual(ScoredObjects.find(`${'{"instruction":"0",'.repeat(MB / 19)}"score": 1}`), [
      { text: "0", score: 1 }
    ])
    assert.deepStrictEqual(ProgramCode.predictors(`)${"\n\t".repeat(MB / 2)}`), [])
    assert.deepStrictEqual(ProgramCode.predictors("( = 0(\n".repeat(MB / 7)), [])
    assert.deepStrictEqual(ProgramCode.predictors(`${"\n".repeat(MB)}qa = Predict(q -> a)`), [
      ["qa", "Predict", "q -> a"]
    ])
  })
})

describe("the JSON-schema note reader", () => {
  const note = /\{(\w+)\}\s+# note: the value you produce must adhere to the JSON schema: (.*)$/
  const NOTE = "# note: the value you produce must adhere to the JSON schema: "

  it("SchemaNote.find reads what the regex read", () => {
    const pieces = ["{", "}", "{a}", "b", " ", "\t", "\r", "\u2028", NOTE, '{"type": "integer"}', "x"]
    fc.assert(
      fc.property(textOf(pieces), (line) => {
        const m = note.exec(line)
        assert.deepStrictEqual(SchemaNote.find(line), m === null ? undefined : [m[1]!, m[2]!])
      }),
      runs
    )
  })

  it("a 1 MB line of notes ending in a line break is read to the end", () => {
    const attack = `${`{d} ${NOTE}`.repeat(MB / 66)}{O} ${NOTE}\rx`
    assert.isUndefined(SchemaNote.find(attack))
    assert.deepStrictEqual(SchemaNote.find(`${attack}\r{O} ${NOTE}{}`), ["O", "{}"])
  })
})
