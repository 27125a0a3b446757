import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Accuracy from "../src/Accuracy.js"
import * as AnalyticsError from "../src/AnalyticsError.js"
import * as Anomaly from "../src/Anomaly.js"
import * as Cusum from "../src/Cusum.js"
import * as Detection from "../src/Detection.js"
import * as Ensemble from "../src/Ensemble.js"
import * as EwmaControl from "../src/EwmaControl.js"
import * as PageHinkley from "../src/PageHinkley.js"
import * as RobustZ from "../src/RobustZ.js"
import * as Synthetic from "../src/Synthetic.js"

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8]
const LENGTH = 1500

/** Precision and recall of alarms over the seeds of a family (alarms within `within` points of an event). */
const pooled = (family: Synthetic.Family, alarmsOf: (values: Array<number>) => ReadonlyArray<number>) => {
  const within = Synthetic.targets[family].detection?.within ?? 20
  let truePositives = 0
  let alarms = 0
  let found = 0
  let events = 0
  for (const seed of SEEDS) {
    const series = Synthetic.generate(family, { seed, length: LENGTH })
    const raised = alarmsOf(series.values)
    const score = Accuracy.detection(
      raised,
      series.events.map((e) => e.index),
      within
    )
    truePositives += score.truePositives
    alarms += raised.length
    found += series.events.length - score.missed
    events += series.events.length
  }
  return { precision: alarms === 0 ? 1 : truePositives / alarms, recall: found / events, alarms }
}

const indices = (alarms: ReadonlyArray<Detection.Alarm>) => alarms.map((a) => a.index)

