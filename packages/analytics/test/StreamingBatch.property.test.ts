import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Cusum from "../src/Cusum.js"
import * as Detection from "../src/Detection.js"
import * as Ensemble from "../src/Ensemble.js"
import * as EwmaControl from "../src/EwmaControl.js"
import * as Ewma from "../src/Ewma.js"
import * as Forecast from "../src/Forecast.js"
import * as Holt from "../src/Holt.js"
import * as HoltWinters from "../src/HoltWinters.js"
import * as LinearTrend from "../src/LinearTrend.js"
import * as Naive from "../src/Naive.js"
import * as PageHinkley from "../src/PageHinkley.js"
import * as RobustZ from "../src/RobustZ.js"
import * as Sma from "../src/Sma.js"

/** Same value: both NaN, the same infinity, or within a relative tolerance of the series' scale. */
const close = (a: number, b: number, scale: number): boolean =>
  (Number.isNaN(a) && Number.isNaN(b)) ||
  a === b ||
  (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-7 * (1 + scale))

const scaleOf = (xs: ReadonlyArray<number>) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0)

/** Streaming (`Forecast.oneStep` and `forecast` on the folded state) agrees with the model's batch function. */
const agrees = <S>(
  forecaster: Forecast.Forecaster<S>,
  batch: (xs: ReadonlyArray<number>, horizon: number) => Forecast.Batch,
  xs: ReadonlyArray<number>,
  horizon: number
): void => {
  const scale = scaleOf(xs) * Math.max(1, horizon)
  const streamed = Forecast.oneStep(forecaster, xs)
  const batched = batch(xs, horizon)
  for (const key of ["mean", "lower", "upper"] as const) {
    for (let i = 0; i < xs.length; i++) {
      const a = streamed[key][i]!
      const b = batched.oneStep[key][i]!
      if (!close(a, b, scale)) assert.fail(`${forecaster.name} ${key}[${i}]: streaming ${a}, batch ${b}`)
    }
  }
  const state = Forecast.run(forecaster, xs)
  for (let h = 1; h <= horizon; h++) {
    const a = forecaster.forecast(state, h)
    const b = batched.ahead[h - 1]!
    for (const key of ["mean", "lower", "upper"] as const) {
      if (!close(a[key], b[key], scale)) assert.fail(`${forecaster.name} ahead h=${h} ${key}: ${a[key]} vs ${b[key]}`)
    }
  }
}

/** Series: arbitrary values, or a noisy line with a season (what metric series look like). */
const series = fc.oneof(
  fc.array(fc.double({ min: -1000, max: 1000, noNaN: true }), { maxLength: 80 }),
  fc
    .record({
      n: fc.integer({ min: 0, max: 150 }),
      level: fc.double({ min: -100, max: 100, noNaN: true }),
      slope: fc.double({ min: -2, max: 2, noNaN: true }),
      amplitude: fc.double({ min: 0, max: 20, noNaN: true }),
      noise: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 150, maxLength: 150 })
    })
    .map(({ n, level, slope, amplitude, noise }) =>
      Array.from({ length: n }, (_, t) => level + slope * t + amplitude * Math.sin(t / 2) + noise[t]!)
    )
)
const unit = fc.double({ min: 0.01, max: 1, noNaN: true })
const horizon = fc.integer({ min: 1, max: 12 })

