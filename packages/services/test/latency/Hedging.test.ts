import { LM } from "@effect-dspy/core"
import { Config, Events, Protection } from "@effect-dspy/foundation"
import { Registry } from "@effect-dspy/runtime"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Application, LMProviders, ServicesEvents, TestRuntime } from "../../src/index.js"

const request = { messages: [{ role: "user" as const, content: "What is the capital of France?" }] }

const statusOf = (name: string) =>
  Effect.flatMap(LMProviders.LMProviders, (p) => Effect.map(p.status, (all) => all.find((s) => s.name === name)!))

/** A call forked and driven by the test clock: `ms` of latency pass, then its outcome. */
const callFor = (ms: number) =>
  Effect.gen(function* () {
    const lm = yield* LM.LM
    const fiber = yield* Effect.fork(lm.complete(request))
    yield* TestClock.adjust(`${ms} millis`)
    return yield* Fiber.join(fiber)
  })

const hedgedConfig = (enabled: boolean) => ({
  modules: { defaultLmProvider: "primary", cacheEnabled: false },
  providers: {
    primary: { kind: "simulated", backup: "backup", maxRetries: 0, defaultModel: "sim-1" },
    backup: { kind: "simulated", maxRetries: 0, defaultModel: "sim-2" }
  },
  latency: { minSamples: 5, floorMs: 1, hedging: { enabled, quantile: 0.95, multiplier: 2 } }
})

describe("hedged requests (latency.hedging)", () => {
  it.effect(
    "past the adaptive deadline the backup gets the request, answers first, and the primary is interrupted",
    () =>
      Effect.gen(function* () {
        const sim = yield* TestRuntime.SimControl
        yield* sim.setLatency("primary", TestRuntime.fixedLatency(100))
        yield* sim.setLatency("backup", TestRuntime.fixedLatency(50))
        // Below minSamples there is no deadline: nothing is hedged.
        for (let i = 0; i < 5; i++) assert.strictEqual((yield* callFor(100)).model, "sim-1")
        assert.strictEqual((yield* statusOf("primary")).hedges, 0)
        const providers = yield* LMProviders.LMProviders
        assert.strictEqual(providers.latency.samples("primary"), 5)
        assert.strictEqual(providers.latency.deadline("primary", { quantile: 0.95, multiplier: 2 }), 200)

        // The primary turns slow: at 200 ms the backup is asked, and answers 50 ms later.
        yield* sim.setLatency("primary", TestRuntime.fixedLatency(10_000))
        const lm = yield* LM.LM
        const fiber = yield* Effect.fork(lm.complete(request))
        yield* TestClock.adjust("199 millis")
        assert.strictEqual((yield* statusOf("primary")).hedges, 0)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* statusOf("primary")).hedges, 1)
        yield* TestClock.adjust("50 millis")
        const response = yield* Fiber.join(fiber)
        assert.strictEqual(response.model, "sim-2")
        // The primary was interrupted: past its 10 s it never completes a call.
        yield* TestClock.adjust("20 seconds")
        const primary = yield* statusOf("primary")
        assert.strictEqual(primary.calls, 5)
        assert.strictEqual(primary.hedgeWins, 1)
        assert.strictEqual((yield* statusOf("backup")).calls, 1)
        const [hedged] = yield* Events.queryOf(ServicesEvents.ProviderHedged)
        assert.deepStrictEqual(hedged!.data, { provider: "primary", backup: "backup", deadline_ms: 200 })
        const [settled] = yield* Events.queryOf(ServicesEvents.ProviderHedgeSettled)
        assert.strictEqual(settled!.data.winner, "backup")
      }).pipe(Effect.provide(TestRuntime.layer({ config: hedgedConfig(true) })))
  )

  it.effect("a primary answering before the deadline wins and the backup is never asked; off means no hedge", () =>
    Effect.gen(function* () {
      const sim = yield* TestRuntime.SimControl
      yield* sim.setLatency("primary", TestRuntime.fixedLatency(100))
      for (let i = 0; i < 6; i++) assert.strictEqual((yield* callFor(100)).model, "sim-1")
      assert.strictEqual((yield* statusOf("backup")).calls, 0)
      assert.strictEqual((yield* statusOf("primary")).hedges, 0)
      // With hedging off, a slow primary is waited for.
      const config = yield* Config.Config
      yield* config.update("latency.hedging.enabled", false)
      yield* sim.setLatency("primary", TestRuntime.fixedLatency(1_000))
      assert.strictEqual((yield* callFor(1_000)).model, "sim-1")
      assert.strictEqual((yield* statusOf("primary")).hedges, 0)
      assert.strictEqual((yield* statusOf("backup")).calls, 0)
    }).pipe(Effect.provide(TestRuntime.layer({ config: hedgedConfig(true) })))
  )

  it.effect("adaptive timeouts apply only after minSamples, then fail a call past clamp(p95 * k)", () =>
    Effect.gen(function* () {
      const sim = yield* TestRuntime.SimControl
      const lm = yield* LM.LM
      yield* sim.setLatency("default", TestRuntime.fixedLatency(1_000))
      // Two samples of 1 s, then a 5 s call: fewer than minSamples (3), no adaptive timeout.
      for (let i = 0; i < 2; i++) yield* callFor(1_000)
      yield* sim.setLatency("default", TestRuntime.fixedLatency(5_000))
      yield* callFor(5_000)
      const providers = yield* LMProviders.LMProviders
      assert.strictEqual(providers.latency.samples("default"), 3)
      // Now the deadline is clamp(p95 (5 s) * 1.5, 10 ms, 6 s) = 6 s: a 7 s call times out at 6 s.
      yield* sim.setLatency("default", TestRuntime.fixedLatency(7_000))
      const fiber = yield* Effect.fork(Effect.either(lm.complete(request)))
      yield* TestClock.adjust("6 seconds")
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag, "Left")
      if (outcome._tag === "Left") {
        assert.strictEqual(outcome.left._tag, "LMTimeout")
        assert.include(outcome.left.message, "adaptive timeout of 6000 ms")
      }
    }).pipe(
      Effect.provide(
        TestRuntime.layer({
          config: {
            modules: { cacheEnabled: false },
            providers: { default: { kind: "simulated", maxRetries: 0 } },
            latency: { minSamples: 3, capMs: 6_000, timeouts: { enabled: true, quantile: 0.95, multiplier: 1.5 } }
          }
        })
      )
    )
  )
})

