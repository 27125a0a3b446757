import { assert, describe, it } from "@effect/vitest"
import * as Accuracy from "../src/Accuracy.js"

describe("Accuracy", () => {
  it("MAE and MAPE over the pairs with a forecast", () => {
    assert.strictEqual(Accuracy.mae([1, 2, 3, 4], [Number.NaN, 3, 3, 2]), 1)
    assert.closeTo(Accuracy.mape([100, 200, 0], [110, 180, 5]), 10, 1e-12)
    assert.isNaN(Accuracy.mae([1], [Number.NaN]))
  })

  it("MASE: 1 for the naive forecast itself, below 1 when better", () => {
    const actual = [1, 3, 2, 5, 4, 6]
    const naive = [Number.NaN, 1, 3, 2, 5, 4]
    assert.strictEqual(Accuracy.mase(actual, naive), 1)
    assert.strictEqual(Accuracy.mase(actual, actual), 0)
    assert.closeTo(Accuracy.mase(actual, [Number.NaN, 2, 2, 4, 4, 5]), 3 / 9, 1e-12)
    // Against a seasonal naive of lag 2.
    assert.strictEqual(Accuracy.mase([1, 2, 1, 2, 1, 3], [0, 0, 1, 2, 1, 2], 2), 1)
  })

  it("coverage over the finite intervals", () => {
    const actual = [1, 2, 3, 4]
    assert.strictEqual(
      Accuracy.coverage(actual, [0, Number.NEGATIVE_INFINITY, 3.5, 3], [2, Number.POSITIVE_INFINITY, 4, 5]),
      2 / 3
    )
  })

  it("detection: alarms within the tolerance after an event are true; precision, recall, F1, delay", () => {
    const score = Accuracy.detection([12, 15, 50, 130], [10, 100, 200], 20)
    assert.strictEqual(score.truePositives, 2)
    assert.strictEqual(score.falsePositives, 2)
    assert.strictEqual(score.missed, 2)
    assert.strictEqual(score.precision, 0.5)
    assert.closeTo(score.recall, 1 / 3, 1e-12)
    assert.closeTo(score.f1, 0.4, 1e-12)
    assert.strictEqual(score.delay, 2)
    // An alarm before the event does not count.
    assert.strictEqual(Accuracy.detection([9], [10]).truePositives, 0)
    assert.strictEqual(Accuracy.detection([], []).f1, 1)
  })
})
