/**
 * The metric history: values folded into interval rollups, visible before and after a flush, queried by selector
 * and range; down-sampled to hours past the raw retention and dropped past the hour retention; persisted across a
 * reopen of its file; a newer schema refused; bad options and queries are typed errors.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { MetricHistory } from "../../src/index.js"
import * as Sqlite from "../../src/internal/sqlite.js"

const latency = { metric: "module.latency_ms", module: "qa", version: "1" }

describe("MetricHistory", () => {
  it.scoped("folds values into interval rollups and answers range queries by selector", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      for (let i = 1; i <= 100; i++) yield* history.record(latency, i)
      yield* history.record({ ...latency, module: "other" }, 5_000)
      yield* TestClock.adjust("1 second")
      yield* history.record(latency, 1_000)
      const points = yield* history.query({
        selector: { metric: "module.latency_ms", module: "qa" },
        from: 0,
        to: 10_000
      })
      assert.deepStrictEqual(
        points.map((p) => [p.start, p.count, p.min, p.max]),
        [
          [0, 100, 1, 100],
          [1_000, 1, 1_000, 1_000]
        ]
      )
      assert.strictEqual(points[0]!.sum, 5050)
      assert.approximately(points[0]!.p95, 95, 95 * 0.011)
      assert.approximately(points[0]!.p50, 50, 50 * 0.011)
      // Flushed rows read back the same (the first interval is closed; the second is still open).
      assert.strictEqual(yield* history.flush(), 2)
      const again = yield* history.query({ selector: { metric: "module.latency_ms" }, from: 0, to: 10_000 })
      assert.strictEqual(again.length, 3)
      const summary = yield* history.summarize({ metric: "module.latency_ms", module: "qa" }, 0, 10_000)
      assert.strictEqual(summary.length, 1)
      assert.strictEqual(summary[0]!.count, 101)
      assert.strictEqual(summary[0]!.max, 1_000)
    })
  )

  it.scoped("a late value for a flushed interval is merged with the stored row, not lost", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const record = history.recorder(latency)
      record(10, 500)
      yield* TestClock.adjust("2 seconds")
      yield* history.flush()
      record(30, 600)
      yield* history.flush({ all: true })
      const [point] = yield* history.query({ selector: latency, from: 0, to: 1_000 })
      assert.strictEqual(point!.count, 2)
      assert.strictEqual(point!.sum, 40)
    })
  )

  it.scoped("down-samples base rollups into hours past the raw retention and drops hours past theirs", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({
        intervalMs: 60_000,
        rawRetentionMs: 2 * MetricHistory.hourMs,
        hourRetentionMs: 5 * MetricHistory.hourMs
      })
      const record = history.recorder(latency)
      // One value a minute for 4 hours.
      for (let m = 0; m < 240; m++) record(m, m * 60_000)
      yield* TestClock.adjust(`${4 * 60} minutes`)
      assert.strictEqual(yield* history.flush(), 240)
      const compacted = yield* history.compact
      // Everything older than now - 2 h (hours 0 and 1: 120 minute rows) is folded into 2 hour rows.
      assert.strictEqual(compacted.downsampled, 120)
      const rows = yield* history.query({ selector: latency, from: 0, to: 4 * MetricHistory.hourMs })
      assert.deepStrictEqual(
        rows.slice(0, 3).map((r) => [r.start, r.intervalMs, r.count]),
        [
          [0, MetricHistory.hourMs, 60],
          [MetricHistory.hourMs, MetricHistory.hourMs, 60],
          [2 * MetricHistory.hourMs, 60_000, 1]
        ]
      )
      assert.strictEqual(rows.length, 2 + 120)
      // The totals are unchanged by down-sampling.
      const [all] = yield* history.summarize(latency, 0, 4 * MetricHistory.hourMs)
      assert.strictEqual(all!.count, 240)
      assert.strictEqual(all!.sum, (239 * 240) / 2)
      // An hour view merges the minute rows of the last two hours.
      const hours = yield* history.query({
        selector: latency,
        from: 0,
        to: 4 * MetricHistory.hourMs,
        bucketMs: MetricHistory.hourMs
      })
      assert.deepStrictEqual(
        hours.map((h) => h.count),
        [60, 60, 60, 60]
      )
      // Six hours later the two hour rows are past the hour retention.
      yield* TestClock.adjust("6 hours")
      const later = yield* history.compact
      assert.strictEqual(later.expired, 2 + 2)
      const left = yield* history.query({ selector: latency, from: 0, to: 4 * MetricHistory.hourMs })
      assert.strictEqual(left.length, 0)
    })
  )

  it.effect("keeps its rollups in its file across a reopen and refuses a newer schema", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "history-"))
      const filename = path.join(dir, "metrics.db")
      try {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const history = yield* MetricHistory.make({ filename, intervalMs: 1_000 })
            yield* history.record({ metric: "lm.cost_usd", provider: "sim" }, 0.25)
            yield* history.record({ metric: "lm.cost_usd", provider: "sim" }, 0.5)
          })
        )
        const points = yield* Effect.scoped(
          Effect.flatMap(MetricHistory.make({ filename, intervalMs: 1_000 }), (h) =>
            h.query({ selector: { metric: "lm.cost_usd" }, from: 0, to: 1_000 })
          )
        )
        assert.strictEqual(points.length, 1)
        assert.strictEqual(points[0]!.sum, 0.75)
        assert.deepStrictEqual(points[0]!.series, { metric: "lm.cost_usd", provider: "sim" })
        // A database a newer program wrote is not opened.
        yield* Effect.scoped(
          Effect.flatMap(Sqlite.openReserved(filename), (run) =>
            run("UPDATE dspy_metric_meta SET value = '99' WHERE key = 'schema_version'", [])
          )
        )
        const refused = yield* Effect.exit(Effect.scoped(MetricHistory.make({ filename })))
        assert.isTrue(Exit.isFailure(refused))
        if (Exit.isFailure(refused)) assert.include(String(refused.cause), "MetricHistoryVersionUnsupported")
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  )

  it.scoped("bad options and queries are typed errors that say what to fix", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(MetricHistory.make({ intervalMs: 0 }))
      assert.strictEqual(bad._tag, "ObserveInvalidInput")
      assert.include(bad.message, "intervalMs")
      const history = yield* MetricHistory.make()
      const query = yield* Effect.flip(history.query({ selector: latency, from: 10, to: 0 }))
      assert.strictEqual(query._tag, "ObserveInvalidInput")
    })
  )
})
