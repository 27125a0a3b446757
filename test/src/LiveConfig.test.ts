/**
 * The LM service built from Config over HTTP, beyond single calls: usage totals agree with what the server
 * reported, embeddings come back as the simulated embedder's, and settings that Config declares updatable at
 * run time (`providers.*.maxRetries`, `providers.*.timeoutMs`) are followed by the running LM service.
 */
import { Config } from "@effect-dspy/foundation"
import { LM, LMCache } from "@effect-dspy/core"
import { SimEmbeddings, SimServer } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { configFor, withServer } from "./support.js"

const ask = (content: string): LM.Request => ({ messages: [{ role: "user", content }] })

describe("the LM service from Config over HTTP", () => {
  it.live("trackUsage totals equal the usage the server reported for each call", () =>
    withServer({}, {}, () =>
      Effect.gen(function* () {
        const { result, usage } = yield* LM.trackUsage(
          Effect.forEach(["What is 2 + 3?", "What is 7 * 6?", "What is 10 - 4?"], (q) => LM.complete(ask(q)), {
            concurrency: 3
          })
        )
        const reported = result.reduce((n, r) => n + r.usage.totalTokens, 0)
        assert.isAbove(reported, 0)
        assert.strictEqual(usage.calls, 3)
        assert.strictEqual(usage.totalTokens, reported)
        assert.strictEqual(usage.failures, 0)
      })
    ).pipe(Effect.scoped)
  )

  it.live("embeddings over HTTP equal the simulated embedder's vectors", () =>
    withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const vectors = yield* LM.embed(["hello world", "multi hop question"])
        assert.strictEqual(vectors.length, 2)
        const expected = SimEmbeddings.embed("hello world", vectors[0]!.length)
        for (const [i, x] of vectors[0]!.entries()) assert.closeTo(x, expected[i]!, 1e-6)
        assert.strictEqual(server.stats().embeddings, 1)
      })
    ).pipe(Effect.scoped)
  )
})

describe("run-time configuration updates reach the LM service", () => {
  it.live("modules.cacheEnabled switched off at run time: the same request goes to the server again", () =>
    Effect.gen(function* () {
      const server = yield* SimServer.serve()
      const base = configFor(server.url)
      const config = Config.layerTest({ ...base, modules: { ...base.modules, cacheEnabled: true } })
      yield* Effect.gen(function* () {
        const request = ask("What is 6 * 7?")
        const first = yield* LM.complete(request)
        const second = yield* LM.complete(request)
        assert.isFalse(first.cacheHit)
        assert.isTrue(second.cacheHit)
        assert.strictEqual(second.choices[0]!.content, first.choices[0]!.content)
        assert.strictEqual(server.stats().completions, 1)
        yield* Config.update("modules.cacheEnabled", false)
        // the cache follows the change on its own fiber (Config.watch): wait, bounded, until it has applied it
        const cache = yield* LMCache.LMCache
        yield* Effect.repeat(cache.enabled, {
          until: (enabled) => !enabled,
          schedule: Schedule.spaced("5 millis")
        }).pipe(
          Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("the cache never saw the update") })
        )
        const third = yield* LM.complete(request)
        assert.isFalse(third.cacheHit)
        assert.strictEqual(server.stats().completions, 2)
      }).pipe(Effect.provide(Layer.provideMerge(LM.layerCached(), config)))
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )

  // `LM.layer` reads the `privacy` section at each call, so a run-time change applies to the next request.
  it.live("privacy changed at run time: the next request over HTTP is masked, then blocked for the provider", () =>
    Effect.gen(function* () {
      const server = yield* SimServer.serve()
      const config = Config.layerTest(configFor(server.url))
      const request = ask("Mail ada.lovelace@example.com: what is 6 * 7?")
      yield* Effect.gen(function* () {
        const lm = yield* LM.LM
        yield* LM.complete(request)
        assert.include(JSON.stringify((yield* lm.history).at(-1)!.request), "ada.lovelace@example.com")
        yield* Config.update("privacy", { mode: "mask" })
        yield* LM.complete(request)
        const masked = JSON.stringify((yield* lm.history).at(-1)!.request)
        assert.notInclude(masked, "ada.lovelace@example.com")
        assert.include(masked, "<EMAIL_1>")
        yield* Config.update("privacy", { mode: "mask", providers: { local: "block" } })
        const blocked = yield* Effect.flip(LM.complete(request))
        assert.strictEqual(blocked._tag, "PrivacyBlocked")
        assert.strictEqual(server.stats().completions, 2, "the blocked request never reached the server")
      }).pipe(Effect.provide(Layer.provideMerge(LM.layer, config)))
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )

  // `LM.layer` reads `providers.<name>.maxRetries` at each call, so a run-time update applies to the next call.
  it.live("providers.local.maxRetries lowered at run time: the next failing call is tried once", () =>
    Effect.gen(function* () {
      const server = yield* SimServer.serve({ faults: { rates: { server_error: 1 } } })
      const config = Config.layerTest(configFor(server.url, { maxRetries: 2 }))
      yield* Effect.gen(function* () {
        const first = yield* Effect.flip(LM.complete(ask("What is 1 + 1?")))
        assert.strictEqual(first._tag, "LMServerError")
        assert.strictEqual(server.stats().faults.server_error, 3, "one attempt and two retries")
        yield* Config.update("providers.local.maxRetries", 0)
        const second = yield* Effect.flip(LM.complete(ask("What is 1 + 2?")))
        assert.strictEqual(second._tag, "LMServerError")
        assert.strictEqual(server.stats().faults.server_error, 4, "no retries after the update")
      }).pipe(Effect.provide(Layer.provideMerge(LM.layer, config)))
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )

  // The provider reads `providers.<name>.timeoutMs` at each call, so a run-time update bounds the next call.
  it.live("providers.local.timeoutMs lowered at run time: the next held call times out at the new bound", () =>
    Effect.gen(function* () {
      // the server holds every call for 3 s and then drops the connection
      const server = yield* SimServer.serve({ faults: { rates: { timeout: 1 }, timeoutMs: 3_000 } })
      const config = Config.layerTest(configFor(server.url, { maxRetries: 0, timeoutMs: 10_000 }))
      yield* Effect.gen(function* () {
        yield* Config.update("providers.local.timeoutMs", 200)
        const error = yield* Effect.flip(LM.complete(ask("What is 2 + 2?")))
        assert.strictEqual(error._tag, "LMTimeout")
        if (error._tag === "LMTimeout") assert.strictEqual(error.timeoutMs, 200)
      }).pipe(Effect.provide(Layer.provideMerge(LM.layer, config)))
    }).pipe(Effect.scoped, Effect.timeout("20 seconds"))
  )
})
