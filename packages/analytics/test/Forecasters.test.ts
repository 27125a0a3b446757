import { assert, describe, it } from "@effect/vitest"
import * as AnalyticsError from "../src/AnalyticsError.js"
import * as Ensemble from "../src/Ensemble.js"
import * as Ewma from "../src/Ewma.js"
import * as Forecast from "../src/Forecast.js"
import * as Holt from "../src/Holt.js"
import * as HoltWinters from "../src/HoltWinters.js"
import * as LinearTrend from "../src/LinearTrend.js"
import * as Naive from "../src/Naive.js"
import * as stats from "../src/internal/stats.js"
import * as Sma from "../src/Sma.js"
import * as Synthetic from "../src/Synthetic.js"

/** A deterministic wiggle in [-1, 1] (no generator needed for these unit tests). */
const wiggle = (i: number) => Math.sin(i * 12.9898) * 0.5 + Math.sin(i * 4.1414) * 0.5

const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  return assert.fail("expected an error")
}

describe("forecasters", () => {
  it("naive forecasts the last value, its interval widening as sqrt(h)", () => {
    const s = Naive.make()
    for (let i = 0; i < 30; i++) Naive.update(s, 10 + wiggle(i))
    const f1 = Naive.forecast(s, 1)
    const f4 = Naive.forecast(s, 4)
    assert.strictEqual(f1.mean, 10 + wiggle(29))
    assert.closeTo(f4.upper - f4.mean, 2 * (f1.upper - f1.mean), 1e-9)
  })

  it("SMA forecasts the mean of the last window", () => {
    const s = Sma.make({ window: 4 })
    for (const x of [100, 1, 2, 3, 4]) Sma.update(s, x)
    assert.strictEqual(Sma.forecast(s, 3).mean, 2.5)
  })

  it("EWMA moves toward each point by alpha", () => {
    const s = Ewma.make({ alpha: 0.5 })
    Ewma.update(s, 0)
    Ewma.update(s, 10)
    Ewma.update(s, 10)
    assert.strictEqual(Ewma.forecast(s, 1).mean, 7.5)
  })

  it("Holt follows a line exactly and extends it", () => {
    const s = Holt.make({ alpha: 0.5, beta: 0.2 })
    for (let i = 0; i < 50; i++) Holt.update(s, 100 + 2 * i)
    const f = Holt.forecast(s, 5)
    assert.closeTo(f.mean, 100 + 2 * 54, 1e-9)
  })

  it("Holt-Winters learns a daily season that a level model cannot", () => {
    const m = 24
    const day = (i: number) => 50 + 10 * Math.sin((2 * Math.PI * i) / m) + 0.3 * wiggle(i)
    const hw = HoltWinters.make({ seasonLength: m })
    const ewma = Ewma.make()
    let hwError = 0
    let ewmaError = 0
    for (let i = 0; i < m * 20; i++) {
      const x = day(i)
      if (i >= m * 10) {
        hwError += Math.abs(x - HoltWinters.forecast(hw, 1).mean)
        ewmaError += Math.abs(x - Ewma.forecast(ewma, 1).mean)
      }
      HoltWinters.update(hw, x)
      Ewma.update(ewma, x)
    }
    assert.isBelow(hwError, ewmaError / 5)
    // Six points ahead is still on the season.
    assert.closeTo(HoltWinters.forecast(hw, 6).mean, 50 + 10 * Math.sin((2 * Math.PI * (m * 20 + 5)) / m), 1)
  })

  it("linear trend: a significant slope on a trend, none on noise", () => {
    const trend = LinearTrend.make({ window: 60 })
    const flat = LinearTrend.make({ window: 60 })
    for (let i = 0; i < 200; i++) {
      LinearTrend.update(trend, 3 + 0.5 * i + wiggle(i))
      LinearTrend.update(flat, 3 + wiggle(i))
    }
    const t = LinearTrend.slope(trend)
    assert.closeTo(t.slope, 0.5, 0.02)
    assert.isBelow(t.pValue, 1e-6)
    assert.isAbove(t.tStatistic, 10)
    assert.isAbove(LinearTrend.slope(flat).pValue, 0.01)
    assert.closeTo(LinearTrend.forecast(trend, 10).mean, 3 + 0.5 * 209, 1)
  })

  it("the slope test: the least-squares slope, its t statistic, and p-values of the t distribution", () => {
    // Reference values computed independently (numpy) for this series.
    const fit = LinearTrend.fit([1, 3, 2, 5, 4, 6, 8, 7, 9, 10])
    assert.closeTo(fit.slope, 0.963636, 1e-6)
    assert.closeTo(fit.intercept, 1.163636, 1e-6)
    assert.closeTo(fit.tStatistic, 10.199855, 1e-4)
    assert.isBelow(fit.pValue, 1e-5)
    assert.isAbove(LinearTrend.fit([5, 3, 6, 2, 5, 4, 6, 3, 5, 4]).pValue, 0.5)
    // Two-sided critical values of Student's t: p = 0.05 at t = 2.306 (8 df), p = 0.01 at t = 3.169 (10 df).
    assert.closeTo(stats.studentTwoSidedP(2.306, 8), 0.05, 5e-4)
    assert.closeTo(stats.studentTwoSidedP(3.169, 10), 0.01, 1e-4)
    assert.closeTo(stats.normalQuantile(0.975), 1.959964, 1e-6)
  })

  it("intervals are infinite until enough residuals, then finite", () => {
    const s = Holt.make()
    Holt.update(s, 1)
    Holt.update(s, 2)
    assert.strictEqual(Holt.forecast(s, 1).upper, Number.POSITIVE_INFINITY)
    for (let i = 0; i < 20; i++) Holt.update(s, 3 + i + wiggle(i))
    assert.isTrue(Number.isFinite(Holt.forecast(s, 1).upper))
  })

  it("a wider confidence gives a wider interval", () => {
    const values = Synthetic.generate("trend_noise", { seed: 3, length: 300 }).values
    const at = (confidence: number) => {
      const f = Holt.forecast(Forecast.run(Holt.forecaster({ confidence, adapt: 0 }), values), 1)
      return f.upper - f.lower
    }
    assert.isAbove(at(0.99), at(0.8) * 1.5)
  })

  it("the ensemble weights the member that has been right: naive on a random walk, Holt-Winters on a season", () => {
    const walk = Synthetic.generate("random_walk", { seed: 2, length: 1000 }).values
    const weightsOnWalk = Ensemble.weights(Forecast.run(Ensemble.forecaster(), walk))
    assert.isAbove(weightsOnWalk.naive, 0.5)
    const season = Synthetic.generate("trend_season", { seed: 2, length: 1000 }).values
    const weightsOnSeason = Ensemble.weights(Forecast.run(Ensemble.forecaster({ seasonLength: 24 }), season))
    assert.isAbove(weightsOnSeason.holt_winters, 0.5)
    const sum = Object.values(weightsOnSeason).reduce((a, b) => a + b, 0)
    assert.closeTo(sum, 1, 1e-9)
  })

  it("update is in place and O(1): the state is the same object, clone is independent", () => {
    const s = Ensemble.make({ seasonLength: 4 })
    assert.strictEqual(Ensemble.update(s, 1), s)
    const copy = Ensemble.clone(s)
    for (let i = 0; i < 10; i++) Ensemble.update(s, i)
    assert.strictEqual(copy.n, 1)
    assert.strictEqual(s.n, 11)
  })

  it("a non-finite point is skipped and counted, not folded in", () => {
    const s = Holt.make()
    for (const x of [1, 2, Number.NaN, 3, Number.POSITIVE_INFINITY]) Holt.update(s, x)
    assert.strictEqual(s.n, 3)
    assert.strictEqual(s.skipped, 2)
    assert.isTrue(Number.isFinite(Holt.forecast(s, 1).mean))
  })

  it("crossing: the first horizon a forecast passes a threshold (mean, a bound, or a cumulative budget)", () => {
    const holt = Holt.forecaster({ alpha: 0.5, beta: 0.2 })
    const rising = Forecast.run(
      holt,
      Array.from({ length: 100 }, (_, i) => 10 + 2 * i + 0.5 * wiggle(i))
    )
    // The last point is about 208 and it rises by 2: 300 is reached in about 46 steps.
    const mean = Forecast.crossing(holt, rising, { threshold: 300, direction: "above", maxHorizon: 200 })
    assert.isDefined(mean)
    assert.approximately(mean!.horizon, 46, 2)
    assert.isAtLeast(mean!.value, 300)
    // The interval's upper bound warns earlier.
    const upper = Forecast.crossing(holt, rising, {
      threshold: 300,
      direction: "above",
      maxHorizon: 200,
      bound: "upper"
    })
    assert.isBelow(upper!.horizon, mean!.horizon)
    assert.isUndefined(Forecast.crossing(holt, rising, { threshold: 300, direction: "above", maxHorizon: 10 }))
    assert.isUndefined(Forecast.crossing(holt, rising, { threshold: 0, direction: "below", maxHorizon: 50 }))
    // A budget: 10 spent so far, about 1 per interval: 50 is spent after about 40 intervals.
    const sma = Sma.forecaster({ window: 50 })
    const spend = Forecast.run(
      sma,
      Array.from({ length: 50 }, (_, i) => 1 + 0.1 * wiggle(i))
    )
    const budget = Forecast.crossing(sma, spend, {
      threshold: 50,
      direction: "above",
      maxHorizon: 100,
      cumulative: true,
      start: 10
    })
    assert.approximately(budget!.horizon, 40, 2)
  })

  it("bad options and bad series are typed errors that say what to fix", () => {
    const alpha = thrown(() => Holt.make({ alpha: 1.5 }))
    assert.instanceOf(alpha, AnalyticsError.InvalidOptions)
    assert.isTrue(AnalyticsError.isAnalyticsError(alpha))
    assert.include((alpha as AnalyticsError.InvalidOptions).message, "alpha must be a number in (0, 1]")
    assert.instanceOf(
      thrown(() => HoltWinters.make({ seasonLength: 1 })),
      AnalyticsError.InvalidOptions
    )
    assert.instanceOf(
      thrown(() => Sma.make({ window: 0 })),
      AnalyticsError.InvalidOptions
    )
    assert.instanceOf(
      thrown(() => Ensemble.make({ confidence: 1 })),
      AnalyticsError.InvalidOptions
    )
    assert.instanceOf(
      thrown(() => Naive.forecast(Naive.make(), 0)),
      AnalyticsError.InvalidOptions
    )
    const series = thrown(() => Holt.batch([1, 2, Number.NaN]))
    assert.instanceOf(series, AnalyticsError.InvalidSeries)
    assert.strictEqual((series as AnalyticsError.InvalidSeries).index, 2)
  })
})
