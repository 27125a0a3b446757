import { Actor, DynamicSupervisor, Process } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { type Bench, collectGarbage, nowUs } from "../Harness.js"

/**
 * Spawning 100,000 supervised actors under one DynamicSupervisor: time and retained heap per actor, against
 * forking the same number of bare fibers parked on an `Effect.async` (the floor: every actor is one fiber),
 * measured in the same run. Time is reported as wall clock and as process CPU time (the machine may be
 * shared; CPU time is the steadier figure).
 */
const Idle = Actor.make({
  name: "idle",
  init: (n: number) => Effect.succeed(n),
  handleCall: (_: "get", n: number) => Effect.succeed(Actor.reply(n, n))
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

const bench: Bench = {
  name: "runtime-spawn",
  description: `spawn ${N} supervised actors under a DynamicSupervisor vs ${N} bare parked fibers`,
  run: async (report) => {
    const figures = await Effect.runPromise(
      Effect.gen(function* () {
        const parked = Effect.async<void>((_resume) => {})
        // warm up both paths
        const warmSup = yield* DynamicSupervisor.spawn({ name: "warm" })
        for (let i = 0; i < 5000; i++) {
          yield* Effect.forkDaemon(parked).pipe(Effect.tap((f) => f.unsafeInterruptAsFork(f.id())))
          yield* DynamicSupervisor.startChild(warmSup, DynamicSupervisor.child(Actor.spawn(Idle, i)))
        }
        yield* Process.stop(warmSup, { timeout: "infinity" })

        const bare = yield* measure(() => Effect.forkDaemon(parked))
        for (const fiber of bare.keep as Array<Fiber.RuntimeFiber<void>>) fiber.unsafeInterruptAsFork(fiber.id())
        bare.keep.length = 0
        yield* Effect.yieldNow()

        const sup = yield* DynamicSupervisor.spawn({ name: "bench" })
        const actors = yield* measure((i) =>
          DynamicSupervisor.startChild(sup, DynamicSupervisor.child(Actor.spawn(Idle, i)))
        )
        const alive = yield* DynamicSupervisor.size(sup)
        const answer = yield* Actor.call(actors.keep[N - 1] as Actor.ActorRef<"get", number>, "get")
        actors.keep.length = 0
        const t2 = nowUs()
        yield* Process.stop(sup, { timeout: "infinity" })
        const stopUs = (nowUs() - t2) / N
        return { bare: bare.sample, actor: actors.sample, alive, answer, stopUs }
      })
    )
    if (figures.alive !== N || figures.answer !== N - 1) {
      throw new Error(`spawn bench: expected ${N} live children, got ${figures.alive}`)
    }
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
  }
}

export default bench
