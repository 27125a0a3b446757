/**
 * The ModuleManager under the supervised application, with the simulated LM in process.
 *
 * 1. Overhead: one `ModuleManager.execute` of a Predict (per-module breaker and limiter through
 *    `executeProtected`, in-flight tracking for graceful shutdown, the supervised provider's pool and
 *    breaker, failover routing, per-provider telemetry) against a direct `Module.call` of the same predictor
 *    on the LM service over the same simulated LM, both with an event store in context (so both record the
 *    module and LM events). Zero latency, interleaved call by call, p50 per call; target <= 2x.
 * 2. Throughput: 1,000 concurrent executions at 50 ms simulated latency (real clock) through a provider pool
 *    of 16 workers. The pool sets the ideal: ceil(1000 / 16) waves of 50 ms = 3.15 s; target within 1.1x.
 *    Measured in the same run: the same 1,000 calls made directly on an LM whose simulated provider is
 *    bounded to 16 concurrent calls by a FIFO bulkhead (the floor on this machine, CPU contention included).
 *    `concurrent_1000_first_done` (ms from the start until the first execution ends; 50 ms ideally, against the
 *    peer's) shows where most of the gap to the ideal is: the 1,000 requests are admitted (each runs its
 *    module, adapter and LM code up to the pool's queue) in one go on the single thread, and the first wave's
 *    50 ms timers cannot fire until that is done, so the whole batch starts late by about 1,000 x the
 *    per-request admission cost. Later waves follow each other about 51.5 ms apart (timer granularity and the
 *    completions' own work).
 */
import { LM, Module, Predict, Signature } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import { Bulkhead, Events } from "@effect-dspy/foundation"
import { ModuleManager, TestRuntime } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { type Bench, nowUs, quantile } from "../Harness.js"

const ITERATIONS = 10_000
const WARMUP = 2_000
const CONCURRENT = 1_000
const POOL = 16
const LATENCY_MS = 50
const inputs = { question: "What is the capital of France?" }

const time = async (run: () => Promise<unknown>): Promise<number> => {
  const start = nowUs()
  await run()
  return nowUs() - start
}

