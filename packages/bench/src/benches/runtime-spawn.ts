import * as Runtime from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { type Bench, collectGarbage, nowUs } from "../Harness.js"
import { loadPreChange, preChangeRef, type RuntimeModule } from "./runtime/prechange.js"

/**
 * Spawning 100,000 supervised actors under one DynamicSupervisor: time and retained heap per actor, against
 * forking the same number of bare fibers parked on an `Effect.async` (the floor: every actor is one fiber),
 * measured in the same run, and against the pre-change runtime (see `runtime/prechange.ts`; two alternate
 * rounds each, the better kept). Time is reported as wall clock and as process CPU time (the machine may be
 * shared; CPU time is the steadier figure).
 */
const idle = (rt: RuntimeModule) =>
  rt.Actor.make({
    name: "idle",
    init: (n: number) => Effect.succeed(n),
    handleCall: (_: "get", n: number) => Effect.succeed(rt.Actor.reply(n, n))
  })

const N = 100_000

const heap = (): number => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

const cpuUs = (): number => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

interface Sample {
  readonly wallUs: number
  readonly cpuUs: number
  readonly bytes: number
}

const measure = <E>(spawnOne: (i: number) => Effect.Effect<unknown, E>) =>
  Effect.gen(function* () {
    const keep: Array<unknown> = new Array(N)
    const h0 = heap()
    const c0 = cpuUs()
    const t0 = nowUs()
    for (let i = 0; i < N; i++) keep[i] = yield* spawnOne(i)
    yield* Effect.yieldNow() // let every new fiber run to its first suspension
    const wall = nowUs() - t0
    const cpu = cpuUs() - c0
    const bytes = heap() - h0
    return { sample: { wallUs: wall / N, cpuUs: cpu / N, bytes: bytes / N } satisfies Sample, keep }
  })

/** Spawns N actors under a fresh DynamicSupervisor of runtime `rt`, checks them, stops them. */
const spawnActors = (rt: RuntimeModule) =>
  Effect.gen(function* () {
    const def = idle(rt)
    const sup = yield* rt.DynamicSupervisor.spawn({ name: "bench" })
    const actors = yield* measure((i) =>
      rt.DynamicSupervisor.startChild(sup, rt.DynamicSupervisor.child(rt.Actor.spawn(def, i)))
    )
    const alive = yield* rt.DynamicSupervisor.size(sup)
    const answer = yield* rt.Actor.call(actors.keep[N - 1] as Runtime.Actor.ActorRef<"get", number>, "get")
    actors.keep.length = 0
    const t2 = nowUs()
    yield* rt.Process.stop(sup, { timeout: "infinity" })
    const stopUs = (nowUs() - t2) / N
    if (alive !== N || answer !== N - 1) throw new Error(`spawn bench: expected ${N} live children, got ${alive}`)
    return { sample: actors.sample, stopUs }
  })

const better = (a: Sample, b: Sample): Sample => ({
  wallUs: Math.min(a.wallUs, b.wallUs),
  cpuUs: Math.min(a.cpuUs, b.cpuUs),
  bytes: Math.min(a.bytes, b.bytes)
})

const warm = (rt: RuntimeModule, parked: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const def = idle(rt)
    const warmSup = yield* rt.DynamicSupervisor.spawn({ name: "warm" })
    for (let i = 0; i < 5000; i++) {
      yield* Effect.forkDaemon(parked).pipe(Effect.tap((f) => f.unsafeInterruptAsFork(f.id())))
      yield* rt.DynamicSupervisor.startChild(warmSup, rt.DynamicSupervisor.child(rt.Actor.spawn(def, i)))
    }
    yield* rt.Process.stop(warmSup, { timeout: "infinity" })
  })

const bench: Bench = {
  name: "runtime-spawn",
  description: `spawn ${N} supervised actors under a DynamicSupervisor vs ${N} bare parked fibers and the pre-change runtime`,
  run: async (report) => {
    const pre = await loadPreChange()
    const figures = await Effect.runPromise(
      Effect.gen(function* () {
        const parked = Effect.async<void>((_resume) => {})
        yield* warm(pre.runtime, parked)
        yield* warm(Runtime, parked)

        const bare = yield* measure(() => Effect.forkDaemon(parked))
        for (const fiber of bare.keep as Array<Fiber.RuntimeFiber<void>>) fiber.unsafeInterruptAsFork(fiber.id())
        bare.keep.length = 0
        yield* Effect.yieldNow()

        let old: { sample: Sample; stopUs: number } | undefined
        let current: { sample: Sample; stopUs: number } | undefined
        for (let round = 0; round < 2; round++) {
          const o = yield* spawnActors(pre.runtime)
          old = old === undefined ? o : { sample: better(old.sample, o.sample), stopUs: Math.min(old.stopUs, o.stopUs) }
          const c = yield* spawnActors(Runtime)
          current =
            current === undefined
              ? c
              : { sample: better(current.sample, c.sample), stopUs: Math.min(current.stopUs, c.stopUs) }
        }
        return {
          bare: bare.sample,
          actor: current!.sample,
          old: old!.sample,
          stopUs: current!.stopUs,
          oldStopUs: old!.stopUs
        }
      })
    ).finally(pre.dispose)
    report({
      bench: "runtime-spawn",
      metric: "spawn_cpu_time_per_actor",
      value: figures.actor.cpuUs,
      unit: "us",
      baseline: figures.bare.cpuUs,
      target: "<= 10 us"
    })
    report({
      bench: "runtime-spawn",
      metric: "spawn_wall_time_per_actor",
      value: figures.actor.wallUs,
      unit: "us",
      baseline: figures.bare.wallUs,
      target: "<= 10 us"
    })
    report({
      bench: "runtime-spawn",
      metric: "heap_per_actor",
      value: figures.actor.bytes,
      unit: "bytes",
      baseline: figures.bare.bytes,
      target: "<= 3072 bytes (Erlang process ~2.6 KB)"
    })
    report({ bench: "runtime-spawn", metric: "shutdown_wall_time_per_actor", value: figures.stopUs, unit: "us" })
    const vs = `vs_prechange_${preChangeRef}`
    const within = "<= 1.11x (>= 0.9x the pre-change figure)"
    report({
      bench: "runtime-spawn",
      metric: `spawn_cpu_time_per_actor_${vs}`,
      value: figures.actor.cpuUs,
      unit: "us",
      baseline: figures.old.cpuUs,
      target: within
    })
    report({
      bench: "runtime-spawn",
      metric: `spawn_wall_time_per_actor_${vs}`,
      value: figures.actor.wallUs,
      unit: "us",
      baseline: figures.old.wallUs,
      target: within
    })
    report({
      bench: "runtime-spawn",
      metric: `heap_per_actor_${vs}`,
      value: figures.actor.bytes,
      unit: "bytes",
      baseline: figures.old.bytes,
      target: within
    })
    report({
      bench: "runtime-spawn",
      metric: `shutdown_wall_time_per_actor_${vs}`,
      value: figures.stopUs,
      unit: "us",
      baseline: figures.oldStopUs,
      target: null
    })
  }
}

export default bench
