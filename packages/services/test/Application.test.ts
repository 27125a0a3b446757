import { LM, Module, Predict, Signature } from "@effect-dspy/core"
import { Config, Events } from "@effect-dspy/foundation"
import { Actor, DynamicSupervisor, Process, Registry, type Supervisor } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Application, LMProviders, ModuleManager, TestRuntime } from "../src/index.js"

const question = { question: "What is the capital of France?" }

const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>, what: string): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      if (yield* condition) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.fail(new Error(`never happened: ${what}`))
  })

const node = (tree: Supervisor.Tree, id: string): Supervisor.Tree | undefined => {
  if (tree.id === id) return tree
  for (const child of tree.children) {
    const found = node(child, id)
    if (found !== undefined) return found
  }
  return undefined
}

const twoProviders = {
  modules: { defaultLmProvider: "primary" },
  providers: { primary: { backup: "backup" }, backup: {} }
}

describe("Application", () => {
  it.effect("starts the supervision tree and renders it", () =>
    Effect.gen(function* () {
      const app = yield* Application.Application
      const tree = yield* app.describe
      assert.strictEqual(tree.id, "dspy")
      assert.deepStrictEqual(
        tree.children.map((c) => c.id),
        [
          "foundation",
          "module_manager",
          "lm_providers",
          "optimization_workers",
          "optimization_coordinator",
          "optimization_loop"
        ]
      )
      assert.deepStrictEqual(
        node(tree, "lm_providers")!.children.map((c) => c.id),
        // The schema's implicit `default` provider is not there: another one is the default and none backs up to it.
        ["provider:primary", "provider:backup"]
      )
      assert.isTrue(tree.children.every((c) => c.status === "running"))
      const text = yield* Application.render
      assert.include(text, "dspy (supervisor)")
      assert.include(text, "  module_manager (worker)")
      assert.include(text, "    provider:backup (worker)")
      // The optimization workers' supervisor is there, empty, ready for the OptimizationCoordinator.
      const status = yield* app.status
      assert.deepStrictEqual(
        status.providers.map((p) => [p.name, p.backup, p.circuit]),
        [
          ["primary", "backup", "closed"],
          ["backup", undefined, "closed"]
        ]
      )
      assert.deepStrictEqual(status.inFlight, { modules: 0, lm: 0 })
      assert.deepStrictEqual(status.modules, [])
      const workers = yield* app.optimizationWorkers
      assert.strictEqual(yield* DynamicSupervisor.size(workers), 0)
      // Actors are registered in the runtime's own registry namespace.
      const names = yield* Registry.registered
      assert.includeMembers(
        [...names],
        [ModuleManager.actorName, LMProviders.actorName("primary"), LMProviders.watcherName]
      )
    }).pipe(Effect.provide(TestRuntime.layer({ config: twoProviders })))
  )

  it.effect("with a CacheManager in context: a cache_manager child, and the LM caches through it", () =>
    Effect.gen(function* () {
      const app = yield* Application.Application
      const tree = yield* app.describe
      assert.deepStrictEqual(
        tree.children.map((c) => c.id),
        [
          "foundation",
          "module_manager",
          "cache_manager",
          "lm_providers",
          "optimization_workers",
          "optimization_coordinator",
          "optimization_loop"
        ]
      )
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* modules.execute("qa", question)
      const before = yield* Registry.lookup(Application.cacheManagerName)
      yield* Process.kill(before)
      yield* modules.execute("qa", question)
      const usage = yield* (yield* LM.LM).usage
      assert.strictEqual(usage.calls, 2)
      assert.strictEqual(usage.cacheHits, 1)
      yield* eventually(
        Effect.map(
          Registry.whereis(Application.cacheManagerName),
          (p) => p._tag === "Some" && p.value.pid.id !== before.pid.id
        ),
        "the cache actor is restarted"
      )
      const after = yield* Registry.lookup<Actor.ActorRef<{ readonly _tag: "Stats" }, { readonly hits: number }>>(
        Application.cacheManagerName
      )
      const stats = yield* Actor.call(after, { _tag: "Stats" })
      assert.strictEqual(stats.hits, 1)
    }).pipe(Effect.provide(TestRuntime.layer({ cache: true })))
  )

  it.effect(
    "killing the ModuleManager actor loses nothing: restarted, modules and versions kept, executions go on",
    () =>
      Effect.gen(function* () {
        const app = yield* Application.Application
        const modules = yield* ModuleManager.ModuleManager
        yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer", instructions: "v1" })
        yield* modules.swap("qa", { instructions: { self: "v2" } })
        const before = yield* Registry.lookup(ModuleManager.actorName)
        yield* Process.kill(before)
        // Executions do not go through the actor: they answer while it is down.
        const during = yield* modules.execute("qa", question)
        assert.strictEqual(during.version, 2)
        yield* eventually(
          Effect.map(
            Registry.whereis(ModuleManager.actorName),
            (p) => p._tag === "Some" && p.value.pid.id !== before.pid.id
          ),
          "the ModuleManager is restarted"
        )
        assert.strictEqual(node(yield* app.describe, "module_manager")!.restarts, 1)
        assert.deepStrictEqual(
          (yield* modules.history("qa")).map((v) => v.version),
          [1, 2]
        )
        // Mutations work with the new actor.
        const swapped = yield* modules.swap("qa", { instructions: { self: "v3" } })
        assert.strictEqual(swapped.version, 3)
        yield* modules.create({ id: "second", kind: "chain_of_thought", signature: "question -> answer" })
        assert.strictEqual((yield* modules.execute("second", question)).version, 1)
      }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("killing a provider actor: restarted with a fresh transport, calls keep being answered", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      const providers = yield* LMProviders.LMProviders
      const generation = () => Effect.map(providers.status, (all) => all.find((s) => s.name === "primary")!.generation)
      assert.strictEqual(yield* generation(), 1)
      const before = yield* Registry.lookup(LMProviders.actorName("primary"))
      yield* Process.kill(before)
      yield* lm.complete({ messages: [{ role: "user", content: "still there?" }] })
      yield* eventually(
        Effect.map(generation(), (g) => g === 2),
        "the provider actor is restarted"
      )
      yield* lm.complete({ messages: [{ role: "user", content: "and now?" }] })
      const app = yield* Application.Application
      assert.strictEqual(node(yield* app.describe, "provider:primary")!.restarts, 1)
    }).pipe(Effect.provide(TestRuntime.layer({ config: twoProviders })))
  )

  it.effect("past the providers' intensity the failure escalates: the root restarts the provider supervisor", () =>
    Effect.gen(function* () {
      const app = yield* Application.Application
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      const providersSupervisor = node(yield* app.describe, "lm_providers")!.pid
      for (let i = 0; i < 2; i++) {
        const ref = yield* Registry.lookup(LMProviders.actorName("primary"))
        yield* Process.kill(ref)
        yield* eventually(
          Effect.map(
            Registry.whereis(LMProviders.actorName("primary")),
            (p) => p._tag === "Some" && p.value.pid.id !== ref.pid.id
          ),
          "the provider is back"
        )
      }
      // The second restart within the window was one too many for lm_providers (maxRestarts 1): it gave up,
      // and the root restarted it (and so its children) as a new process.
      const tree = yield* app.describe
      const providersNode = node(tree, "lm_providers")!
      assert.strictEqual(providersNode.restarts, 1)
      assert.notStrictEqual(providersNode.pid, providersSupervisor)
      assert.strictEqual(providersNode.status, "running")
      assert.strictEqual(node(tree, "dspy")!.status, "running")
      assert.strictEqual((yield* modules.execute("qa", question)).version, 1)
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: twoProviders,
          application: { providersIntensity: { maxRestarts: 1, maxSeconds: 5 } }
        })
      )
    )
  )

  it.effect("past the root's intensity the root gives up and exits; executions still answer, changes fail typed", () =>
    Effect.gen(function* () {
      const app = yield* Application.Application
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
      yield* Process.kill(yield* Registry.lookup(ModuleManager.actorName))
      const reason = yield* Process.await(app.root)
      assert.strictEqual(reason._tag, "Shutdown")
      assert.strictEqual((yield* app.describe).status, "dead")
      assert.strictEqual((yield* modules.execute("qa", question)).version, 1)
      const change = yield* Effect.flip(modules.swap("qa", { instructions: { self: "x" } }))
      assert.strictEqual(change._tag, "ModuleManagerUnavailable")
    }).pipe(Effect.provide(TestRuntime.layer({ application: { rootIntensity: { maxRestarts: 0, maxSeconds: 5 } } })))
  )

  it.effect("shutdown drains in-flight executions within the grace period; the rest end with typed errors", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        TestRuntime.layer({ application: { shutdownGracePeriod: "1 second" } }),
        scope
      )
      const modules = Effect.provide(ModuleManager.ModuleManager, context)
      const manager = yield* modules
      // A program that waits `delay` ms, then asks the LM.
      const slow = Module.make({
        name: "Slow",
        parameters: { answer: Predict.make(Signature.make("question -> answer")) },
        forward: (p, inputs: { question: string; delay: number }) =>
          Effect.zipRight(Effect.sleep(inputs.delay), p.answer({ question: inputs.question }))
      })
      yield* manager.register("slow", slow)
      const delays = [100, 400, 900, 1500, 5000]
      const calls = yield* Effect.forEach(delays, (delay) =>
        Effect.fork(Effect.either(manager.execute("slow", { ...question, delay })))
      )
      yield* TestClock.adjust("50 millis")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* eventually(
        Effect.map(Effect.provide(Events.query({ types: ["application_stopping"] }), context), (e) => e.length === 1),
        "the shutdown begins"
      )
      const refused = yield* Effect.flip(manager.execute("slow", { ...question, delay: 1 }))
      assert.strictEqual(refused._tag, "ApplicationStopping")
      // Time passes in small steps so that every timer set along the way (the grace period's) is reached.
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("100 millis")
      yield* Fiber.join(closing)
      const outcomes = yield* Effect.forEach(calls, Fiber.join)
      const tags = outcomes.map((o) => (o._tag === "Right" ? "ok" : o.left._tag))
      assert.deepStrictEqual(tags, ["ok", "ok", "ok", "ExecutionAborted", "ExecutionAborted"])
      // Every request ended in a result or a typed error: 5 tracked plus the refused one.
      assert.strictEqual(tags.length + 1, delays.length + 1)
      const events = yield* Effect.provide(
        Events.query({ types: ["application_stopping", "application_stopped"] }),
        context
      )
      assert.strictEqual(events.length, 2)
      assert.strictEqual(events[0]!.data.modules_in_flight, 5)
      assert.deepStrictEqual(events[1]!.data.modules, { drained: 3, aborted: 2 })
      // The tree is stopped.
      const app = yield* Effect.provide(Application.Application, context)
      assert.strictEqual((yield* app.describe).status, "dead")
    })
  )

  it.effect("a closed application leaves no fiber running (nothing keeps it reachable)", () =>
    Effect.gen(function* () {
      const before = (yield* Fiber.roots).length
      for (let i = 0; i < 3; i++) {
        yield* Effect.scoped(Layer.build(TestRuntime.layer()))
      }
      // (the config watcher's watch, forked from its uninterruptible init, could not be interrupted and stayed)
      assert.strictEqual((yield* Fiber.roots).length, before)
    })
  )
})

