/**
 * Cache namespaces per tenant, at every level: memory (L1), SQLite (L2) and a real redis-server (L3, started per
 * test on a free loopback port; see support/redis.ts).
 */
import { Subject, Tenant } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Redis } from "ioredis"
import * as CacheManager from "../../src/CacheManager.js"
import * as RedisServer from "../support/redis.js"

const binary = await RedisServer.findRedisServer()
const acme = Tenant.withTenant("acme")
const globex = Tenant.withTenant("globex")

describe("CacheManager: tenant namespaces", () => {
  it.scoped("a tenant's entries are out of another tenant's reach in L1 and L2", () =>
    Effect.gen(function* () {
      const cache = yield* CacheManager.make({ path: ":memory:" })
      yield* acme(cache.set("lm", "k", { answer: "acme's" }))
      assert.deepStrictEqual(yield* acme(cache.get("lm", "k")), Option.some({ answer: "acme's" }))
      assert.deepStrictEqual(yield* globex(cache.get("lm", "k")), Option.none())
      assert.deepStrictEqual(yield* globex(cache.get("~acme/lm", "k")), Option.none())
      assert.deepStrictEqual(yield* cache.get("lm", "k"), Option.none())
      // The system (unscoped) reaches it by its stored namespace; invalidating globex's leaves acme's.
      assert.deepStrictEqual(yield* cache.get("~acme/lm", "k"), Option.some({ answer: "acme's" }))
      yield* globex(cache.invalidateModule("lm"))
      assert.deepStrictEqual(yield* acme(cache.get("lm", "k")), Option.some({ answer: "acme's" }))
    })
  )

  it.scoped("the LM's entries of a tenant name it once; entries an older release wrote are still found", () =>
    Effect.gen(function* () {
      const cache = yield* CacheManager.make({ path: ":memory:" })
      const lm = CacheManager.lmCache(cache)
      const response = (text: string) =>
        ({
          text,
          choices: [{ index: 0, message: { role: "assistant", content: text }, finishReason: "stop" }],
          usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
          model: "sim",
          costUsd: 0.01
        }) as never
      yield* lm.set("k", response("acme's")).pipe(Subject.withSubject("user-1"), acme)
      const stored = (yield* cache.namespaces).namespaces
      assert.deepStrictEqual(stored, [`~acme/${CacheManager.namespaceOf("lm", { subject: "user-1" })}`])
      const hit = yield* lm.get("k").pipe(Subject.withSubject("user-1"), acme)
      assert.isTrue(Option.isSome(hit) && JSON.stringify(hit.value).includes("acme's") && hit.value.cacheHit === true)
      assert.isTrue(Option.isNone(yield* lm.get("k").pipe(Subject.withSubject("user-1"), globex)))

      // An entry written where an older release put it (the tenant twice) is found, and copied forward.
      const legacy = `~acme/${CacheManager.namespaceOf("lm", { tenant: "acme", subject: "user-2" })}`
      yield* cache.set(legacy, "old", response("from before") as never)
      const old = yield* lm.get("old").pipe(Subject.withSubject("user-2"), acme)
      assert.isTrue(Option.isSome(old) && JSON.stringify(old.value).includes("from before"))
      yield* cache.delete(legacy, "old")
      const moved = yield* lm.get("old").pipe(Subject.withSubject("user-2"), acme)
      assert.isTrue(Option.isSome(moved) && JSON.stringify(moved.value).includes("from before"))
      // Another tenant reaches neither the old nor the new place.
      assert.isTrue(Option.isNone(yield* lm.get("old").pipe(Subject.withSubject("user-2"), globex)))
    })
  )

  it.live.skipIf(binary === undefined)("and in Redis (L3): keys carry the tenant; another tenant misses", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* RedisServer.start(binary!)
        const options = (name: string) => ({
          path: ":memory:",
          name,
          redis: { url: redis.url, timeoutMs: 200, connectTimeoutMs: 500, retryAfterMs: 50, keyPrefix: "t:tenants" }
        })
        const writer = yield* CacheManager.make(options("writer"))
        yield* acme(writer.set("lm", "k", { answer: "acme's" }))
        // A second manager (its own L1 and L2) sharing the Redis: only L3 has the entry.
        const reader = yield* CacheManager.make(options("reader"))
        assert.deepStrictEqual(yield* globex(reader.get("lm", "k")), Option.none())
        assert.deepStrictEqual(yield* acme(reader.get("lm", "k")), Option.some({ answer: "acme's" }))
        const raw = yield* Effect.acquireRelease(
          Effect.sync(() => new Redis(redis.url, { maxRetriesPerRequest: 1 })),
          (c) => Effect.sync(() => c.disconnect())
        )
        const keys = yield* Effect.promise(() => raw.keys("t:tenants*"))
        assert.isTrue(
          keys.some((k) => k.includes("~acme/lm")),
          keys.join(", ")
        )
        assert.isFalse(
          keys.some((k) => k.includes(":lm:")),
          keys.join(", ")
        )
      })
    )
  )
})
