import { LM, type LMError } from "@effect-dspy/core"
import { SimLM } from "@effect-dspy/sim"
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Process, Registry } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Application, LMProviders, TestRuntime } from "../src/index.js"

const request = { messages: [{ role: "user" as const, content: "What is the capital of France?" }] }

/** Yields until `condition` holds (the config watcher and the actors run on other fibers). */
const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>, what: string): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      if (yield* condition) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.fail(new Error(`never happened: ${what}`))
  })

const statusOf = (name: string) =>
  Effect.flatMap(LMProviders.LMProviders, (p) => Effect.map(p.status, (all) => all.find((s) => s.name === name)!))

const failoverConfig = {
  modules: { defaultLmProvider: "primary" },
  providers: {
    primary: { kind: "simulated", backup: "backup", maxRetries: 0, defaultModel: "sim-1" },
    backup: { kind: "simulated", maxRetries: 0, defaultModel: "sim-2" }
  },
  infrastructure: {
    circuitBreakers: { lm_provider_primary: { failureThreshold: 3, recoveryTimeMs: 10_000 } }
  }
}

describe("LMProviders", () => {
  it.effect("fails over to the backup while the primary's circuit is open, and back when it closes", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      const sim = yield* TestRuntime.SimControl
      yield* sim.setFaults("primary", { rates: { server_error: 1 } })
      const outcomes: Array<string> = []
      for (let i = 0; i < 8; i++) {
        const result = yield* Effect.either(lm.complete(request))
        outcomes.push(result._tag === "Right" ? `ok:${result.right.model}` : result.left._tag)
      }
      // Failures until the breaker opens (typed LM errors, none lost), then the backup answers.
      const firstOk = outcomes.findIndex((o) => o.startsWith("ok"))
      assert.isAtLeast(firstOk, 1)
      assert.isTrue(outcomes.slice(0, firstOk).every((o) => o === "LMServerError"))
      assert.isTrue(outcomes.slice(firstOk).every((o) => o === "ok:sim-2"))
      const failovers = yield* Events.query({ types: ["provider_failover"] })
      assert.strictEqual(failovers.length, 1)
      assert.deepStrictEqual(failovers[0]!.data, { provider: "primary", backup: "backup", reason: "circuit_open" })
      const primary = yield* statusOf("primary")
      assert.strictEqual(primary.circuit, "open")
      assert.isTrue(primary.failedOver)
      const backupCalls = (yield* sim.stats("backup")).calls
      assert.strictEqual(backupCalls, 8 - firstOk)

      // The faults stop; after the recovery time the primary's trial succeeds and traffic returns to it.
      yield* sim.setFaults("primary", TestRuntime.noFaults)
      yield* TestClock.adjust("10 seconds")
      const back = yield* lm.complete(request)
      assert.strictEqual(back.model, "sim-1")
      const recovered = yield* Events.query({ types: ["provider_recovered"] })
      assert.strictEqual(recovered.length, 1)
      assert.strictEqual(recovered[0]!.data.provider, "primary")
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* lm.complete(request)).model, "sim-1")
      assert.strictEqual((yield* sim.stats("backup")).calls, backupCalls)
      const after = yield* statusOf("primary")
      assert.strictEqual(after.circuit, "closed")
      assert.isFalse(after.failedOver)
      assert.strictEqual(after.failovers, 1)
      assert.strictEqual(after.recoveries, 1)
      const transitions = yield* Events.query({ types: ["circuit_breaker_state_changed"] })
      assert.deepStrictEqual(
        transitions.map((e) => `${e.data.from}->${e.data.to}`),
        ["closed->open", "open->half-open", "half-open->closed"]
      )
    }).pipe(Effect.provide(TestRuntime.layer({ config: failoverConfig })))
  )

  it.effect("a call admitted before the circuit opened that succeeds while it is open is not a recovery", () =>
    Effect.gen(function* () {
      const providers = yield* LMProviders.LMProviders
      const sim = yield* TestRuntime.SimControl
      // Two slow calls (a completion and a stream) reach the healthy primary and wait.
      const slow = yield* Effect.fork(providers.complete({ ...request, model: "sim-1" }))
      const slowStream = yield* Effect.fork(Stream.runCollect(providers.stream({ ...request, model: "sim-1" })))
      yield* eventually(
        Effect.map(sim.stats("primary"), (s) => s.calls === 2),
        "both slow calls reached the primary"
      )
      // Meanwhile the primary fails, its circuit opens and the traffic fails over.
      yield* sim.setLatency("primary", TestRuntime.fixedLatency(0))
      yield* sim.setFaults("primary", { rates: { server_error: 1 } })
      for (let i = 0; i < 3; i++) yield* Effect.flip(providers.complete({ ...request, model: "sim-1" }))
      assert.strictEqual((yield* providers.complete({ ...request, model: "sim-1" })).model, "sim-2")
      // The slow calls now succeed on the primary, but its circuit is still open: the traffic stays on the backup.
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(slow)).model, "sim-1")
      assert.isAbove(Chunk.size(yield* Fiber.join(slowStream)), 0)
      const status = yield* statusOf("primary")
      assert.strictEqual(status.circuit, "open")
      assert.isTrue(status.failedOver)
      assert.strictEqual(status.recoveries, 0)
      assert.strictEqual((yield* Events.query({ types: ["provider_recovered"] })).length, 0)
      assert.strictEqual((yield* providers.complete({ ...request, model: "sim-1" })).model, "sim-2")
      assert.strictEqual((yield* statusOf("primary")).failovers, 1)
      assert.strictEqual((yield* Events.query({ types: ["provider_failover"] })).length, 1)
    }).pipe(
      Effect.provide(
        TestRuntime.layer({ config: failoverConfig, sim: { primary: { latency: TestRuntime.fixedLatency(1000) } } })
      )
    )
  )

  it.effect("without a backup an open circuit is a typed LM error", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      const sim = yield* TestRuntime.SimControl
      yield* sim.setFaults("default", { rates: { unavailable: 1 } })
      const errors: Array<LMError.LMError> = []
      for (let i = 0; i < 7; i++) errors.push(yield* Effect.flip(lm.complete(request)))
      const last = errors[errors.length - 1]!
      assert.strictEqual(last._tag, "LMServerError")
      assert.deepStrictEqual(last.context, { code: "CircuitOpen" })
      // Calls rejected by the open circuit never reached the simulated LM.
      assert.strictEqual((yield* sim.stats("default")).calls, 5)
    }).pipe(Effect.provide(TestRuntime.layer({ config: { providers: { default: { maxRetries: 0 } } } })))
  )

  it.effect("bounds concurrency by the pool and re-reads the pool size live from Config", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      const fibers = yield* Effect.forEach(Array.from({ length: 6 }), () => Effect.fork(lm.complete(request)))
      yield* eventually(
        Effect.map(statusOf("default"), (s) => s.pool.inUse === 2 && s.pool.waiting === 4),
        "two calls running, four waiting"
      )
      yield* Config.update("providers.default.poolSize", 4)
      yield* eventually(
        Effect.map(statusOf("default"), (s) => s.pool.size === 4 && s.pool.inUse === 4 && s.pool.waiting === 2),
        "four calls running after the resize"
      )
      yield* TestClock.adjust("200 millis")
      for (const fiber of fibers) yield* Fiber.join(fiber)
      assert.strictEqual((yield* statusOf("default")).calls, 6)
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: { providers: { default: { poolSize: 2 } } },
          sim: { default: { latency: TestRuntime.fixedLatency(100) } }
        })
      )
    )
  )

  it.effect("the application's LM retries as Config says, re-read at each call (count and backoff)", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      const sim = yield* TestRuntime.SimControl
      yield* sim.setFaults("default", { rates: { server_error: 1 } })
      const attempts = Effect.map(sim.stats("default"), (s) => s.calls)
      /** Runs one failing call, moving the clock `step` at a time until it ends; returns how long it took. */
      const failing = (step: Duration.DurationInput) =>
        Effect.gen(function* () {
          const before = yield* attempts
          const started = yield* TestClock.currentTimeMillis
          const fiber = yield* Effect.fork(Effect.either(lm.complete(request)))
          while (fiber.unsafePoll() === null) yield* TestClock.adjust(step)
          const result = yield* Fiber.join(fiber)
          assert.isTrue(result._tag === "Left" && result.left._tag === "LMServerError")
          return { attempts: (yield* attempts) - before, ms: (yield* TestClock.currentTimeMillis) - started }
        })
      // Two retries, 1 s apart at least (base 1,000 ms with jitter 80-120%, doubling).
      const slow = yield* failing("100 millis")
      assert.strictEqual(slow.attempts, 3)
      assert.isAtLeast(slow.ms, 0.8 * (1_000 + 2_000))
      // At run time: one retry after 10 ms.
      yield* Config.update("providers.default.maxRetries", 1)
      yield* Config.update("providers.default.retryBaseDelayMs", 10)
      const fast = yield* failing("1 millis")
      assert.strictEqual(fast.attempts, 2)
      assert.isAtMost(fast.ms, 20)
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: {
            providers: { default: { maxRetries: 2, retryBaseDelayMs: 1_000 } },
            infrastructure: { circuitBreakers: { lm_provider_default: { failureThreshold: 100 } } }
          }
        })
      )
    )
  )

  it.effect("applies rate limits from Config, including ones added and changed at run time", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      // No limiter configured: many calls pass.
      for (let i = 0; i < 5; i++) yield* lm.complete(request)
      yield* Config.update("infrastructure.rateLimiters", { lm_provider_default: { limit: 2, scaleMs: 1000 } })
      yield* eventually(
        Effect.map(statusOf("default"), (s) => s.rateLimit?.limit === 2),
        "the limiter is in force"
      )
      yield* lm.complete(request)
      yield* lm.complete(request)
      const limited = yield* Effect.flip(lm.complete(request))
      assert.strictEqual(limited._tag, "LMRateLimited")
      assert.deepStrictEqual(limited.context, { code: "rate_limited" })
      yield* Config.update("infrastructure.rateLimiters", { lm_provider_default: { limit: 6, scaleMs: 1000 } })
      yield* eventually(
        Effect.map(statusOf("default"), (s) => s.rateLimit?.limit === 6),
        "the raised limit is in force"
      )
      // Half a window refills 3 tokens at 6 per second (it would be 1 at the old limit).
      yield* TestClock.adjust("500 millis")
      for (let i = 0; i < 3; i++) yield* lm.complete(request)
      assert.strictEqual((yield* Effect.flip(lm.complete(request)))._tag, "LMRateLimited")
    }).pipe(Effect.provide(TestRuntime.layer({ config: { providers: { default: { maxRetries: 0 } } } })))
  )

  it.effect("streams through the provider's pool and records tokens and cost per provider", () =>
    Effect.gen(function* () {
      const providers = yield* LMProviders.LMProviders
      const tokensBefore = yield* Metric.value(Metric.tagged(LMProviders.tokens, "provider", "default"))
      const response = yield* providers.complete({ ...request, model: "sim-1" })
      const chunks = yield* Stream.runCollect(providers.stream({ ...request, model: "sim-1" }))
      const text = Chunk.toReadonlyArray(chunks)
        .map((c) => c.delta)
        .join("")
      assert.strictEqual(text, response.choices[0]!.content)
      const status = yield* statusOf("default")
      assert.strictEqual(status.calls, 2)
      assert.isAbove(status.promptTokens, 0)
      assert.isAbove(status.costUsd, 0)
      const tokensAfter = yield* Metric.value(Metric.tagged(LMProviders.tokens, "provider", "default"))
      assert.isAbove(tokensAfter.count, tokensBefore.count)
      const unknown = yield* Effect.flip(providers.complete({ ...request, model: "sim-1" }, { provider: "nope" }))
      assert.strictEqual(unknown._tag, "LMBadRequest")
    }).pipe(Effect.provide(TestRuntime.layer()))
  )

  it.effect("streams fail over too when the circuit is open", () =>
    Effect.gen(function* () {
      const providers = yield* LMProviders.LMProviders
      const sim = yield* TestRuntime.SimControl
      yield* sim.setFaults("primary", { rates: { server_error: 1 } })
      for (let i = 0; i < 3; i++) yield* Effect.flip(providers.complete({ ...request, model: "sim-1" }))
      assert.strictEqual((yield* statusOf("primary")).circuit, "open")
      const chunks = yield* Stream.runCollect(providers.stream({ ...request, model: "sim-1" }))
      assert.isAbove(Chunk.size(chunks), 0)
      assert.strictEqual((yield* sim.stats("backup")).calls, 1)
      assert.strictEqual((yield* Events.query({ types: ["provider_failover"] })).length, 1)
    }).pipe(Effect.provide(TestRuntime.layer({ config: failoverConfig })))
  )

  it.effect("refuses a configuration whose backup or default provider is not a provider", () =>
    Effect.gen(function* () {
      const ghost = yield* Effect.flip(
        Effect.provide(Effect.void, TestRuntime.layer({ config: { providers: { default: { backup: "ghost" } } } }))
      )
      assert.strictEqual(ghost._tag, "ConfigInvalid")
      const missing = yield* Effect.flip(
        Effect.provide(Effect.void, TestRuntime.layer({ config: { modules: { defaultLmProvider: "nobody" } } }))
      )
      assert.include(["ConfigInvalid", "LMConfigError"], missing._tag)
      assert.include(missing.message, "nobody")
    })
  )
})

describe("LMProviders transports", () => {
  it.effect("a restarted provider actor installs a fresh transport and closes the one it replaces", () =>
    Effect.gen(function* () {
      let opened = 0
      let closed = 0
      const factory: LMProviders.ProviderFactory = (name) =>
        Effect.gen(function* () {
          opened++
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              closed++
            })
          )
          return SimLM.make({ name })
        })
      const foundation = Layer.mergeAll(Events.layerTest, Protection.layer, Registry.layerTest).pipe(
        Layer.provideMerge(Config.layerTest())
      )
      const app = Application.layer({ providerFactory: factory }).pipe(Layer.provideMerge(foundation))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(app)
          const lm = Context.get(context, LM.LM)
          yield* lm.complete(request)
          assert.deepStrictEqual([opened, closed], [1, 0])
          const actor = yield* Effect.provide(Registry.lookup(LMProviders.actorName("default")), context)
          yield* Process.kill(actor)
          yield* eventually(
            Effect.sync(() => opened === 2 && closed === 1),
            "the new transport is open and the old one closed"
          )
          yield* lm.complete(request)
        })
      )
      assert.deepStrictEqual([opened, closed], [2, 2])
    })
  )
})