describe("Application shutdown of LM calls made outside modules", () => {
  it.effect("drains them after the modules, then ends the rest with a typed LM error", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        TestRuntime.layer({
          application: { shutdownGracePeriod: "1 second" },
          config: { providers: { default: { maxRetries: 0 } } },
          sim: { default: { latency: TestRuntime.fixedLatency(3000) } }
        }),
        scope
      )
      const lm = yield* Effect.provide(LM.LM, context)
      const call = yield* Effect.fork(Effect.either(lm.complete({ messages: [{ role: "user", content: "slow" }] })))
      yield* TestClock.adjust("10 millis")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* eventually(
        Effect.map(Effect.provide(Events.query({ types: ["application_stopping"] }), context), (e) => e.length === 1),
        "the shutdown begins"
      )
      const refused = yield* Effect.flip(lm.complete({ messages: [{ role: "user", content: "late" }] }))
      assert.strictEqual(refused._tag, "LMServerError")
      assert.deepStrictEqual(refused.context, { code: "ApplicationStopping" })
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("100 millis")
      yield* Fiber.join(closing)
      const outcome = yield* Fiber.join(call)
      assert.isTrue(outcome._tag === "Left")
      if (outcome._tag === "Left") {
        assert.strictEqual(outcome.left._tag, "LMServerError")
        assert.deepStrictEqual(outcome.left.context, { code: "ExecutionAborted" })
      }
      const stopped = yield* Effect.provide(Events.query({ types: ["application_stopped"] }), context)
      assert.deepStrictEqual(stopped[0]!.data.lm, { drained: 0, aborted: 1 })
    })
  )
})

