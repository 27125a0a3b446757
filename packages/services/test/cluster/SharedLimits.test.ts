/**
 * Limits that hold across processes: the shared counter's grants never add up past a limit under concurrent
 * takers on separate pools; two application instances (each with its own PostgreSQL pool) share a provider's rate
 * limit and the cluster's daily LM-call budget; while the counter is unreachable a shared limiter rejects with a
 * typed `RateLimited` (or counts locally, when configured so). One throwaway PostgreSQL server (support/pgServer.ts).
 */
import { LM } from "@effect-dspy/core"
import { RateLimiter } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { ClusterStoreError } from "../../src/ServicesError.js"
import { SharedCounter, SharedRateLimiter, Storage, TestRuntime } from "../../src/index.js"
import * as PgServer from "../support/pgServer.js"

const pg = PgServer.shared()

const request = (i: number) => ({ messages: [{ role: "user" as const, content: `What is ${i} + ${i}?` }] })

/** An application instance on `url` with the test's Config on top of PostgreSQL storage. */
const instance = (url: Redacted.Redacted<string>, config: Record<string, unknown>) =>
  TestRuntime.layer({
    config: {
      storage: { backend: "postgres", postgres: { url: Redacted.value(url), maxConnections: 2 } },
      providers: { default: { maxRetries: 0 } },
      ...config
    }
  })

/** How many of `n` LM calls through the instance succeed; the failures' tags and codes. */
const calls = (app: Context.Context<LM.LM>, n: number, offset: number) =>
  Effect.provide(
    Effect.flatMap(LM.LM, (lm) =>
      Effect.forEach(
        Array.from({ length: n }, (_, i) => i + offset),
        (i) => Effect.either(lm.complete(request(i)))
      )
    ),
    app
  ).pipe(
    Effect.map((results) => ({
      ok: results.filter((r) => r._tag === "Right").length,
      failures: results.flatMap((r) => (r._tag === "Left" ? [`${r.left._tag}:${String(r.left.context?.code)}`] : []))
    }))
  )

describe.skipIf(PgServer.binaries === undefined)("shared limits", () => {
  it.live(
    "the counter's grants never pass the limit, taken concurrently from separate pools",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          // Two counters, each on its own pool (as two processes).
          const counterOn = Effect.map(
            Layer.build(
              SharedCounter.layer.pipe(Layer.provide(Storage.layerPostgresClient({ url, maxConnections: 4 })))
            ),
            Context.get(SharedCounter.SharedCounter)
          )
          const a = yield* counterOn
          const b = yield* counterOn
          const takes = yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b)),
            (counter) => counter.take("openai", 3, 50, 3_600_000),
            { concurrency: 8 }
          )
          const granted = takes.reduce((sum, t) => sum + t.granted, 0)
          assert.strictEqual(granted, 50)
          assert.isTrue(takes.every((t) => t.granted >= 0 && t.granted <= 3 && t.windowLeftMs > 0))
          // Costs add up unconditionally, in the same window.
          yield* a.add("cost", 0.25, 3_600_000)
          assert.strictEqual((yield* b.add("cost", 0.5, 3_600_000)).used, 0.75)
        })
      ),
    60_000
  )

  it.live(
    "two instances share a provider's rate limit",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const config = {
            infrastructure: { rateLimiters: { lm_provider_default: { limit: 8, scaleMs: 3_600_000 } } },
            cluster: { limits: { lease: 3 } }
          }
          const a = yield* Layer.build(instance(url, config))
          const b = yield* Layer.build(instance(url, config))
          const [fromA, fromB] = yield* Effect.all([calls(a, 10, 0), calls(b, 10, 100)], { concurrency: 2 })
          // Each alone would allow 8: together they made 8.
          assert.strictEqual(fromA.ok + fromB.ok, 8)
          assert.isTrue([...fromA.failures, ...fromB.failures].every((f) => f === "LMRateLimited:rate_limited"))
        })
      ),
    60_000
  )

  it.live(
    "two instances share the cluster's daily LM-call budget",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const url = yield* pg.database()
          const config = { cluster: { budgets: { dailyLmCalls: 6 }, limits: { lease: 1 } } }
          const a = yield* Layer.build(instance(url, config))
          const b = yield* Layer.build(instance(url, config))
          const fromA = yield* calls(a, 4, 0)
          const fromB = yield* calls(b, 4, 100)
          assert.deepStrictEqual([fromA.ok, fromB.ok], [4, 2])
          assert.deepStrictEqual(fromB.failures, ["LMRateLimited:budget_spent", "LMRateLimited:budget_spent"])
        })
      ),
    60_000
  )
})

describe("shared rate limiter without its database", () => {
  const unreachable: SharedCounter.Service = {
    take: () => Effect.fail(new ClusterStoreError({ operation: "lease", reason: "down", message: "down" })),
    add: () => Effect.fail(new ClusterStoreError({ operation: "lease", reason: "down", message: "down" }))
  }

  it.effect("rejects with RateLimited naming the outage (onOutage: reject)", () =>
    Effect.gen(function* () {
      const local = yield* RateLimiter.make("openai", { limit: 5, scaleMs: 1000 })
      const shared = SharedRateLimiter.make(local, unreachable, { lease: 2, onOutage: "reject" })
      const error = yield* Effect.flip(shared.acquire("k"))
      assert.strictEqual(error._tag, "RateLimited")
      assert.include(error.message, "unreachable")
    })
  )

  it.effect("counts with the process's own limiter (onOutage: local)", () =>
    Effect.gen(function* () {
      const local = yield* RateLimiter.make("openai", { limit: 2, scaleMs: 1000 })
      const shared = SharedRateLimiter.make(local, unreachable, { lease: 2, onOutage: "local" })
      yield* shared.acquire("k")
      yield* shared.acquire("k")
      assert.strictEqual((yield* Effect.flip(shared.acquire("k")))._tag, "RateLimited")
    })
  )

  it.effect("admits from a lease without asking the counter again", () =>
    Effect.gen(function* () {
      let asked = 0
      const counter: SharedCounter.Service = {
        take: (_key, want) =>
          Effect.sync(() => {
            asked++
            return { granted: want, used: want, windowLeftMs: 60_000 }
          }),
        add: unreachable.add
      }
      const local = yield* RateLimiter.make("openai", { limit: 100, scaleMs: 60_000 })
      const shared = SharedRateLimiter.make(local, counter, { lease: 5, onOutage: "reject" })
      for (let i = 0; i < 10; i++) yield* shared.acquire("k")
      assert.strictEqual(asked, 2)
    })
  )
})
