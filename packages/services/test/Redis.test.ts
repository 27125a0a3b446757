/**
 * The CacheManager's L3 against a real redis-server (started per test on a free loopback port; see
 * support/redis.ts). Redis time is real time, so these tests run on the live clock; every wait is bounded.
 */
import { Config, Events } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as CacheManager from "../src/CacheManager.js"
import * as RedisServer from "./support/redis.js"

const binary = await RedisServer.findRedisServer()

/** A raw client to look at what the cache wrote. */
const rawClient = (url: string): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { maxRetriesPerRequest: 1 })),
    (c) => Effect.sync(() => c.disconnect())
  )

/** Polls `check` on the live clock until it holds, failing after `maxMs`. */
const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, maxMs = 5_000) =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet" as const))),
    Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("25 millis") }),
    Effect.timeoutFail({ duration: maxMs, onTimeout: () => new Error(`${what} did not happen within ${maxMs} ms`) })
  )

const manager = (url: string, name: string, extra: Partial<CacheManager.Options> = {}) =>
  CacheManager.make({
    path: ":memory:",
    name,
    redis: { url, timeoutMs: 200, connectTimeoutMs: 500, retryAfterMs: 50, keyPrefix: `t:${name}` },
    ...extra
  })

const eventsOf = (type: string) => Effect.flatMap(Events.Events, (ev) => ev.query({ types: [type] }))

/** Bounds an operation that must not hang while Redis is broken. */
const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(self, { duration: "2 seconds", onTimeout: () => new Error("cache operation hung") })

