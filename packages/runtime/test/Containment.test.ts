import { Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Actor, Monitor, Process, Registry, Supervisor, RuntimeEvents } from "../src/index.js"
import { eventsOf } from "./helpers.js"

/** An actor whose handler (cast "block") or terminate cannot be interrupted until `gate` opens. */
const Stuck = Actor.make({
  name: "stuck",
  init: (gate: Deferred.Deferred<void>) => Effect.succeed(gate),
  handleCall: (_: "ping", gate: Deferred.Deferred<void>) => Effect.succeed(Actor.reply("pong", gate)),
  handleCast: (_: "block", gate: Deferred.Deferred<void>) =>
    Effect.as(Effect.uninterruptible(Deferred.await(gate)), gate),
  terminate: (_reason, gate) => Effect.uninterruptible(Deferred.await(gate))
})

const provide = Effect.provide([Events.layerMemory, Registry.layerTest])

describe("containment of processes that cannot be interrupted", () => {
  it.effect(
    "a supervisor stops past a child stuck in an uninterruptible handler after the child's shutdown timeout",
    () =>
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const sup = yield* Supervisor.spawn({
          children: [
            Supervisor.worker("stuck", Registry.startNamed("stuck", Actor.spawn(Stuck, gate)), { shutdown: "1 second" })
          ]
        })
        const child = (yield* Supervisor.whichChildren(sup))[0]!.process as Actor.ActorRef<"ping", string, "block">
        assert.strictEqual(yield* Actor.call(child, "ping"), "pong")
        const monitor = yield* Monitor.monitor(child)
        yield* Actor.cast(child, "block")
        const stopping = yield* Effect.fork(Process.stop(sup))
        yield* TestClock.adjust("1 second")
        const reason = yield* Fiber.join(stopping)
        assert.strictEqual(reason._tag, "Shutdown")
        assert.strictEqual((yield* monitor.await).reason._tag, "Killed")
        assert.isTrue(Option.isNone(yield* Registry.whereis("stuck")))
        const detached = yield* eventsOf(RuntimeEvents.ProcessDetached.type)
        assert.strictEqual(detached.length, 1)
        assert.strictEqual(detached[0]!.data.pid, child.pid.toString())
        assert.strictEqual(detached[0]!.data.label, "stuck")
        assert.isTrue(Either.isRight(Events.decode(RuntimeEvents.ProcessDetached, detached[0]!)))
        yield* Deferred.succeed(gate, undefined)
      }).pipe(provide)
  )

  it.effect("a stop past the timeout detaches an actor whose terminate never returns", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.spawn(Stuck, gate)
      const stopping = yield* Effect.fork(Process.stop(ref, { timeout: "2 seconds" }))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(stopping))._tag, "Killed")
      assert.isFalse(yield* Process.isAlive(ref))
      assert.strictEqual((yield* eventsOf(RuntimeEvents.ProcessDetached.type)).length, 1)
      yield* Deferred.succeed(gate, undefined)
    }).pipe(provide)
  )

  it.effect("kill does not wait for an uninterruptible region: the process is dead and its calls fail", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const ref = yield* Actor.spawn(Stuck, gate)
      yield* Actor.cast(ref, "block")
      yield* Effect.yieldNow() // the actor enters its uninterruptible handler
      const pending = yield* Effect.fork(Effect.flip(Actor.call(ref, "ping", "infinity")))
      assert.strictEqual((yield* Process.kill(ref))._tag, "Killed")
      assert.strictEqual((yield* Fiber.join(pending))._tag, "NoProc")
      yield* Deferred.succeed(gate, undefined)
    }).pipe(provide)
  )

  it.effect("closing the scope of Supervisor.start returns although a child never finishes its terminate", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const sup = yield* Supervisor.start({
        children: [Supervisor.worker("stuck", Actor.spawn(Stuck, gate), { shutdown: "500 millis" })]
      }).pipe(Scope.extend(scope))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(closing)
      assert.isFalse(yield* Process.isAlive(sup))
      yield* Deferred.succeed(gate, undefined)
    }).pipe(provide)
  )
})
