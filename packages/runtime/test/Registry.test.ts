import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { Actor, Monitor, Process, Registry, RuntimeError } from "../src/index.js"

const Counter = Actor.make({
  name: "counter",
  init: (n: number) => Effect.succeed(n),
  handleCall: (_: "get", n: number) => Effect.succeed(Actor.reply(n, n)),
  handleCast: (by: number, n: number) => Effect.succeed(n + by)
})

const counterName = Registry.name<Actor.ActorRef<"get", number, number>>("counter")

describe("Registry", () => {
  it.scoped("registers unique names; call / cast through a name (via)", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.start(Counter, 1)
      yield* Registry.register(counterName, ref)
      yield* Actor.cast(counterName, 41)
      assert.strictEqual(yield* Actor.call(counterName, "get"), 42)
      assert.deepStrictEqual(yield* Registry.registered, ["counter"])
      const other = yield* Actor.start(Counter, 0)
      const taken = yield* Effect.flip(Registry.register(counterName, other))
      assert.instanceOf(taken, RuntimeError.AlreadyRegistered)
      assert.strictEqual((taken as RuntimeError.AlreadyRegistered).holder, ref.pid.toString())
      assert.strictEqual(taken.code, "already_registered")
    }).pipe(Effect.provide(Registry.layerTest))
  )

  it.scoped("a name disappears when its process exits: lookups never return a dead process", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(Counter, 0)
      yield* Registry.register("c", ref)
      assert.isTrue(Option.isSome(yield* Registry.whereis("c")))
      yield* Process.kill(ref)
      assert.isTrue(Option.isNone(yield* Registry.whereis("c")))
      const error = yield* Effect.flip(Actor.call(counterName, "get"))
      assert.instanceOf(error, RuntimeError.NoProc)
      // and the name can be taken again
      const next = yield* Actor.start(Counter, 7)
      yield* Registry.register("c", next)
      assert.strictEqual((yield* Registry.lookup("c")).pid.id, next.pid.id)
      // registering a dead process is refused
      assert.instanceOf(yield* Effect.flip(Registry.register("dead", ref)), RuntimeError.NoProc)
      // cast to an unknown name still succeeds (OTP cast never fails)
      yield* Actor.cast(Registry.name<Actor.ActorRef<"get", number, number>>("nobody"), 1)
    }).pipe(Effect.provide(Registry.layerTest))
  )

  it.effect("per-test namespaces are isolated and disappear with their scope", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(Counter, 0)
      const scope1 = yield* Scope.make()
      const scope2 = yield* Scope.make()
      const reg1 = yield* Layer.buildWithScope(Registry.layerTest, scope1)
      const reg2 = yield* Layer.buildWithScope(Registry.layerTest, scope2)
      const r1 = Registry.Registry.pipe((tag) => Effect.provide(tag, reg1))
      const r2 = Registry.Registry.pipe((tag) => Effect.provide(tag, reg2))
      const s1 = yield* r1
      const s2 = yield* r2
      assert.notStrictEqual(s1.namespace, s2.namespace)
      yield* s1.register("shared-name", ref)
      yield* s2.register("shared-name", ref) // no clash across namespaces
      assert.include(yield* Registry.namespaces, s1.namespace)
      yield* Scope.close(scope1, Exit.void)
      const namespaces = yield* Registry.namespaces
      assert.notInclude(namespaces, s1.namespace)
      assert.include(namespaces, s2.namespace)
      assert.isTrue(Option.isSome(yield* s2.whereis("shared-name")))
      yield* Scope.close(scope2, Exit.void)
      assert.notInclude(yield* Registry.namespaces, s2.namespace)
      yield* Process.stop(ref)
    })
  )

  it.effect("startNamed registers a started process, and kills it when the name is taken", () =>
    Effect.gen(function* () {
      const first = yield* Registry.startNamed("svc", Actor.spawn(Counter, 0))
      assert.strictEqual((yield* Registry.lookup("svc")).pid.id, first.pid.id)
      let second: Process.Process | undefined
      const error = yield* Effect.flip(
        Registry.startNamed(
          "svc",
          Effect.tap(Actor.spawn(Counter, 0), (p) => {
            second = p
          })
        )
      )
      assert.instanceOf(error, RuntimeError.AlreadyRegistered)
      assert.strictEqual((yield* Process.await(second!))._tag, "Killed")
      yield* Process.stop(first)
    }).pipe(Effect.provide(Registry.layerTest))
  )

  it.effect("the production layer uses the production namespace", () =>
    Effect.gen(function* () {
      const registry = yield* Registry.Registry
      assert.strictEqual(registry.namespace, Registry.productionNamespace)
      assert.isTrue(Option.isNone(yield* registry.whereis("nothing-here")))
    }).pipe(Effect.provide(Registry.layer))
  )
})

describe("Monitor", () => {
  it.effect("delivers exactly one Down with the exit reason", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(Counter, 0)
      const monitor = yield* Monitor.monitor(ref)
      assert.isTrue(Option.isNone(yield* monitor.poll))
      yield* Process.stop(ref)
      const down = yield* monitor.await
      assert.strictEqual(down._tag, "Down")
      assert.strictEqual(down.reason._tag, "Shutdown")
      assert.strictEqual(down.pid.id, ref.pid.id)
      assert.strictEqual(yield* monitor.await, down)
    })
  )

  it.effect("monitoring a dead process delivers NoProc at once", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(Counter, 0)
      yield* Process.kill(ref)
      const monitor = yield* Monitor.monitor(ref)
      assert.strictEqual((yield* monitor.await).reason._tag, "NoProc")
    })
  )

  it.effect("demonitor means no Down is delivered", () =>
    Effect.gen(function* () {
      const ref = yield* Actor.spawn(Counter, 0)
      const monitor = yield* Monitor.monitor(ref)
      yield* monitor.demonitor
      yield* Process.kill(ref)
      assert.isTrue(Option.isNone(yield* monitor.poll))
    })
  )
})
