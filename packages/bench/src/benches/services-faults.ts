/**
 * The ModuleManager under injected faults: 1,000 concurrent executions of a Predict at 50 ms simulated latency
 * (real clock) through a provider pool of 16 workers, while the simulated LM fails 30% of its calls with
 * faults the LM retries: 7.5% each of `server_error` (500), `unavailable` (503), `reset` (connection reset)
 * and `rate_limit` (429 with a Retry-After of 50 ms). No output-corruption faults: every attempt that gets an
 * answer parses.
 *
 * Set-up: `providers.default.maxRetries` = 3 (the default), with a backoff of one latency
 * (`retryBaseDelayMs` = 50, doubling, jittered 80-120%, at most `retryMaxDelayMs` = 400; on Effect's Clock, so in
 * real time here), as one would configure a provider whose faults are brief. The provider's breaker (`infrastructure.circuitBreakers.lm_provider_default`) is in rate
 * mode at 60% over 10 s with at least 50 calls, so that a 30% fault rate does not open it (the default, 5
 * failures in 60 s, would open it at once and turn the run into a failover test).
 *
 * Figures:
 * - `faults_30pct_wall` against the pool's ideal: ceil(attempts / 16) x 50 ms, where `attempts` is the number
 *   of calls the simulated LM served during the batch (first attempts plus retries; each attempt, failed or
 *   not, holds a worker for the full 50 ms). Target within 1.1x. The retries' backoff is not in the ideal:
 *   a request failing late waits up to 50 + 100 + 200 ms (jittered) before its last attempt, which the pool
 *   cannot hide at the end of the batch.
 * - `faults_30pct_done_p50` / `_p90` / `_p99`: when half, 90% and 99% of the requests had ended (seconds from
 *   the start, against the same ideal): the distance between these and the wall is the backoff tail.
 * - `faults_30pct_wall_vs_no_faults`: the same 1,000 executions without faults in the same run.
 * - `faults_30pct_lost`: 1000 - (successes + typed errors), target 0. A request lost is one that died
 *   (a defect), was interrupted, or had not ended when the batch's deadline (120 s) interrupted it.
 * - `faults_30pct_succeeded` and `faults_30pct_failed_<tag>` per error tag (requests whose four attempts all
 *   failed end with the last attempt's typed error; about 0.3^4 = 0.8% of them).
 * - `faults_30pct_injected` and `faults_30pct_attempts`: what the simulated LM did.
 */
import { Predict, Signature } from "@effect-dspy/core"
import { ModuleManager, TestRuntime } from "@effect-dspy/services"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { type Bench, nowUs, quantile } from "../Harness.js"

const NAME = "services-faults"
const CONCURRENT = 1_000
const POOL = 16
const LATENCY_MS = 50
const FAULT_RATE = 0.3
const MAX_RETRIES = 3
const BATCH_DEADLINE = "120 seconds"
const inputs = { question: "What is the capital of France?" }
const faults = {
  rates: {
    server_error: FAULT_RATE / 4,
    unavailable: FAULT_RATE / 4,
    reset: FAULT_RATE / 4,
    rate_limit: FAULT_RATE / 4
  },
  seed: 7,
  retryAfterSeconds: 0.05
}

type Outcome = { readonly _tag: "ok" } | { readonly _tag: "failed"; readonly tag: string } | { readonly _tag: "lost" }

/** One execution, classified: a success, a typed error (by tag), or lost (a defect or an interruption). */
const one = Effect.map(Effect.exit(ModuleManager.execute("qa", inputs)), (exit): Outcome => {
  if (Exit.isSuccess(exit)) return { _tag: "ok" }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return { _tag: "lost" }
  const error = failure.value as { readonly _tag?: unknown }
  return { _tag: "failed", tag: typeof error._tag === "string" ? error._tag : "untagged" }
})

/**
 * `n` concurrent executions; their outcomes by request (a request still running at the batch's deadline is
 * interrupted and stays `lost`).
 */
const batch = (n: number, ends: Array<number> = []) =>
  Effect.suspend(() => {
    const outcomes: Array<Outcome> = Array.from({ length: n }, () => ({ _tag: "lost" }) as const)
    return Effect.forEach(
      outcomes,
      (_, i) =>
        Effect.map(one, (outcome) => {
          outcomes[i] = outcome
          ends.push(nowUs())
        }),
      { concurrency: "unbounded", discard: true }
    ).pipe(
      Effect.timeout(BATCH_DEADLINE),
      Effect.ignore,
      Effect.map(() => outcomes)
    )
  })

