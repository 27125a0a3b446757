import { LM } from "@effect-dspy/core"
import { Actor, Process, Registry } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { Application, ModuleManager, TestRuntime } from "../src/index.js"

const request = { messages: [{ role: "user" as const, content: "What is 2 + 3?" }] }

/** What one isolated runtime sees: its namespace, its actor, its modules. */
const inRuntime = (id: string) =>
  Effect.gen(function* () {
    const registry = yield* Registry.Registry
    const modules = yield* ModuleManager.ModuleManager
    yield* modules.create({ id, kind: "predict", signature: "question -> answer" })
    const actor = yield* Registry.lookup(ModuleManager.actorName)
    const app = yield* Application.Application
    return {
      namespace: registry.namespace,
      actor,
      root: app.root,
      modules: (yield* modules.list).map((m) => m.id)
    }
  }).pipe(Effect.provide(TestRuntime.layer()))

describe("TestRuntime", () => {
  it.effect("gives each runtime its own namespace and services, torn down with its scope", () =>
    Effect.gen(function* () {
      const [a, b] = yield* Effect.all([inRuntime("a"), inRuntime("b")], { concurrency: 2 })
      assert.notStrictEqual(a.namespace, b.namespace)
      assert.notStrictEqual(a.actor.pid.id, b.actor.pid.id)
      assert.deepStrictEqual(a.modules, ["a"])
      assert.deepStrictEqual(b.modules, ["b"])
      // Both were torn down with their scopes: trees stopped, namespaces gone.
      for (const r of [a, b]) {
        assert.isFalse(yield* Process.isAlive(r.actor))
        assert.isFalse(yield* Process.isAlive(r.root))
        assert.notInclude([...(yield* Registry.namespaces)], r.namespace)
      }
    })
  )

  it.effect("controls each simulated provider's faults and latency at run time", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      const sim = yield* TestRuntime.SimControl
      yield* lm.complete(request)
      yield* sim.setFaults("default", { rates: { rate_limit: 1 } })
      const limited = yield* Effect.flip(lm.complete(request))
      assert.strictEqual(limited._tag, "LMRateLimited")
      yield* sim.setFaults("default", TestRuntime.noFaults)
      yield* sim.setLatency("default", TestRuntime.fixedLatency(500))
      const slow = yield* Effect.fork(lm.complete(request))
      yield* TestClock.adjust("499 millis")
      assert.isTrue((yield* Fiber.poll(slow))._tag === "None")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(slow)
      const stats = yield* sim.stats("default")
      assert.strictEqual(stats.calls, 3)
      assert.strictEqual(stats.faults.rate_limit, 1)
      const bad = yield* Effect.flip(sim.setFaults("default", { rates: { server_error: 2 } }))
      assert.strictEqual(bad._tag, "SimConfigError")
    }).pipe(Effect.provide(TestRuntime.layer({ config: { providers: { default: { maxRetries: 0 } } } })))
  )
})

describe("TestRuntime message isolation", () => {
  const Keeper = Actor.make({
    name: "keeper",
    init: () => Effect.succeed<{ readonly items: Array<string> } | undefined>(undefined),
    handleCast: (msg: { readonly items: Array<string> }) => Effect.succeed(msg),
    handleCall: (_: "get", state: { readonly items: Array<string> } | undefined) =>
      Effect.succeed(Actor.reply(state, state))
  })

  it.scoped("actors copy what they are sent: a sender's later change is not seen", () =>
    Effect.gen(function* () {
      const keeper = yield* Actor.start(Keeper, undefined)
      const message = { items: ["a"] }
      yield* Actor.cast(keeper, message)
      message.items.push("changed after sending")
      assert.deepStrictEqual(yield* Actor.call(keeper, "get"), { items: ["a"] })
      // A payload that cannot be copied is refused at send time, never silently shared.
      const refused = yield* Effect.flip(Actor.cast(keeper, { items: [], f: () => 1 } as never))
      assert.strictEqual(refused._tag, "MessageNotIsolatable")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )
})
