/**
 * The analytics library (`@effect-dspy/analytics`, issue 15) on its synthetic suite:
 *
 * - `update_rate`: points per (CPU) second folded into one series' full ensemble (naive, SMA, EWMA, Holt, linear
 *   trend, Holt-Winters with a 24-point season, the error weights and the interval), a tight loop over a
 *   pre-generated series; the peer is Holt alone.
 * - `forecast_mase`: the ensemble's one-step MASE against the naive forecast on the trend + noise and trend +
 *   daily season families (the mean of both per seed); the peer is Holt alone.
 * - `forecast_mase_random_walk`: the same on random walks (where naive is optimal).
 * - `forecast_coverage`: the share of points inside the ensemble's 95% one-step intervals, every family.
 * - `detection_f1`: F1 of the anomaly detector (robust z-score + CUSUM) on the spikes and level-shift families
 *   (an alarm is true within 20 points after an event).
 *
 * Each figure is the mean over seeds (with `sd` and `n`); the suite's first 100 points (cold start) are left out.
 */
import { Accuracy, Anomaly, Ensemble, Forecast, Holt, Synthetic } from "@effect-dspy/analytics"
import { type Bench, nowUs } from "../Harness.js"

const SEEDS = Array.from({ length: 10 }, (_, i) => i + 1)
const LENGTH = 2000
const SKIP = 100
const SEASON = 24

const meanSd = (xs: ReadonlyArray<number>) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1))
  return { mean, sd, n: xs.length }
}

/** One-step MASE of a forecaster over a series (cold start left out). */
const maseOf = <S>(forecaster: Forecast.Forecaster<S>, values: ReadonlyArray<number>) =>
  Accuracy.mase(values.slice(SKIP), Forecast.oneStep(forecaster, values).mean.slice(SKIP))

/** This process's CPU time (user + system) in microseconds. */
const cpuUs = (): number => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

/**
 * Points per second through `update` over `values`, repeated for about `ms` milliseconds of wall time. The
 * seconds are CPU seconds of this process: the loop is single-threaded, so on a quiet machine they equal wall
 * seconds, and on a shared one (other processes taking turns on the cores) the figure does not drop with the load.
 */
const rate = <S>(make: () => S, update: (s: S, x: number) => S, values: Float64Array, ms: number): number => {
  let state = make()
  for (let i = 0; i < values.length; i++) update(state, values[i]!)
  let points = 0
  const start = nowUs()
  const cpuStart = cpuUs()
  while (nowUs() - start < ms * 1000) {
    state = make()
    for (let i = 0; i < values.length; i++) update(state, values[i]!)
    points += values.length
  }
  return points / ((cpuUs() - cpuStart) / 1e6)
}

const bench: Bench = {
  name: "analytics",
  description: `forecasts and detectors of @effect-dspy/analytics on the synthetic suite (${SEEDS.length} seeds x ${LENGTH} points)`,
  run: async (report) => {
    const speedSeries = Float64Array.from(
      Synthetic.generate("trend_season", { seed: 1, length: 200_000, seasonLength: SEASON }).values
    )
    const ensembleRates: Array<number> = []
    const holtRates: Array<number> = []
    for (let r = 0; r < 5; r++) {
      ensembleRates.push(rate(() => Ensemble.make({ seasonLength: SEASON }), Ensemble.update, speedSeries, 400))
      holtRates.push(rate(() => Holt.make(), Holt.update, speedSeries, 200))
    }
    const ensembleRate = meanSd(ensembleRates)
    report({
      bench: "analytics",
      metric: "update_rate",
      value: ensembleRate.mean,
      unit: "points/s",
      baseline: meanSd(holtRates).mean,
      target: ">= 1,000,000",
      sd: ensembleRate.sd,
      n: ensembleRate.n
    })

    const trendSeason: Array<number> = []
    const trendSeasonHolt: Array<number> = []
    const walk: Array<number> = []
    const walkHolt: Array<number> = []
    const coverage: Array<number> = []
    const f1: Array<number> = []
    for (const seed of SEEDS) {
      const ensemble = Ensemble.forecaster({ seasonLength: SEASON })
      const pair = (["trend_noise", "trend_season"] as const).map((family) =>
        Synthetic.generate(family, { seed, length: LENGTH, seasonLength: SEASON })
      )
      trendSeason.push(pair.reduce((a, s) => a + maseOf(ensemble, s.values), 0) / pair.length)
      trendSeasonHolt.push(pair.reduce((a, s) => a + maseOf(Holt.forecaster(), s.values), 0) / pair.length)
      const randomWalk = Synthetic.generate("random_walk", { seed, length: LENGTH }).values
      walk.push(maseOf(ensemble, randomWalk))
      walkHolt.push(maseOf(Holt.forecaster(), randomWalk))
      for (const family of Synthetic.families) {
        const { values } = Synthetic.generate(family, { seed, length: LENGTH, seasonLength: SEASON })
        const path = Forecast.oneStep(ensemble, values)
        coverage.push(Accuracy.coverage(values.slice(SKIP), path.lower.slice(SKIP), path.upper.slice(SKIP)))
      }
      let truePositives = 0
      let alarms = 0
      let found = 0
      let events = 0
      for (const family of ["spikes", "level_shifts"] as const) {
        const series = Synthetic.generate(family, { seed, length: LENGTH })
        const raised = Anomaly.detect(series.values).map((a) => a.index)
        const score = Accuracy.detection(
          raised,
          series.events.map((e) => e.index),
          20
        )
        truePositives += score.truePositives
        alarms += raised.length
        found += series.events.length - score.missed
        events += series.events.length
      }
      const precision = alarms === 0 ? 1 : truePositives / alarms
      const recall = events === 0 ? 1 : found / events
      f1.push(precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall))
    }
    const figures: ReadonlyArray<
      readonly [string, ReadonlyArray<number>, ReadonlyArray<number> | undefined, string, string]
    > = [
      ["forecast_mase", trendSeason, trendSeasonHolt, "MASE", "<= 0.8"],
      ["forecast_mase_random_walk", walk, walkHolt, "MASE", "<= 1.05"],
      ["forecast_coverage", coverage, undefined, "share", "0.93-0.97"],
      ["detection_f1", f1, undefined, "F1", ">= 0.9"]
    ]
    for (const [metric, xs, peer, unit, target] of figures) {
      const { mean, sd, n } = meanSd(xs)
      report({
        bench: "analytics",
        metric,
        value: mean,
        unit,
        baseline: peer === undefined ? null : meanSd(peer).mean,
        target,
        sd,
        n
      })
    }
  }
}

export default bench
