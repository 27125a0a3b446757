import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as AnswerMatch from "../../src/evaluate/AnswerMatch.js"

describe("AnswerMatch", () => {
  it("normalises like DSPy: case, punctuation, articles, whitespace", () => {
    assert.strictEqual(AnswerMatch.normalizeText("  The  Eiffel-Tower, in Paris! "), "eiffeltower in paris")
    assert.strictEqual(AnswerMatch.normalizeText("An apple a day"), "apple day")
    assert.strictEqual(AnswerMatch.normalizeText("Café"), "cafe\u0301")
  })

  it("exact match compares normalised text against any answer", () => {
    assert.isTrue(AnswerMatch.exactMatch("the Paris.", "paris"))
    assert.isTrue(AnswerMatch.exactMatch("Lyon", ["Paris", "lyon"]))
    assert.isFalse(AnswerMatch.exactMatch("Paris, France", "Paris"))
  })

  it("token F1 counts shared tokens with multiplicity", () => {
    assert.strictEqual(AnswerMatch.f1Score("Paris France", "Paris"), 2 / 3)
    assert.strictEqual(AnswerMatch.f1Score("a b b", "b c"), 0.5)
    assert.strictEqual(AnswerMatch.f1Score("", ""), 0)
    assert.strictEqual(AnswerMatch.f1("Paris France", ["Lyon", "paris france"]), 1)
  })

  it("answerMatch uses F1 >= frac below 1", () => {
    assert.isFalse(AnswerMatch.answerMatch("Paris France", "Paris"))
    assert.isTrue(AnswerMatch.answerMatch("Paris France", "Paris", 0.5))
  })

  it("passage match needs the answer as whole tokens", () => {
    assert.isTrue(AnswerMatch.passageMatch(["Nothing here.", "The capital is Paris, France."], "paris"))
    assert.isFalse(AnswerMatch.passageMatch(["Parisian food"], "paris"))
    assert.isFalse(AnswerMatch.passageMatch(["anything"], "the"))
  })

  it("properties: F1 in [0, 1], 1 on itself when non-empty; exact match implies F1 = 1", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const score = AnswerMatch.f1Score(a, b)
        assert.isTrue(score >= 0 && score <= 1)
        if (AnswerMatch.tokens(a).length > 0) assert.strictEqual(AnswerMatch.f1Score(a, a), 1)
        if (AnswerMatch.exactMatch(a, b) && AnswerMatch.tokens(a).length > 0) assert.strictEqual(score, 1)
      })
    )
  })
})
