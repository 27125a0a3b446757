/**
 * Hedged requests in the provider pools (config `latency.hedging`).
 *
 * `hedge_p99_ratio`: the p99 latency of LM calls with hedging over the p99 without, through the real application
 * (`Application.layer`: pools, breakers, the one selection policy), against two providers of the same kind where
 * 5% of calls are 10x slower (in-process fake providers answering through the simulated LM after a seeded
 * delay: 40-60 ms, or 400-600 ms for the slow 5%; long enough that the
 * machine's own stalls of a few ms do not decide the tail). The primary's backup is the other provider. Hedging sends the
 * backup a second request once a call runs past its adaptive deadline (`clamp(p90 * 1.5, floor, cap)` of the
 * primary's recent latencies); the first answer wins. Both runs see the same seeded delays, call by call; the
 * first `WARMUP` calls (filling the latency window) are not counted. The figure is the mean over `HEDGE_REPS`
 * repetitions (default 3, each with its own seed). Target <= 0.5.
 *
 * Also reported: the p99 in ms (baseline: without hedging) and the extra calls hedging cost (hedges per call).
 * `HEDGE_CALLS=1000 pnpm bench loop-hedge` for a quick look (default 3,000 calls, 16 at a time).
 */
import { LM, type Provider } from "@effect-dspy/core"
import { Config, Events, Protection, Random } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { Application, LMProviders } from "@effect-dspy/services"
import { SimLM } from "@effect-dspy/sim"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, nowUs, quantile } from "../Harness.js"

const CALLS = Number(process.env.HEDGE_CALLS ?? 3_000)
const CONCURRENCY = Number(process.env.HEDGE_CONCURRENCY ?? 16)
const WARMUP = 200
const SLOW_SHARE = 0.05
const REPETITIONS = Number(process.env.HEDGE_REPS ?? 3)

/** A provider answering after a seeded delay: 40-60 ms, or 10x that for 5% of calls. */
const slowTail = (name: string, seed: number): Provider.Provider => {
  const sim = SimLM.make({ name, model: "sim-1" })
  let call = 0
  return {
    ...sim,
    complete: (request) =>
      Effect.suspend(() => {
        const rng = Random.fromState(Random.hashParts("hedge-bench", seed, name, call++))
        const base = 40 + 20 * rng.next()
        const ms = rng.next() < SLOW_SHARE ? base * 10 : base
        return Effect.zipRight(Effect.sleep(Duration.millis(ms)), sim.complete(request))
      })
  }
}

const configOf = (hedging: boolean) => ({
  modules: { defaultLmProvider: "primary", cacheEnabled: false },
  providers: {
    primary: { kind: "simulated", backup: "backup", maxRetries: 0, poolSize: 128 },
    backup: { kind: "simulated", backup: "primary", maxRetries: 0, poolSize: 128 }
  },
  latency: { minSamples: 50, floorMs: 5, hedging: { enabled: hedging, quantile: 0.9, multiplier: 1.5 } }
})

interface Measured {
  readonly p99: number
  readonly p50: number
  readonly hedges: number
}

const measure = async (hedging: boolean, seed: number) => {
  const foundation = Layer.mergeAll(Events.layerTest, Protection.layer, Registry.layerTest).pipe(
    Layer.provideMerge(Config.layerTest(configOf(hedging)))
  )
  const app = Application.layer({
    providerFactory: (name) => Effect.succeed(slowTail(name, seed))
  }).pipe(Layer.provideMerge(foundation))
  const runtime = ManagedRuntime.make(app)
  try {
    const lm = await runtime.runPromise(LM.LM)
    const latencies = new Array<number>(CALLS)
    let next = 0
    const worker = async () => {
      for (let i = next++; i < CALLS; i = next++) {
        const request = { messages: [{ role: "user" as const, content: `What is ${i} + 1?` }] }
        const start = nowUs()
        await runtime.runPromise(lm.complete(request))
        latencies[i] = (nowUs() - start) / 1000
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    const status = await runtime.runPromise(Effect.flatMap(LMProviders.LMProviders, (p) => p.status))
    const primary = status.find((s) => s.name === "primary")!
    const counted = latencies.slice(WARMUP)
    const measured: Measured = { p99: quantile(counted, 0.99), p50: quantile(counted, 0.5), hedges: primary.hedges }
    return measured
  } finally {
    await runtime.dispose()
  }
}

const bench: Bench = {
  name: "loop-hedge",
  description:
    "Hedged provider requests: p99 with hedging over p99 without, two providers where 5% of calls are 10x slower",
  run: async (report) => {
    // Each repetition runs both modes on the same seeded delays, one after the other, so they share the
    // machine's conditions; the figures are means over the repetitions.
    const runs: Array<{ readonly plain: Measured; readonly hedged: Measured }> = []
    for (let seed = 0; seed < REPETITIONS; seed++) {
      runs.push({ plain: await measure(false, seed), hedged: await measure(true, seed) })
    }
    const stats = (xs: ReadonlyArray<number>) => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length
      const sd = xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1))
      return { value: mean, sd, n: xs.length }
    }
    report({
      bench: "loop-hedge",
      metric: "hedge_p99_ratio",
      ...stats(runs.map((r) => r.hedged.p99 / r.plain.p99)),
      unit: "x",
      target: "<= 0.5"
    })
    report({
      bench: "loop-hedge",
      metric: "hedge_p99_ms",
      ...stats(runs.map((r) => r.hedged.p99)),
      unit: "ms",
      baseline: stats(runs.map((r) => r.plain.p99)).value
    })
    report({
      bench: "loop-hedge",
      metric: "hedge_p50_ms",
      ...stats(runs.map((r) => r.hedged.p50)),
      unit: "ms",
      baseline: stats(runs.map((r) => r.plain.p50)).value
    })
    report({
      bench: "loop-hedge",
      metric: "hedge_extra_calls",
      ...stats(runs.map((r) => r.hedged.hedges / CALLS)),
      unit: "hedges/call"
    })
  }
}

export default bench
