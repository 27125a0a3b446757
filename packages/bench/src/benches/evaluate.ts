/**
 * Evaluate at scale: 10,000 examples through a ChainOfThought on the simulated LM with 50 ms latency per
 * call (on Effect's real clock), concurrency 100. The ideal wall time is 10,000 / 100 * 50 ms = 5 s (target
 * within 1.15x). Memory: heap before, the highest heap seen while running, and after (with
 * `keepResults: false` the run holds counters only, so heap stays flat whatever the devset size).
 */
import { ChainOfThought, Evaluate, Example, LM, Signature } from "@effect-dspy/core"
import { Multihop, SimLatency, SimLM, SimTask } from "@effect-dspy/sim"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, heapUsed, nowUs } from "../Harness.js"

const EXAMPLES = 10_000
const CONCURRENCY = 100
const LATENCY_MS = 50

const bench: Bench = {
  name: "evaluate",
  description: "Evaluate over 10,000 examples at 50 ms simulated latency, concurrency 100 (ideal 5 s)",
  run: async (report) => {
    const base = SimTask.generate(Multihop.task, 11, 500).map((e) => Example.make(e).withInputs("question"))
    // 10,000 examples, built lazily from 500 distinct ones (the devset array holds references only).
    const devset = Array.from({ length: EXAMPLES }, (_, i) => base[i % base.length]!)
    const runtime = ManagedRuntime.make(
      LM.layerProvider(SimLM.make({ latency: SimLatency.fixed(LATENCY_MS) }), { historySize: 100 })
    )
    const program = ChainOfThought.make(Signature.make("question -> answer"))
    // Warm up the code paths (not timed).
    await runtime.runPromise(
      Evaluate.run({ devset: base.slice(0, 200), program, metric: Evaluate.answerExactMatch, concurrency: CONCURRENCY })
    )

    const before = heapUsed()
    let peak = before
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed)
    }, 100)
    const start = nowUs()
    const result = await runtime.runPromise(
      Evaluate.run({
        devset,
        program,
        metric: Evaluate.answerExactMatch,
        concurrency: CONCURRENCY,
        maxErrors: EXAMPLES,
        keepResults: false
      })
    )
    const wallS = (nowUs() - start) / 1e6
    clearInterval(sampler)
    const after = heapUsed()
    await runtime.dispose()
    if (result.total !== EXAMPLES) throw new Error(`evaluate bench: ${result.total} examples scored`)

    const ideal = (EXAMPLES / CONCURRENCY) * (LATENCY_MS / 1000)
    report({ bench: "evaluate", metric: "wall_time", value: wallS, unit: "s", baseline: ideal, target: "<= 1.15x" })
    report({ bench: "evaluate", metric: "score", value: result.score, unit: "%" })
    report({ bench: "evaluate", metric: "errors", value: result.errors, unit: "examples" })
    report({ bench: "evaluate", metric: "heap_before", value: before / 1e6, unit: "MB" })
    report({ bench: "evaluate", metric: "heap_peak", value: peak / 1e6, unit: "MB" })
    report({ bench: "evaluate", metric: "heap_after", value: after / 1e6, unit: "MB", baseline: before / 1e6 })
  }
}

export default bench