describe.skipIf(binary === undefined)("CacheManager with Redis (L3)", () => {
  const server = () => RedisServer.start(binary!)

  it.live("an L3 hit is promoted to L2 and L1, in that order of lookups", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        const writer = yield* manager(redis.url, "promote")
        yield* writer.set("qa", "k", { answer: 42 })
        // A second manager (its own L1 and L2) sharing the Redis: only L3 has the entry.
        const reader = yield* manager(redis.url, "promote", { maxEntries: 1 })
        assert.deepStrictEqual(yield* reader.get("qa", "k"), Option.some({ answer: 42 }))
        let s = yield* reader.stats
        assert.deepStrictEqual(
          [s.levels.l1.misses, s.levels.l2.misses, s.levels.l3.hits, s.levels.l2.promotions, s.levels.l1.promotions],
          [1, 1, 1, 1, 1]
        )
        assert.deepStrictEqual(yield* reader.get("qa", "k"), Option.some({ answer: 42 })) // now from L1
        yield* reader.set("qa", "other", 1) // evicts k from L1 (maxEntries 1)
        assert.deepStrictEqual(yield* reader.get("qa", "k"), Option.some({ answer: 42 })) // from L2, not L3
        s = yield* reader.stats
        assert.deepStrictEqual([s.levels.l1.hits, s.levels.l2.hits, s.levels.l3.hits], [1, 1, 1])
        assert.strictEqual(s.levels.l3.state, "ok")
      })
    )
  )

  it.live("entries carry their TTL into Redis (PX) and expire there", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        const cache = yield* manager(redis.url, "ttl")
        yield* cache.set("m", "short", "s", { ttlMs: 300 })
        yield* cache.set("m", "forever", "f", { ttlMs: 0 })
        yield* cache.set("m", "default", "d")
        const short = Option.getOrThrow(yield* cache.redisPttl("m", "short"))
        assert.isTrue(short > 0 && short <= 300, `PTTL ${short}`)
        assert.deepStrictEqual(yield* cache.redisPttl("m", "forever"), Option.some(-1))
        const dflt = Option.getOrThrow(yield* cache.redisPttl("m", "default"))
        assert.isTrue(dflt > 3_500_000 && dflt <= 3_600_000, `PTTL ${dflt}`)
        const promoted = yield* manager(redis.url, "ttl")
        assert.deepStrictEqual(yield* promoted.get("m", "short"), Option.some("s")) // L3 hit, now in its L1 and L2
        const fresh = yield* manager(redis.url, "ttl")
        yield* eventually("expiry in Redis", Effect.map(fresh.redisPttl("m", "short"), Option.isNone), 2_000)
        assert.isTrue(Option.isNone(yield* fresh.get("m", "short")))
        // The promoted copies carry Redis's remaining TTL: they expire with it, not an hour later.
        assert.isTrue(Option.isNone(yield* promoted.get("m", "short")))
        assert.strictEqual((yield* promoted.stats).levels.l1.hits, 0)
        assert.deepStrictEqual(yield* fresh.get("m", "forever"), Option.some("f"))
      })
    )
  )

  it.live("invalidateModule removes the module at every level, Redis included", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        const raw = yield* rawClient(redis.url)
        const cache = yield* manager(redis.url, "inv")
        for (const k of ["1", "2", "3"]) yield* cache.set("qa", k, k)
        yield* cache.set("sum", "1", "s")
        assert.strictEqual(yield* Effect.promise(() => raw.scard("t:inv:m:qa")), 3)
        assert.strictEqual(yield* cache.invalidateModule("qa"), 3)
        assert.deepStrictEqual(yield* Effect.promise(() => raw.keys("t:inv:*qa*")), [])
        const fresh = yield* manager(redis.url, "inv")
        assert.isTrue(Option.isNone(yield* fresh.get("qa", "1")))
        assert.deepStrictEqual(yield* fresh.get("sum", "1"), Option.some("s"))
        // Module ids with ":" do not collide with other modules' keys.
        yield* cache.set("a:b", "c", "first")
        yield* cache.set("a", "b:c", "second")
        assert.deepStrictEqual(yield* fresh.get("a:b", "c"), Option.some("first"))
        assert.deepStrictEqual(yield* fresh.get("a", "b:c"), Option.some("second"))
        yield* cache.invalidateModule("a")
        const fresher = yield* manager(redis.url, "inv")
        assert.deepStrictEqual(yield* fresher.get("a:b", "c"), Option.some("first"))
        yield* cache.clear
        assert.deepStrictEqual(yield* Effect.promise(() => raw.keys("t:inv:*")), [])
      })
    )
  )

  it.live(
    "a killed redis-server degrades L3 with one event; the cache answers from L1/L2; a restart brings it back",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const redis = yield* server()
          const cache = yield* manager(redis.url, "kill")
          yield* cache.set("m", "a", "A")
          yield* redis.kill
          // Every operation still completes, from L1/L2, within a bound.
          yield* bounded(cache.set("m", "b", "B"))
          assert.deepStrictEqual(yield* bounded(cache.get("m", "a")), Option.some("A"))
          assert.deepStrictEqual(yield* bounded(cache.get("m", "b")), Option.some("B"))
          assert.isTrue(Option.isNone(yield* bounded(cache.get("m", "missing"))))
          yield* bounded(cache.invalidateModule("m"))
          const s = yield* cache.stats
          assert.strictEqual(s.levels.l3.state, "degraded")
          assert.strictEqual(s.levels.l2.state, "ok")
          const degraded = yield* eventsOf("cache_level_degraded")
          assert.strictEqual(degraded.length, 1)
          assert.strictEqual(degraded[0]!.data.level, "l3")
          assert.strictEqual(degraded[0]!.data.fallback, "l1+l2")
          assert.strictEqual(degraded[0]!.data.target, `127.0.0.1:${redis.port}`)

          yield* redis.restart
          yield* eventually(
            "reconnection",
            Effect.zipRight(
              cache.get("m", "probe"),
              Effect.map(cache.stats, (x) => x.levels.l3.state === "ok")
            )
          )
          assert.strictEqual((yield* eventsOf("cache_level_recovered")).length, 1)
          yield* cache.set("m", "c", "C")
          const raw = yield* rawClient(redis.url)
          assert.strictEqual(yield* Effect.promise(() => raw.get("t:kill:e:1:m:c")), '"C"')
        }).pipe(Effect.provide(Events.layerMemory))
      )
  )

  it.live("a hung redis-server costs one bounded timeout, and what it missed is replayed before it is used again", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        const raw = yield* rawClient(redis.url)
        const writer = yield* manager(redis.url, "hung")
        yield* writer.set("qa", "x", "old")
        yield* writer.set("sum", "y", "old")
        yield* redis.pause
        // The server holds the connection but never answers: the read times out and degrades L3.
        assert.isTrue(Option.isNone(yield* bounded(writer.get("other", "z"))))
        assert.strictEqual((yield* writer.stats).levels.l3.state, "degraded")
        assert.strictEqual((yield* writer.stats).levels.l3.errors, 1)
        // While degraded Redis is skipped: this invalidation never reaches it.
        yield* bounded(writer.invalidateModule("qa"))
        yield* bounded(writer.set("sum", "y", "new")) // L1/L2 only: Redis keeps "old" for now
        assert.isTrue(Option.isNone(yield* bounded(writer.get("qa", "x"))))
        yield* redis.resume
        // Redis still holds the stale entry; the manager must drop it before using Redis again.
        assert.strictEqual(yield* Effect.promise(() => raw.get("t:hung:e:2:qa:x")), '"old"')
        yield* eventually(
          "recovery",
          Effect.zipRight(
            writer.get("m", "probe"),
            Effect.map(writer.stats, (x) => x.levels.l3.state === "ok")
          )
        )
        assert.isNull(yield* Effect.promise(() => raw.get("t:hung:e:2:qa:x")))
        assert.isNull(yield* Effect.promise(() => raw.get("t:hung:e:3:sum:y")), "the stale write is dropped too")
        const reader = yield* manager(redis.url, "hung")
        assert.isTrue(Option.isNone(yield* reader.get("qa", "x")))
        assert.isTrue(Option.isNone(yield* reader.get("sum", "y")))
        assert.deepStrictEqual(yield* writer.get("sum", "y"), Option.some("new"))
      }).pipe(Effect.provide(Events.layerMemory))
    )
  )

  it.live("Redis down at start: the cache starts on L1/L2 and takes Redis up when it appears", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        yield* redis.kill
        const cache = yield* manager(redis.url, "late")
        yield* bounded(cache.set("m", "a", "A"))
        assert.deepStrictEqual(yield* cache.get("m", "a"), Option.some("A"))
        const degraded = yield* eventsOf("cache_level_degraded")
        assert.strictEqual(degraded[0]!.data.operation, "connect")
        yield* redis.restart
        yield* eventually(
          "connection",
          Effect.zipRight(
            cache.get("m", "probe"),
            Effect.map(cache.stats, (x) => x.levels.l3.state === "ok")
          )
        )
        yield* cache.set("m", "b", "B")
        assert.deepStrictEqual(yield* cache.redisPttl("m", "b").pipe(Effect.map(Option.isSome)), true)
      }).pipe(Effect.provide(Events.layerMemory))
    )
  )

  it.live("concurrent writers and readers across modules see their own values at every level", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        const a = yield* manager(redis.url, "conc", { maxEntries: 50 })
        const b = yield* manager(redis.url, "conc", { maxEntries: 50 })
        const ids = Array.from({ length: 200 }, (_, i) => i)
        yield* Effect.forEach(ids, (i) => a.set(`mod${i % 10}`, `k${i}`, { i }), { concurrency: 32 })
        const read = yield* Effect.forEach(ids, (i) => b.get(`mod${i % 10}`, `k${i}`), { concurrency: 32 })
        assert.deepStrictEqual(
          read.map((o) => Option.getOrThrow(o)),
          ids.map((i) => ({ i }))
        )
        assert.strictEqual((yield* b.stats).levels.l3.hits, 200)
        assert.strictEqual(yield* a.invalidateModule("mod3"), 20)
        // b promoted everything into its own L1 and L2; a's invalidation reaches them through Redis pub/sub.
        yield* eventually(
          "remote invalidation",
          Effect.map(b.stats, (s) => s.remoteInvalidations === 1)
        )
        const after = yield* Effect.forEach(ids, (i) => b.get(`mod${i % 10}`, `k${i}`), { concurrency: 32 })
        assert.deepStrictEqual(
          after.map(Option.isSome),
          ids.map((i) => i % 10 !== 3)
        )
        yield* b.clear
        yield* eventually(
          "remote clear",
          Effect.map(a.stats, (s) => s.remoteInvalidations === 1)
        )
        assert.strictEqual((yield* a.stats).entries, 0)
      })
    )
  )

  it.live("credentials in the Redis URL never reach events", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        yield* redis.kill
        const secretUrl = redis.url.replace("redis://", "redis://admin:hunter2@")
        const cache = yield* CacheManager.make({
          name: "secret",
          redis: { url: Redacted.make(secretUrl), connectTimeoutMs: 300, timeoutMs: 100 }
        })
        yield* cache.set("m", "k", 1)
        const events = yield* eventsOf("cache_level_degraded")
        assert.strictEqual(events.length, 1)
        assert.notInclude(JSON.stringify(events), "hunter2")
        assert.strictEqual(events[0]!.data.target, `127.0.0.1:${redis.port}`)
      }).pipe(Effect.provide(Events.layerMemory))
    )
  )

  it.live("layer takes the Redis URL from REDIS_URL", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const redis = yield* server()
        const stats = yield* Effect.flatMap(CacheManager.CacheManager, (c) =>
          Effect.zipRight(c.set("m", "k", 1), c.stats)
        ).pipe(
          Effect.provide(
            CacheManager.layer({ name: "env", purgeIntervalMs: 0 }).pipe(
              Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", redis.url]])))),
              Layer.provide(Config.layerTest())
            )
          )
        )
        assert.strictEqual(stats.levels.l3.state, "ok")
        const raw = yield* rawClient(redis.url)
        assert.strictEqual(yield* Effect.promise(() => raw.get("dspy:cache:e:1:m:k")), "1")
      })
    )
  )
})