describe("detectors", () => {
  it("the anomaly detector finds spikes >= 4 sigma and level shifts >= 2 sigma within 20 points", () => {
    for (const family of ["spikes", "level_shifts"] as const) {
      const target = Synthetic.targets[family].detection!
      const { precision, recall } = pooled(family, (v) => indices(Anomaly.detect(v)))
      assert.isAtLeast(precision, target.precision, `${family}: precision ${precision}`)
      assert.isAtLeast(recall, target.recall, `${family}: recall ${recall}`)
    }
  })

  it("each detector on its own: robust z on spikes, CUSUM and Page-Hinkley on shifts", () => {
    const spikes = pooled("spikes", (v) => indices(Detection.run(RobustZ.detector(), v)))
    assert.isAtLeast(spikes.precision, 0.9)
    assert.isAtLeast(spikes.recall, 0.9)
    const cusum = pooled("level_shifts", (v) => indices(Cusum.detect(v)))
    assert.isAtLeast(cusum.precision, 0.9)
    assert.isAtLeast(cusum.recall, 0.9)
    const pageHinkley = pooled("level_shifts", (v) => indices(Detection.run(PageHinkley.detector(), v)))
    assert.isAtLeast(pageHinkley.precision, 0.8)
    assert.isAtLeast(pageHinkley.recall, 0.8)
  })

  it("the EWMA control chart leaves its limits after a shift and stays inside on a stationary series", () => {
    const shifts = pooled("level_shifts", (v) => indices(Detection.run(EwmaControl.detector(), v)))
    assert.isAtLeast(shifts.recall, 0.9)
    const quiet = pooled("stationary", (v) => indices(Detection.run(EwmaControl.detector(), v)))
    assert.isAtMost(quiet.alarms, (SEEDS.length * LENGTH) / 1000)
  })

  it("a shift alarm dates the change: `since` is within a few points of the true shift", () => {
    const series = Synthetic.generate("level_shifts", { seed: 3, length: LENGTH })
    const shifts = Anomaly.detect(series.values).filter((a) => a.kind === "shift")
    for (const event of series.events) {
      const alarm = shifts.find((a) => a.index >= event.index && a.index <= event.index + 20)
      assert.isDefined(alarm, `shift at ${event.index} not found`)
      assert.isAtMost(Math.abs(alarm!.since - event.index), 5)
      assert.strictEqual(alarm!.direction, event.sigmas > 0 ? "up" : "down")
    }
  })

  it("few false alarms on stationary series (the family's target per 1000 points)", () => {
    const { alarms } = pooled("stationary", (v) => indices(Anomaly.detect(v)))
    assert.isAtMost(alarms, (Synthetic.targets.stationary.falseAlarmsPer1000! * SEEDS.length * LENGTH) / 1000)
  })

  it("raises nothing during the warm-up, whatever the points (property)", () => {
    /** Each detector's alarms over the first `warmup` points. */
    const during: ReadonlyArray<(values: ReadonlyArray<number>) => ReadonlyArray<Detection.Alarm>> = [
      (v) => Detection.run(RobustZ.detector({ warmup: 20 }), v.slice(0, 20)),
      (v) => Detection.run(Cusum.detector({ warmup: 30 }), v.slice(0, 30)),
      (v) => Detection.run(PageHinkley.detector({ warmup: 30 }), v.slice(0, 30)),
      (v) => Detection.run(EwmaControl.detector({ warmup: 30 }), v.slice(0, 30)),
      (v) => Anomaly.detect(v.slice(0, 30))
    ]
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 30 }), (values) => {
        for (const alarms of during) assert.deepStrictEqual(alarms(values), [])
      })
    )
  })

  it("raises nothing on a stationary synthetic series during the warm-up (every seed)", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const { values } = Synthetic.generate("stationary", { seed, length: 30 })
      assert.deepStrictEqual(Anomaly.detect(values), [])
    }
  })

  it("a shift re-bases the spike detector: a big new level is one shift, not a run of spikes", () => {
    const values = Array.from({ length: 300 }, (_, i) => (i < 150 ? 0 : 10) + Math.sin(i * 12.9898))
    const alarms = Anomaly.detect(values)
    const shifts = alarms.filter((a) => a.kind === "shift")
    assert.strictEqual(shifts.length, 1)
    assert.isAtMost(alarms.filter((a) => a.kind === "spike" && a.index > 170).length, 0)
  })

  it("on a trend with a daily season, the detector runs on the ensemble's residuals: quiet, and finds spikes", () => {
    /** Alarm indices of the anomaly detector fed with one-step residuals (value - forecast before the update). */
    const onResiduals = (values: ReadonlyArray<number>) => {
      const forecaster = Ensemble.make({ seasonLength: 24 })
      const detector = Anomaly.make()
      const alarms: Array<number> = []
      values.forEach((x, i) => {
        const mean = Ensemble.forecast(forecaster, 1).mean
        if (!Number.isNaN(mean)) for (const _ of Anomaly.update(detector, x - mean).alarms) alarms.push(i)
        Ensemble.update(forecaster, x)
      })
      return alarms
    }
    let quiet = 0
    let found = 0
    let events = 0
    let truePositives = 0
    let alarms = 0
    for (const seed of SEEDS) {
      const series = Synthetic.generate("trend_season", { seed, length: LENGTH })
      // On the raw values the trend reads as a string of shifts; on the residuals it is gone.
      assert.isAbove(Anomaly.detect(series.values).length, 10)
      quiet += onResiduals(series.values).length
      // The spikes family's events (4-8 sigma), added to the seasonal series.
      const spikes = Synthetic.generate("spikes", { seed, length: LENGTH }).events
      const at = new Map(spikes.map((e) => [e.index, e.sigmas * series.noiseSd]))
      const raised = onResiduals(series.values.map((x, i) => x + (at.get(i) ?? 0)))
      const score = Accuracy.detection(
        raised,
        spikes.map((e) => e.index)
      )
      found += spikes.length - score.missed
      events += spikes.length
      truePositives += score.truePositives
      alarms += raised.length
    }
    assert.isAtMost(quiet, (SEEDS.length * LENGTH) / 1000)
    assert.isAtLeast(truePositives / alarms, 0.9)
    assert.isAtLeast(found / events, 0.75)
  })

  it("bad options are typed errors; non-finite points are skipped and counted", () => {
    assert.throws(() => RobustZ.make({ window: 2 }), AnalyticsError.InvalidOptions)
    assert.throws(() => Cusum.make({ h: -1 }), AnalyticsError.InvalidOptions)
    assert.throws(() => EwmaControl.make({ lambda: 0 }), AnalyticsError.InvalidOptions)
    assert.throws(() => Anomaly.detect([1, Number.NaN]), AnalyticsError.InvalidSeries)
    const state = Anomaly.make()
    Anomaly.update(state, Number.NaN)
    Anomaly.update(state, 1)
    assert.strictEqual(state.skipped, 1)
    assert.strictEqual(state.n, 1)
  })
})