/**
 * An OpenAI-compatible server on loopback: `/slow` answers its first `slowAfter` calls, then never answers; `/fast`
 * answers at once (or, with `fastHangs`, never).
 */
const startServer = (slowAfter: number, fastHangs = false) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly port: number
      readonly server: http.Server
      readonly seen: { closedEarly: number; slow: number; fast: number }
    }>((resume) => {
      const seen = { closedEarly: 0, slow: 0, fast: 0 }
      const answer = (res: http.ServerResponse, model: string) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            id: "c",
            object: "chat.completion",
            created: 0,
            model,
            choices: [{ index: 0, message: { role: "assistant", content: "Paris" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 }
          })
        )
      }
      const server = http.createServer((req, res) => {
        req.resume()
        req.on("end", () => {
          // A hung request ends only when the client closes its connection.
          const hang = () =>
            res.on("close", () => {
              if (!res.writableEnded) seen.closedEarly++
            })
          if (req.url?.startsWith("/slow") === true) {
            seen.slow++
            if (seen.slow > slowAfter) return hang()
            answer(res, "slow-model")
          } else if (fastHangs) {
            seen.fast++
            hang()
          } else {
            answer(res, "fast-model")
          }
        })
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ port: (server.address() as AddressInfo).port, server, seen }))
      )
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const httpConfig = (port: number) => ({
  modules: { defaultLmProvider: "primary", cacheEnabled: false },
  providers: {
    primary: {
      kind: "openai",
      baseUrl: `http://127.0.0.1:${port}/slow`,
      apiKey: "test-key",
      backup: "backup",
      maxRetries: 0,
      defaultModel: "slow-model"
    },
    backup: {
      kind: "openai",
      baseUrl: `http://127.0.0.1:${port}/fast`,
      apiKey: "test-key",
      maxRetries: 0,
      defaultModel: "fast-model"
    }
  },
  latency: { minSamples: 3, floorMs: 20, hedging: { enabled: true, quantile: 0.95, multiplier: 1 } }
})

/** The application over real HTTP transports (`LM.providerFromSettings`). */
const httpApplication = (port: number) =>
  Application.layer().pipe(
    Layer.provideMerge(
      Layer.mergeAll(Events.layerTest, Protection.layer, Registry.layerTest).pipe(
        Layer.provideMerge(Config.layerTest(httpConfig(port)))
      )
    )
  )

describe("hedged requests over HTTP", () => {
  it.live("a caller giving up on a hedged call closes both requests' connections", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { port, seen } = yield* startServer(3, true)
        yield* Effect.gen(function* () {
          const lm = yield* LM.LM
          for (let i = 0; i < 3; i++) yield* lm.complete(request)
          // Both the primary and, past the deadline, the backup hang; the caller interrupts the call.
          const call = yield* Effect.fork(lm.complete(request))
          for (let i = 0; i < 200 && (yield* statusOf("primary")).hedges === 0; i++) yield* Effect.sleep("10 millis")
          assert.strictEqual((yield* statusOf("primary")).hedges, 1)
          // The backup's request has reached the server (and hangs there) before the caller gives up.
          for (let i = 0; i < 200 && seen.fast === 0; i++) yield* Effect.sleep("10 millis")
          assert.strictEqual(seen.fast, 1)
          yield* Fiber.interrupt(call)
          for (let i = 0; i < 200 && seen.closedEarly < 2; i++) yield* Effect.sleep("10 millis")
          assert.strictEqual(seen.closedEarly, 2)
        }).pipe(Effect.provide(httpApplication(port)))
      })
    )
  )

  it.live("the losing request's HTTP connection is closed (the abort reaches the socket)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { port, seen } = yield* startServer(3)
        const runtime = httpApplication(port)
        yield* Effect.gen(function* () {
          const lm = yield* LM.LM
          for (let i = 0; i < 3; i++) assert.strictEqual((yield* lm.complete(request)).model, "slow-model")
          const response = yield* lm.complete(request)
          assert.strictEqual(response.model, "fast-model")
          // The hung primary request's connection is closed by the client, well before any timeout.
          for (let i = 0; i < 200 && seen.closedEarly === 0; i++) yield* Effect.sleep("10 millis")
          assert.strictEqual(seen.closedEarly, 1)
          assert.strictEqual(seen.slow, 4)
        }).pipe(Effect.provide(runtime))
      })
    )
  )
})
