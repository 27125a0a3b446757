import { MetricHistory } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Bench, nowUs } from "../Harness.js"

/**
 * The metric history's ingest: samples folded into 1-second rollups (count, sum, min, max, a DDSketch) over 50
 * series (10 modules x 5 providers), with every closed interval flushed to a SQLite file inside the measured
 * window (one flush per simulated second, as the observability loop does). The peer folds the same samples into
 * plain count/sum/min/max records with no sketch and no storage.
 */
const bench: Bench = {
  name: "analytics-rollup",
  description: "metric history: samples/s folded into rollups with the SQLite flushes inside the window",
  run: async (report) => {
    const N = Number(process.env.ROLLUP_SAMPLES ?? 1_000_000)
    const perSecond = 20_000
    const seriesCount = 50
    const values = new Float64Array(N)
    let state = 12345
    for (let i = 0; i < N; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31
      values[i] = 20 + 400 * (state / 2 ** 31) ** 3
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-rollup-"))
    const ingestOnce = async (run: number): Promise<number> => {
      const scope = Effect.runSync(Scope.make())
      try {
        const program = Effect.gen(function* () {
          const history = yield* MetricHistory.make({
            filename: path.join(dir, `history-${run}.db`),
            intervalMs: 1_000
          }).pipe(Scope.extend(scope))
          const recorders = Array.from({ length: seriesCount }, (_, s) =>
            history.recorder({ metric: "lm.latency_ms", module: `m${s % 10}`, provider: `p${Math.floor(s / 10)}` })
          )
          const start = nowUs()
          let second = 0
          for (let i = 0; i < N; i++) {
            if (i > 0 && i % perSecond === 0) {
              second++
              yield* TestClock.setTime(second * 1_000)
              yield* history.flush()
            }
            recorders[i % seriesCount]!(values[i]!, second * 1_000 + (i % 1_000))
          }
          yield* TestClock.setTime((second + 1) * 1_000)
          yield* history.flush()
          const elapsedUs = nowUs() - start
          // Everything reached the file.
          const [all] = yield* history.summarize(
            { metric: "lm.latency_ms", module: "m0", provider: "p0" },
            0,
            (second + 1) * 1_000
          )
          if (all === undefined || all.count !== N / seriesCount) throw new Error(`lost samples: ${all?.count}`)
          return N / (elapsedUs / 1e6)
        })
        return await Effect.runPromise(program.pipe(Effect.provide(TestContext.TestContext)))
      } finally {
        await Effect.runPromise(Scope.close(scope, Exit.void))
      }
    }
    const plainOnce = (): number => {
      const records = Array.from({ length: seriesCount }, () => ({ count: 0, sum: 0, min: Infinity, max: -Infinity }))
      const start = nowUs()
      for (let i = 0; i < N; i++) {
        const r = records[i % seriesCount]!
        const v = values[i]!
        r.count++
        r.sum += v
        if (v < r.min) r.min = v
        if (v > r.max) r.max = v
      }
      const rate = N / ((nowUs() - start) / 1e6)
      if (records[0]!.count !== N / seriesCount) throw new Error("baseline lost samples")
      return rate
    }
    try {
      await ingestOnce(0) // warm-up
      plainOnce()
      const rates: Array<number> = []
      for (let run = 1; run <= 3; run++) rates.push(await ingestOnce(run))
      const best = Math.max(...rates)
      const plain = Math.max(plainOnce(), plainOnce(), plainOnce())
      report({
        bench: "analytics-rollup",
        metric: "rollup_ingest_rate",
        value: best,
        unit: "samples/s",
        baseline: plain,
        target: ">= 200000"
      })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default bench