describe("Application wiring", () => {
  it.effect("killing the config watcher: restarted, and configuration changes still reach the providers", () =>
    Effect.gen(function* () {
      const providers = yield* LMProviders.LMProviders
      const before = yield* Registry.lookup(LMProviders.watcherName)
      yield* Process.kill(before)
      yield* eventually(
        Effect.map(
          Registry.whereis(LMProviders.watcherName),
          (p) => p._tag === "Some" && p.value.pid.id !== before.pid.id
        ),
        "the watcher is restarted"
      )
      yield* Config.update("providers.default.poolSize", 7)
      yield* eventually(
        Effect.map(providers.status, (all) => all[0]!.pool.size === 7),
        "the new pool size is applied"
      )
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("layerDefault runs on the configured providers (the simulated LM by default)", () =>
    Effect.gen(function* () {
      const modules = yield* ModuleManager.ModuleManager
      yield* modules.create({ id: "default-qa", kind: "chain_of_thought", signature: "question -> answer" })
      const result = yield* modules.execute("default-qa", question)
      assert.strictEqual(result.version, 1)
      const lm = yield* LM.LM
      assert.strictEqual(lm.provider, "default")
      assert.strictEqual((yield* lm.usage).calls, 1)
    }).pipe(Effect.provide(Application.layerDefault({ config: { env: false } })))
  )
})
