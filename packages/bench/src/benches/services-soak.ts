/**
 * A memory soak of the ModuleManager: 1,000,000 executions of a Predict (the count; set `SOAK_REQUESTS`
 * for another, rounded up to a multiple of 100,000) through the supervised application with the simulated LM
 * in process (no latency, no faults), 64 at a time, on the default configuration (so the event store keeps its
 * default retention, `events.maxEvents` = 100,000, and the LM its default history of 1,000 calls).
 *
 * After every 100,000 executions the heap in use is sampled after a forced full collection (`--expose-gc`, as
 * the bench script runs node). The first sample (at 100,000) is taken after warm-up: by then every bounded
 * structure (event retention, LM history, metric registries, JIT) has reached its steady size, so what grows
 * after it is a leak.
 *
 * Figures: `soak_heap_at_100k` and `soak_heap_at_end`; `soak_heap_growth` = heap at the end / heap at 100k,
 * target <= 1.1; `soak_heap_slope` = the least-squares slope of the samples from 100k on, in KB per 100,000
 * executions (near 0 when flat); `soak_failed` (target 0); `soak_wall` and `soak_execution_mean` (wall time
 * divided by executions, 64 in flight).
 */
import { Predict, Signature } from "@effect-dspy/core"
import { ModuleManager, TestRuntime } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, heapUsed, nowUs } from "../Harness.js"

const NAME = "services-soak"
const STEP = 100_000
const CONCURRENCY = 64
const inputs = { question: "What is the capital of France?" }

const requested = (): number => {
  const raw = process.env.SOAK_REQUESTS
  const n = raw === undefined || raw === "" ? 1_000_000 : Number(raw)
  if (!Number.isInteger(n) || n < STEP) {
    throw new Error(`${NAME}: SOAK_REQUESTS must be an integer >= ${STEP}, got ${raw}`)
  }
  return Math.ceil(n / STEP) * STEP
}

/** `n` executions, `CONCURRENCY` at a time; returns how many failed. */
const executions = (n: number) =>
  Effect.suspend(() => {
    let failed = 0
    const worker = (count: number) =>
      Effect.repeatN(
        Effect.catchAll(ModuleManager.execute("qa", inputs), () =>
          Effect.sync(() => {
            failed++
          })
        ),
        count - 1
      )
    const per = Math.floor(n / CONCURRENCY)
    const workers = Array.from({ length: CONCURRENCY }, (_, i) => per + (i < n - per * CONCURRENCY ? 1 : 0)).filter(
      (count) => count > 0
    )
    return Effect.map(Effect.all(workers.map(worker), { concurrency: "unbounded", discard: true }), () => failed)
  })

/** Least-squares slope of ys over xs. */
const slope = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): number => {
  const n = xs.length
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

const bench: Bench = {
  name: NAME,
  description: `Heap over ${requested().toLocaleString("en")} ModuleManager executions (simulated LM in process, ${CONCURRENCY} in flight), sampled after a full GC every 100,000`,
  run: async (report) => {
    const total = requested()
    const runtime = ManagedRuntime.make(TestRuntime.layer())
    await runtime.runPromise(
      Effect.flatMap(ModuleManager.ModuleManager, (m) =>
        m.register("qa", Predict.make(Signature.make("question -> answer")))
      )
    )
    const samples: Array<{ readonly at: number; readonly heap: number }> = []
    let failed = 0
    const start = nowUs()
    for (let done = 0; done < total; ) {
      failed += await runtime.runPromise(executions(STEP))
      done += STEP
      const heap = heapUsed()
      samples.push({ at: done, heap })
      process.stderr.write(`# ${NAME}: ${done} executions, heap ${(heap / 1e6).toFixed(1)} MB\n`)
    }
    const wallS = (nowUs() - start) / 1e6
    await runtime.dispose()

    const first = samples[0]!
    const last = samples[samples.length - 1]!
    const mb = (bytes: number) => bytes / 1e6
    report({ bench: NAME, metric: "soak_heap_at_100k", value: mb(first.heap), unit: "MB" })
    report({ bench: NAME, metric: `soak_heap_at_${last.at / 1000}k`, value: mb(last.heap), unit: "MB" })
    report({
      bench: NAME,
      metric: "soak_heap_growth",
      value: last.heap / first.heap,
      unit: "x",
      baseline: 1,
      target: "<= 1.1"
    })
    report({
      bench: NAME,
      metric: "soak_heap_slope",
      value:
        samples.length < 2
          ? 0
          : slope(
              samples.map((s) => s.at / STEP),
              samples.map((s) => s.heap / 1e3)
            ),
      unit: "KB/100k",
      target: "~0"
    })
    report({ bench: NAME, metric: "soak_failed", value: failed, unit: "executions", target: "= 0" })
    report({ bench: NAME, metric: "soak_wall", value: wallS, unit: "s" })
    report({ bench: NAME, metric: "soak_execution_mean", value: (wallS * 1e6) / total, unit: "us" })
  }
}

export default bench
