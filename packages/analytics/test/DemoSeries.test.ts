import * as fs from "node:fs"
import * as path from "node:path"
import * as url from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Accuracy from "../src/Accuracy.js"
import * as Anomaly from "../src/Anomaly.js"
import * as Ensemble from "../src/Ensemble.js"
import * as Forecast from "../src/Forecast.js"
import * as Naive from "../src/Naive.js"
import * as Sma from "../src/Sma.js"

/**
 * Series recorded from the demo (`test/fixtures/demo-series.json`, its `source` says how): the latency of each
 * served request, and the LM requests and cost per 100 ms. Version 1 of the fixture's format:
 * `{ version, source, series: [{ name, unit, values }] }`.
 */
interface Fixture {
  readonly version: 1
  readonly source: string
  readonly series: ReadonlyArray<{ readonly name: string; readonly unit: string; readonly values: Array<number> }>
}

const load = (): Fixture => {
  const file = path.join(path.dirname(url.fileURLToPath(import.meta.url)), "fixtures", "demo-series.json")
  const fixture = JSON.parse(fs.readFileSync(file, "utf8")) as Fixture
  if (fixture.version !== 1) throw new Error(`demo-series.json: version ${String(fixture.version)}, expected 1`)
  return fixture
}

/** Points left out of the scores: the cold start. */
const SKIP = 30

describe("series recorded from the demo", () => {
  const fixture = load()

  it("holds the three recorded series", () => {
    assert.deepStrictEqual(
      fixture.series.map((s) => s.name),
      ["request_latency_ms", "lm_requests_per_100ms", "lm_cost_usd_per_100ms"]
    )
    for (const s of fixture.series) assert.isAbove(s.values.length, 200)
  })

  it("the ensemble forecasts each better than the naive forecast and the moving average, with calibrated intervals", () => {
    for (const series of fixture.series) {
      const actual = series.values.slice(SKIP)
      const score = <S>(forecaster: Forecast.Forecaster<S>) => {
        const p = Forecast.oneStep(forecaster, series.values)
        return {
          mase: Accuracy.mase(actual, p.mean.slice(SKIP)),
          coverage: Accuracy.coverage(actual, p.lower.slice(SKIP), p.upper.slice(SKIP))
        }
      }
      const ensemble = score(Ensemble.forecaster())
      assert.isBelow(ensemble.mase, 0.97, `${series.name}: ensemble MASE ${ensemble.mase}`)
      assert.isBelow(ensemble.mase, score(Sma.forecaster()).mase, series.name)
      assert.strictEqual(score(Naive.forecaster()).mase, 1)
      assert.isTrue(
        ensemble.coverage >= 0.93 && ensemble.coverage <= 0.97,
        `${series.name}: coverage ${ensemble.coverage}`
      )
    }
  })

  it("the detector stays quiet through the warm-up of each recorded series", () => {
    for (const series of fixture.series) {
      assert.isTrue(
        Anomaly.detect(series.values).every((a) => a.index >= 30),
        series.name
      )
    }
  })
})