const bench: Bench = {
  name: NAME,
  description:
    "1,000 concurrent ModuleManager executions at 50 ms through a pool of 16 under 30% injected retryable faults: wall vs the pool's ideal, lost requests, errors by tag",
  run: async (report) => {
    const predictor = Predict.make(Signature.make("question -> answer"))
    const runtime = ManagedRuntime.make(
      TestRuntime.layer({
        config: {
          providers: {
            default: { poolSize: POOL, maxRetries: MAX_RETRIES, retryBaseDelayMs: LATENCY_MS, retryMaxDelayMs: 400 }
          },
          events: { maxEvents: 10_000 },
          infrastructure: {
            circuitBreakers: {
              lm_provider_default: { failureRateThreshold: 0.6, windowMs: 10_000, minimumVolume: 50 }
            }
          }
        },
        sim: { default: { latency: TestRuntime.fixedLatency(LATENCY_MS) } }
      })
    )
    await runtime.runPromise(Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("qa", predictor)))
    // Warm-up wave, then the same 1,000 executions without faults (the peer).
    await runtime.runPromise(batch(POOL * 2))
    const cleanStart = nowUs()
    const clean = await runtime.runPromise(batch(CONCURRENT))
    const cleanWallS = (nowUs() - cleanStart) / 1e6
    if (clean.some((o) => o._tag !== "ok")) throw new Error(`${NAME}: executions failed without faults`)

    const sim = await runtime.runPromise(TestRuntime.SimControl)
    await runtime.runPromise(sim.setFaults("default", faults))
    const before = await runtime.runPromise(sim.stats("default"))
    const ends: Array<number> = []
    const start = nowUs()
    const outcomes = await runtime.runPromise(batch(CONCURRENT, ends))
    const wallS = (nowUs() - start) / 1e6
    const after = await runtime.runPromise(sim.stats("default"))
    await runtime.dispose()

    const attempts = after.calls - before.calls
    let injected = 0
    for (const [kind, n] of Object.entries(after.faults)) {
      injected += (n ?? 0) - (before.faults[kind as keyof typeof before.faults] ?? 0)
    }
    const succeeded = outcomes.filter((o) => o._tag === "ok").length
    const byTag = new Map<string, number>()
    for (const o of outcomes) if (o._tag === "failed") byTag.set(o.tag, (byTag.get(o.tag) ?? 0) + 1)
    const failed = Array.from(byTag.values()).reduce((a, b) => a + b, 0)
    const lost = CONCURRENT - (succeeded + failed)
    const ideal = (Math.ceil(attempts / POOL) * LATENCY_MS) / 1000

    report({ bench: NAME, metric: "faults_30pct_wall", value: wallS, unit: "s", baseline: ideal, target: "<= 1.1x" })
    report({ bench: NAME, metric: "faults_30pct_wall_vs_no_faults", value: wallS, unit: "s", baseline: cleanWallS })
    report({
      bench: NAME,
      metric: "faults_30pct_throughput",
      value: CONCURRENT / wallS,
      unit: "req/s",
      baseline: CONCURRENT / ideal
    })
    // When the requests ended: the tail after the pool's ideal is the retries' backoff.
    const endS = ends.map((t) => (t - start) / 1e6)
    for (const q of [0.5, 0.9, 0.99]) {
      report({
        bench: NAME,
        metric: `faults_30pct_done_p${Math.round(q * 100)}`,
        value: quantile(endS, q),
        unit: "s",
        baseline: ideal
      })
    }
    report({ bench: NAME, metric: "faults_30pct_lost", value: lost, unit: "requests", target: "= 0" })
    report({ bench: NAME, metric: "faults_30pct_succeeded", value: succeeded, unit: "requests", baseline: CONCURRENT })
    for (const [tag, n] of Array.from(byTag.entries()).sort()) {
      report({ bench: NAME, metric: `faults_30pct_failed_${tag}`, value: n, unit: "requests" })
    }
    report({ bench: NAME, metric: "faults_30pct_attempts", value: attempts, unit: "calls", baseline: CONCURRENT })
    report({
      bench: NAME,
      metric: "faults_30pct_injected",
      value: injected,
      unit: "faults",
      baseline: attempts,
      target: "~0.3x"
    })
  }
}

export default bench