describe("streaming and batch agree (property)", () => {
  it("naive", () => {
    fc.assert(
      fc.property(series, horizon, (xs, h) => agrees(Naive.forecaster(), (v, H) => Naive.batch(v, {}, H), xs, h))
    )
  })

  it("simple moving average", () => {
    fc.assert(
      fc.property(series, horizon, fc.integer({ min: 1, max: 30 }), (xs, h, window) =>
        agrees(Sma.forecaster({ window }), (v, H) => Sma.batch(v, { window }, H), xs, h)
      )
    )
  })

  it("EWMA", () => {
    fc.assert(
      fc.property(series, horizon, unit, (xs, h, alpha) =>
        agrees(Ewma.forecaster({ alpha }), (v, H) => Ewma.batch(v, { alpha }, H), xs, h)
      )
    )
  })

  it("Holt", () => {
    fc.assert(
      fc.property(series, horizon, unit, unit, (xs, h, alpha, beta) =>
        agrees(Holt.forecaster({ alpha, beta }), (v, H) => Holt.batch(v, { alpha, beta }, H), xs, h)
      )
    )
  })

  it("Holt-Winters", () => {
    fc.assert(
      fc.property(
        series,
        horizon,
        unit,
        unit,
        unit,
        fc.integer({ min: 2, max: 12 }),
        (xs, h, alpha, beta, gamma, m) => {
          const options = { seasonLength: m, alpha, beta, gamma }
          agrees(HoltWinters.forecaster(options), (v, H) => HoltWinters.batch(v, options, H), xs, h)
        }
      )
    )
  })

  it("linear trend, and its slope test against a two-pass fit of the window", () => {
    fc.assert(
      fc.property(series, horizon, fc.integer({ min: 2, max: 40 }), (xs, h, window) => {
        agrees(LinearTrend.forecaster({ window }), (v, H) => LinearTrend.batch(v, { window }, H), xs, h)
        const streamed = LinearTrend.slope(Forecast.run(LinearTrend.forecaster({ window }), xs))
        const fitted = LinearTrend.fit(xs.slice(Math.max(0, xs.length - window)))
        const scale = scaleOf(xs)
        assert.isTrue(close(streamed.slope, fitted.slope, scale), `slope ${streamed.slope} vs ${fitted.slope}`)
        assert.isTrue(close(streamed.intercept, fitted.intercept, scale * window))
      })
    )
  })

  it("the ensemble, with and without a season", () => {
    fc.assert(
      fc.property(series, horizon, fc.option(fc.integer({ min: 2, max: 12 }), { nil: undefined }), (xs, h, m) => {
        const options = m === undefined ? { window: 8 } : { window: 8, seasonLength: m }
        agrees(Ensemble.forecaster(options), (v, H) => Ensemble.batch(v, options, H), xs, h)
      }),
      { numRuns: 60 }
    )
  })

  const alarmsOf = (alarms: ReadonlyArray<Detection.Alarm>) => alarms.map((a) => `${a.index}:${a.direction}:${a.since}`)

  it("CUSUM", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { maxLength: 200 }),
        fc.array(fc.integer({ min: 0, max: 199 }), { maxLength: 4 }),
        (noise, shifts) => {
          let level = 0
          const xs = noise.map((x, i) => {
            if (shifts.includes(i)) level += 5
            return level + x
          })
          const options = { warmup: 10 }
          assert.deepStrictEqual(
            alarmsOf(Detection.run(Cusum.detector(options), xs)),
            alarmsOf(Cusum.detect(xs, options))
          )
        }
      ),
      { numRuns: 60 }
    )
  })

  /** Noise with up to four steps of +5: series with changes to find. */
  const shifted = fc
    .record({
      noise: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { maxLength: 200 }),
      shifts: fc.array(fc.integer({ min: 0, max: 199 }), { maxLength: 4 })
    })
    .map(({ noise, shifts }) => {
      let level = 0
      return noise.map((x, i) => {
        if (shifts.includes(i)) level += 5
        return level + x
      })
    })

  it("Page-Hinkley", () => {
    fc.assert(
      fc.property(shifted, (xs) => {
        const options = { warmup: 10, threshold: 6 }
        assert.deepStrictEqual(
          alarmsOf(Detection.run(PageHinkley.detector(options), xs)),
          alarmsOf(PageHinkley.detect(xs, options))
        )
      }),
      { numRuns: 60 }
    )
  })

  it("EWMA control chart", () => {
    fc.assert(
      fc.property(shifted, (xs) => {
        const options = { warmup: 10 }
        assert.deepStrictEqual(
          alarmsOf(Detection.run(EwmaControl.detector(options), xs)),
          alarmsOf(EwmaControl.detect(xs, options))
        )
      }),
      { numRuns: 60 }
    )
  })

  it("robust z-score", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { maxLength: 150 }),
        fc.integer({ min: 5, max: 40 }),
        (xs, window) => {
          const options = { window, warmup: 5, threshold: 2.5 }
          assert.deepStrictEqual(
            alarmsOf(Detection.run(RobustZ.detector(options), xs)),
            alarmsOf(RobustZ.detect(xs, options))
          )
        }
      ),
      { numRuns: 60 }
    )
  })
})
