import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { Actor, DynamicSupervisor, Process } from "../src/index.js"

/** Counts live children (from the end of init to exit) and the highest count seen. */
class Gauge {
  live = 0
  max = 0
  up(): void {
    this.live++
    this.max = Math.max(this.max, this.live)
  }
  down(): void {
    this.live--
  }
}

/** A child whose init takes `turns` scheduler turns (a restart is not instantaneous). */
const Slow = Actor.make({
  name: "slow",
  init: (args: { readonly gauge: Gauge; readonly turns: number }, self: Process.Process) =>
    Effect.gen(function* () {
      for (let i = 0; i < args.turns; i++) yield* Effect.yieldNow()
      args.gauge.up()
      self.unsafeAddExitListener(() => args.gauge.down())
      return 0
    }),
  handleCast: (_: "crash", _n: number) => Effect.dieMessage("crash")
})

type Op = { readonly _tag: "start"; readonly turns: number } | { readonly _tag: "crash"; readonly index: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("start" as const), turns: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ _tag: fc.constant("crash" as const), index: fc.nat(5) })
)

const run = (maxChildren: number, ops: ReadonlyArray<Op>, gaps: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const gauge = new Gauge()
    const sup = yield* DynamicSupervisor.spawn({ maxChildren, maxRestarts: 1000, maxSeconds: 1 })
    const started: Array<Actor.ActorRef<never, never, "crash">> = []
    yield* Effect.forEach(
      ops,
      (o, i) =>
        Effect.gen(function* () {
          for (let t = 0; t < (gaps[i] ?? 0); t++) yield* Effect.yieldNow()
          if (o._tag === "start") {
            const child = yield* Effect.either(
              DynamicSupervisor.startChild(sup, DynamicSupervisor.child(Actor.spawn(Slow, { gauge, turns: o.turns })))
            )
            if (child._tag === "Right") started.push(child.right)
          } else {
            const live = (yield* DynamicSupervisor.whichChildren(sup)).filter((c) => c.process !== undefined)
            const victim = live[o.index % Math.max(1, live.length)]?.process
            if (victim !== undefined) yield* Actor.cast(victim as Actor.ActorRef<never, never, "crash">, "crash")
          }
        }),
      { concurrency: "unbounded", discard: true }
    )
    for (let t = 0; t < 50; t++) yield* Effect.yieldNow()
    const size = yield* DynamicSupervisor.size(sup)
    yield* Process.stop(sup)
    return { max: gauge.max, size }
  })

describe("DynamicSupervisor admission", () => {
  it.effect("maxChildren holds while a crashed child is restarting", () =>
    Effect.gen(function* () {
      const gauge = new Gauge()
      const sup = yield* DynamicSupervisor.spawn({ maxChildren: 2 })
      const spec = DynamicSupervisor.child(Actor.spawn(Slow, { gauge, turns: 3 }))
      const a = yield* DynamicSupervisor.startChild(sup, spec)
      yield* DynamicSupervisor.startChild(sup, spec)
      yield* Actor.cast(a, "crash")
      yield* Process.await(a)
      // The supervisor is restarting `a` (its init takes a few turns): its slot is still taken.
      const third = yield* Effect.either(DynamicSupervisor.startChild(sup, spec))
      for (let t = 0; t < 20; t++) yield* Effect.yieldNow()
      assert.strictEqual(third._tag, "Left")
      assert.isAtMost(gauge.max, 2)
      assert.strictEqual(yield* DynamicSupervisor.size(sup), 2)
      yield* Process.stop(sup)
    })
  )

  it.effect("property: concurrent starts and crashes never run more than maxChildren children", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 }),
          fc.array(op, { minLength: 1, maxLength: 20 }),
          fc.array(fc.nat(4), { maxLength: 20 }),
          async (maxChildren, ops, gaps) => {
            const { max, size } = await Effect.runPromise(run(maxChildren, ops, gaps))
            assert.isAtMost(max, maxChildren)
            assert.isAtMost(size, maxChildren)
          }
        ),
        { numRuns: 150 }
      )
    )
  )
})
