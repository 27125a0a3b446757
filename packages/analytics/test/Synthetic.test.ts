import { assert, describe, it } from "@effect/vitest"
import * as Accuracy from "../src/Accuracy.js"
import * as Ensemble from "../src/Ensemble.js"
import * as Ewma from "../src/Ewma.js"
import * as Forecast from "../src/Forecast.js"
import * as Holt from "../src/Holt.js"
import * as HoltWinters from "../src/HoltWinters.js"
import * as LinearTrend from "../src/LinearTrend.js"
import * as Naive from "../src/Naive.js"
import * as Sma from "../src/Sma.js"
import * as Synthetic from "../src/Synthetic.js"

const SEEDS = [1, 2, 3, 4, 5]
const LENGTH = 1000
/** Points left out of the scores: the cold start (intervals infinite, members warming up). */
const SKIP = 50

const forecasters: ReadonlyArray<Forecast.Forecaster<unknown>> = [
  Ensemble.forecaster({ seasonLength: 24 }),
  Ensemble.forecaster(),
  Naive.forecaster(),
  Sma.forecaster(),
  Ewma.forecaster(),
  Holt.forecaster(),
  LinearTrend.forecaster(),
  HoltWinters.forecaster({ seasonLength: 24 })
] as ReadonlyArray<Forecast.Forecaster<unknown>>

const scored = (forecaster: Forecast.Forecaster<unknown>, family: Synthetic.Family) => {
  let inside = 0
  let total = 0
  let mase = 0
  for (const seed of SEEDS) {
    const { values } = Synthetic.generate(family, { seed, length: LENGTH })
    const path = Forecast.oneStep(forecaster, values)
    const actual = values.slice(SKIP)
    const coverage = Accuracy.coverage(actual, path.lower.slice(SKIP), path.upper.slice(SKIP))
    inside += coverage * actual.length
    total += actual.length
    mase += Accuracy.mase(actual, path.mean.slice(SKIP)) / SEEDS.length
  }
  return { coverage: inside / total, mase }
}

describe("Synthetic", () => {
  it("is deterministic per seed and differs across seeds", () => {
    for (const family of Synthetic.families) {
      const a = Synthetic.generate(family, { seed: 9, length: 300 })
      assert.deepStrictEqual(a, Synthetic.generate(family, { seed: 9, length: 300 }))
      assert.notDeepEqual(a.values, Synthetic.generate(family, { seed: 10, length: 300 }).values)
      assert.strictEqual(a.values.length, 300)
      assert.isTrue(a.values.every(Number.isFinite))
    }
  })

  it("records its events: shifts 2-4 sigma at least 100 apart, spikes 4-8 sigma", () => {
    const shifts = Synthetic.generate("level_shifts", { seed: 4, length: 2000 })
    assert.isAbove(shifts.events.length, 5)
    for (const [i, e] of shifts.events.entries()) {
      assert.isTrue(Math.abs(e.sigmas) >= 2 && Math.abs(e.sigmas) <= 4)
      if (i > 0) assert.isAtLeast(e.index - shifts.events[i - 1]!.index, 100)
      // The level really moves: the means of 30 points either side differ by about the shift.
      const mean = (a: number, b: number) => shifts.values.slice(a, b).reduce((x, y) => x + y, 0) / (b - a)
      const observed = (mean(e.index, e.index + 30) - mean(e.index - 30, e.index)) / shifts.noiseSd
      assert.closeTo(observed, e.sigmas, 1)
    }
    const spikes = Synthetic.generate("spikes", { seed: 4, length: 2000 })
    assert.isAbove(spikes.events.length, 20)
    for (const e of spikes.events) assert.isTrue(Math.abs(e.sigmas) >= 4 && Math.abs(e.sigmas) <= 8)
    assert.strictEqual(Synthetic.generate("stationary", { seed: 4 }).events.length, 0)
  })

  it("has a target per family", () => {
    for (const family of Synthetic.families) assert.isDefined(Synthetic.targets[family])
    assert.strictEqual(Synthetic.targets.trend_noise.mase, 0.8)
    assert.strictEqual(Synthetic.targets.random_walk.mase, 1.05)
  })

  it("95% intervals of every forecaster cover 93-97% of every family", () => {
    for (const family of Synthetic.families) {
      const [lo, hi] = Synthetic.targets[family].coverage
      for (const forecaster of forecasters) {
        const { coverage } = scored(forecaster, family)
        assert.isTrue(coverage >= lo && coverage <= hi, `${forecaster.name} on ${family}: coverage ${coverage}`)
      }
    }
  })

  it("the ensemble meets each family's MASE target against the naive forecast", () => {
    for (const family of Synthetic.families) {
      const target = Synthetic.targets[family].mase
      if (target === undefined) continue
      const { mase } = scored(forecasters[0]!, family)
      assert.isAtMost(mase, target, `ensemble on ${family}: MASE ${mase}`)
    }
  })

  it("h-step intervals widen with the horizon and still cover near the nominal level", () => {
    const h = 6
    let inside = 0
    let total = 0
    let narrower = 0
    for (const seed of SEEDS) {
      const { values } = Synthetic.generate("trend_noise", { seed, length: LENGTH })
      const state = Ensemble.make()
      for (let t = 0; t + h < values.length; t++) {
        Ensemble.update(state, values[t]!)
        if (t < SKIP) continue
        const far = Ensemble.forecast(state, h)
        const near = Ensemble.forecast(state, 1)
        if (near.upper - near.lower <= far.upper - far.lower) narrower++
        total++
        if (values[t + h]! >= far.lower && values[t + h]! <= far.upper) inside++
      }
    }
    assert.strictEqual(narrower, total)
    assert.isAbove(inside / total, 0.9)
  })
})
