/**
 * `executeProtected` overhead: a breaker plus a rate limiter (looked up by name in the Protection service)
 * around a bare effect, against the bare effect alone. Everything runs inside one Effect run; each sample
 * times a batch of calls and divides, so the timer's own cost does not dominate. Samples of the bare and the
 * protected loops are interleaved, so drift on a shared machine hits both alike.
 */
import { Config, Protection } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Bench, nowUs, quantile } from "../Harness.js"

const batch = 1_000
const samples = 300

/** Runs `effect` `n` times in a tight loop. */
const loop = <A, E, R>(effect: Effect.Effect<A, E, R>, n: number): Effect.Effect<void, E, R> => {
  let i = 0
  return Effect.whileLoop({
    while: () => i < n,
    body: () => effect,
    step: () => {
      i++
    }
  })
}

/** Per-call time in microseconds of each batch. */
const timeBatch = <E, R>(effect: Effect.Effect<unknown, E, R>): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const start = nowUs()
    return Effect.map(loop(effect, batch), () => (nowUs() - start) / batch)
  })

const infrastructure = {
  circuitBreakers: { bench: { failureThreshold: 5, windowMs: 60_000 } },
  rateLimiters: { bench: { limit: 1_000_000_000, scaleMs: 1_000 } },
  bulkheads: { bench: { maxConcurrent: 64 } }
}

const bench: Bench = {
  name: "protection",
  description: "executeProtected (breaker + rate limiter) overhead per call versus the bare effect",
  run: async (report) => {
    const program = Effect.gen(function* () {
      const protection = yield* Protection.Protection
      const bare = Effect.succeed(1)
      const guarded = protection.executeProtected("bench", { breaker: "bench", limiter: "bench" }, bare)
      const full = protection.executeProtected(
        "bench",
        { limiter: "bench", breaker: "bench", bulkhead: "bench", timeout: "1 second" },
        bare
      )
      const results: Record<"bare" | "guarded" | "full", Array<number>> = { bare: [], guarded: [], full: [] }
      // Warm-up: let the JIT settle on both paths.
      yield* loop(bare, 20 * batch)
      yield* loop(guarded, 20 * batch)
      for (let s = 0; s < samples; s++) {
        results.bare.push(yield* timeBatch(bare))
        results.guarded.push(yield* timeBatch(guarded))
      }
      // The full stack arms a timer per call (the timeout): measured apart, so its timers and garbage do not
      // weigh on the figures above.
      yield* loop(full, 5 * batch)
      for (let s = 0; s < samples / 3; s++) results.full.push(yield* timeBatch(full))
      return results
    })
    const layer = Layer.provideMerge(Protection.layer, Config.layerTest({ infrastructure }))
    const results = await Effect.runPromise(Effect.scoped(Effect.provide(program, layer)))
    const bare = quantile(results.bare, 0.5)
    const guarded = quantile(results.guarded, 0.5)
    const full = quantile(results.full, 0.5)
    report({ bench: "protection", metric: "bare_effect_p50", value: bare, unit: "us/call" })
    report({
      bench: "protection",
      metric: "breaker_limiter_p50",
      value: guarded,
      unit: "us/call",
      baseline: bare
    })
    report({
      bench: "protection",
      metric: "breaker_limiter_overhead_p50",
      value: guarded - bare,
      unit: "us/call",
      baseline: bare,
      target: "<= 2 us"
    })
    report({
      bench: "protection",
      metric: "limiter_breaker_bulkhead_timeout_overhead_p50",
      value: full - bare,
      unit: "us/call",
      baseline: bare
    })
  }
}

export default bench