const bench: Bench = {
  name: "services-module-manager",
  description:
    "ModuleManager.execute overhead vs a direct module call (in-process simulated LM), and 1,000 concurrent executions at 50 ms latency through a pool of 16",
  run: async (report) => {
    const predictor = Predict.make(Signature.make("question -> answer"))

    // 1. Overhead, interleaved.
    const direct = ManagedRuntime.make(
      Layer.merge(
        LM.layerProvider(SimLM.make({}), { model: "sim-1", historySize: 100 }),
        Events.layerMemoryWith({ maxEvents: 10_000 })
      )
    )
    const managed = ManagedRuntime.make(TestRuntime.layer({ config: { events: { maxEvents: 10_000 } } }))
    await managed.runPromise(Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("qa", predictor)))
    const directCall = Module.call(predictor, inputs)
    const managedCall = ModuleManager.execute("qa", inputs)
    const check = await managed.runPromise(managedCall)
    if (check.version !== 1) throw new Error("services bench: unexpected version")
    const samples = { direct: [] as Array<number>, managed: [] as Array<number> }
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      const d = await time(() => direct.runPromise(directCall))
      const m = await time(() => managed.runPromise(managedCall))
      if (i < WARMUP) continue
      samples.direct.push(d)
      samples.managed.push(m)
    }
    await direct.dispose()
    await managed.dispose()
    const directP50 = quantile(samples.direct, 0.5)
    const managedP50 = quantile(samples.managed, 0.5)
    report({ bench: "services-module-manager", metric: "direct_call_p50", value: directP50, unit: "us" })
    report({
      bench: "services-module-manager",
      metric: "execute_p50",
      value: managedP50,
      unit: "us",
      baseline: directP50,
      target: "<= 2x"
    })
    report({
      bench: "services-module-manager",
      metric: "execute_p99",
      value: quantile(samples.managed, 0.99),
      unit: "us",
      baseline: quantile(samples.direct, 0.99)
    })

    // 2. Throughput against the pool's ideal.
    const loaded = ManagedRuntime.make(
      TestRuntime.layer({
        config: { providers: { default: { poolSize: POOL } }, events: { maxEvents: 10_000 } },
        sim: { default: { latency: TestRuntime.fixedLatency(LATENCY_MS) } }
      })
    )
    await loaded.runPromise(Effect.flatMap(ModuleManager.ModuleManager, (m) => m.register("qa", predictor)))
    let firstDone = 0
    const batch = Effect.forEach(
      Array.from({ length: CONCURRENT }),
      () => Effect.tap(ModuleManager.execute("qa", inputs), () => firstDone === 0 && (firstDone = nowUs())),
      { concurrency: "unbounded", discard: true }
    )
    // Warm-up wave (not timed).
    await loaded.runPromise(
      Effect.forEach(Array.from({ length: POOL * 2 }), () => ModuleManager.execute("qa", inputs), {
        concurrency: "unbounded",
        discard: true
      })
    )
    const start = nowUs()
    await loaded.runPromise(batch)
    const wallS = (nowUs() - start) / 1e6
    await loaded.dispose()
    // The peer, in the same conditions: the same predictor called directly on an LM whose simulated provider is
    // bounded to 16 concurrent calls (what the pool does, without the application around it).
    const sim = SimLM.make({ latency: TestRuntime.fixedLatency(LATENCY_MS) })
    // A FIFO bulkhead (Effect's semaphore wakes every waiter on each release: quadratic at 1,000 waiters).
    const bulkhead = await Effect.runPromise(Bulkhead.make("peer", { maxConcurrent: POOL, maxQueued: CONCURRENT }))
    const bounded = {
      ...sim,
      complete: (request: Parameters<typeof sim.complete>[0]) => Effect.orDie(bulkhead.run(sim.complete(request)))
    }
    const peer = ManagedRuntime.make(
      Layer.merge(
        LM.layerProvider(bounded, { model: "sim-1", historySize: 100 }),
        Events.layerMemoryWith({ maxEvents: 10_000 })
      )
    )
    let peerFirstDone = 0
    const peerBatch = Effect.forEach(
      Array.from({ length: CONCURRENT }),
      () => Effect.tap(Module.call(predictor, inputs), () => peerFirstDone === 0 && (peerFirstDone = nowUs())),
      { concurrency: "unbounded", discard: true }
    )
    await peer.runPromise(
      Effect.forEach(Array.from({ length: POOL * 2 }), () => Module.call(predictor, inputs), {
        concurrency: "unbounded",
        discard: true
      })
    )
    const peerStart = nowUs()
    await peer.runPromise(peerBatch)
    const peerWallS = (nowUs() - peerStart) / 1e6
    await peer.dispose()
    const ideal = (Math.ceil(CONCURRENT / POOL) * LATENCY_MS) / 1000
    report({
      bench: "services-module-manager",
      metric: "concurrent_1000_wall",
      value: wallS,
      unit: "s",
      baseline: ideal,
      target: "<= 1.1x"
    })
    report({
      bench: "services-module-manager",
      metric: "concurrent_1000_wall_vs_direct",
      value: wallS,
      unit: "s",
      baseline: peerWallS
    })
    report({
      bench: "services-module-manager",
      metric: "concurrent_1000_first_done",
      value: (firstDone - start) / 1000,
      unit: "ms",
      baseline: (peerFirstDone - peerStart) / 1000
    })
    report({
      bench: "services-module-manager",
      metric: "concurrent_1000_throughput",
      value: CONCURRENT / wallS,
      unit: "req/s",
      baseline: CONCURRENT / ideal
    })
  }
}

export default bench
