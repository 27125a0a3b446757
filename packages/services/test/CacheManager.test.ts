import { type Completion, LM, type Provider } from "@effect-dspy/core"
import { Config, Events, Metrics } from "@effect-dspy/foundation"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fc from "effect/FastCheck"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Actor, Process, Supervisor } from "@effect-dspy/runtime"
import * as CacheManager from "../src/CacheManager.js"
import type * as ServicesError from "../src/ServicesError.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "cache-manager-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const gauge = (name: string, level?: CacheManager.Level) =>
  Metric.value(
    Metrics.cacheHitRate.pipe(
      Metric.taggedWithLabels([
        MetricLabel.make("cache", name),
        ...(level === undefined ? [] : [MetricLabel.make("level", level)])
      ])
    )
  ).pipe(Effect.map((state) => state.value))

const degradedEvents = Effect.flatMap(Events.Events, (ev) => ev.query({ types: ["cache_level_degraded"] }))

describe("CacheManager", () => {
  describe("L1 (memory)", () => {
    it.scoped("stores JSON and returns a fresh copy on every hit", () =>
      Effect.gen(function* () {
        const cache = yield* CacheManager.make({ name: "l1-copy" })
        const value = { answer: "Paris", scores: [1, 2, { deep: true }], none: null }
        yield* cache.set("qa", "k1", value)
        value.answer = "changed after set"
        const first = yield* cache.get("qa", "k1")
        assert.deepStrictEqual(Option.getOrThrow(first), {
          answer: "Paris",
          scores: [1, 2, { deep: true }],
          none: null
        })
        const hit = Option.getOrThrow(first) as { answer: string; scores: Array<unknown> }
        hit.answer = "mutated"
        hit.scores.push(99)
        const second = Option.getOrThrow(yield* cache.get("qa", "k1")) as { answer: string; scores: Array<unknown> }
        assert.strictEqual(second.answer, "Paris")
        assert.strictEqual(second.scores.length, 3)
        assert.isTrue(Option.isNone(yield* cache.get("qa", "other")))
        assert.isTrue(Option.isNone(yield* cache.get("other-module", "k1")), "keys are namespaced by module")
      })
    )

    it.scoped("evicts the least recently used entry beyond maxEntries", () =>
      Effect.gen(function* () {
        const cache = yield* CacheManager.make({ maxEntries: 2, name: "l1-lru" })
        yield* cache.set("m", "a", 1)
        yield* cache.set("m", "b", 2)
        yield* cache.get("m", "a") // a is now the most recently used
        yield* cache.set("m", "c", 3)
        assert.isTrue(Option.isNone(yield* cache.get("m", "b")))
        assert.deepStrictEqual(yield* cache.get("m", "a"), Option.some(1))
        assert.deepStrictEqual(yield* cache.get("m", "c"), Option.some(3))
        const stats = yield* cache.stats
        assert.strictEqual(stats.levels.l1.evictions, 1)
        assert.strictEqual(stats.entries, 2)
        assert.strictEqual(stats.levels.l2.state, "off")
        assert.strictEqual(stats.levels.l3.state, "off")
      })
    )

    it.scoped("expires entries after their TTL (TestClock), per entry", () =>
      Effect.gen(function* () {
        const cache = yield* CacheManager.make({ ttlMs: 1_000, name: "l1-ttl" })
        yield* cache.set("m", "default", "d")
        yield* cache.set("m", "short", "s", { ttlMs: 100 })
        yield* cache.set("m", "forever", "f", { ttlMs: 0 })
        yield* TestClock.adjust("99 millis")
        assert.isTrue(Option.isSome(yield* cache.get("m", "short")))
        yield* TestClock.adjust("1 millis")
        assert.isTrue(Option.isNone(yield* cache.get("m", "short")))
        assert.isTrue(Option.isSome(yield* cache.get("m", "default")))
        yield* TestClock.adjust("900 millis")
        assert.isTrue(Option.isNone(yield* cache.get("m", "default")))
        yield* TestClock.adjust("365 days")
        assert.deepStrictEqual(yield* cache.get("m", "forever"), Option.some("f"))
        assert.strictEqual((yield* cache.stats).levels.l1.evictions, 2)
      })
    )

    it.scoped("round-trips any JSON value as JSON would (property)", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        // Two levels: a value read back from L1 and one read back from L2 (JSON text) must agree.
        const cache = yield* CacheManager.make({ maxEntries: 1, path: path.join(dir, "c.db"), name: "prop" })
        fc.assert(
          fc.property(fc.jsonValue(), (value) => {
            Effect.runSync(cache.set("m", "k", value))
            const expected = JSON.parse(JSON.stringify(value))
            assert.deepStrictEqual(Option.getOrThrow(Effect.runSync(cache.get("m", "k"))), expected)
            Effect.runSync(cache.set("m", "other", 0)) // k now only on disk
            assert.deepStrictEqual(Option.getOrThrow(Effect.runSync(cache.get("m", "k"))), expected)
          }),
          { numRuns: 200 }
        )
      })
    )
  })

  describe("L2 (SQLite)", () => {
    it.scoped("serves L1 misses from disk and promotes them to L1", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const cache = yield* CacheManager.make({ maxEntries: 1, path: path.join(dir, "c.db"), name: "l2-promote" })
        yield* cache.set("m", "a", { v: "A" })
        yield* cache.set("m", "b", { v: "B" }) // evicts a from L1
        assert.deepStrictEqual(yield* cache.get("m", "a"), Option.some({ v: "A" })) // L2 hit, promoted
        assert.deepStrictEqual(yield* cache.get("m", "a"), Option.some({ v: "A" })) // L1 hit
        const stats = yield* cache.stats
        assert.deepStrictEqual(
          { l1Hits: stats.levels.l1.hits, l1Misses: stats.levels.l1.misses, l2Hits: stats.levels.l2.hits },
          { l1Hits: 1, l1Misses: 1, l2Hits: 1 }
        )
        assert.strictEqual(stats.levels.l1.promotions, 1)
        assert.strictEqual(stats.levels.l2.state, "ok")
        assert.strictEqual(stats.hits, 2)
      })
    )

    it.scoped("keeps entries across restarts (a second manager on the same file)", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = path.join(dir, "c.db")
        yield* Effect.scoped(
          Effect.flatMap(CacheManager.make({ path: file, name: "l2-a" }), (c) => c.set("m", "k", [1, "two"]))
        )
        const again = yield* CacheManager.make({ path: file, name: "l2-b" })
        assert.deepStrictEqual(yield* again.get("m", "k"), Option.some([1, "two"]))
        assert.strictEqual((yield* again.stats).levels.l2.hits, 1)
      })
    )

    it.scoped("expires disk entries after their TTL (TestClock); a promoted entry keeps its expiry", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const cache = yield* CacheManager.make({ maxEntries: 1, path: path.join(dir, "c.db"), name: "l2-ttl" })
        yield* cache.set("m", "a", "A", { ttlMs: 1_000 })
        yield* cache.set("m", "b", "B", { ttlMs: 1_000 }) // a only on disk now
        yield* TestClock.adjust("500 millis")
        assert.deepStrictEqual(yield* cache.get("m", "a"), Option.some("A")) // from L2, promoted with its expiry
        yield* TestClock.adjust("500 millis")
        assert.isTrue(Option.isNone(yield* cache.get("m", "a")), "expired in L1 at the original time")
        assert.isTrue(Option.isNone(yield* cache.get("m", "b")), "expired in L2 too")
        const stats = yield* cache.stats
        assert.isAtLeast(stats.levels.l2.evictions, 1)
        assert.strictEqual(stats.hits, 1)
      })
    )

    it.scoped("purgeExpired removes expired rows from disk", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const cache = yield* CacheManager.make({ path: path.join(dir, "c.db"), name: "l2-purge" })
        yield* cache.set("m", "short", 1, { ttlMs: 10 })
        yield* cache.set("m", "long", 2, { ttlMs: 10_000 })
        assert.strictEqual(yield* cache.purgeExpired, 0)
        yield* TestClock.adjust("10 millis")
        assert.strictEqual(yield* cache.purgeExpired, 1)
        assert.deepStrictEqual(yield* cache.get("m", "long"), Option.some(2))
      })
    )
  })

  it.scoped("invalidateModule removes a module's entries from L1 and L2, and nothing else", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "c.db")
      const cache = yield* CacheManager.make({ maxEntries: 2, path: file, name: "invalidate" })
      for (const k of ["1", "2", "3"]) {
        yield* cache.set("qa", k, `qa-${k}`)
        yield* cache.set("summarize", k, `s-${k}`)
      }
      assert.strictEqual(yield* cache.invalidateModule("qa"), 3)
      for (const k of ["1", "2", "3"]) {
        assert.isTrue(Option.isNone(yield* cache.get("qa", k)))
        assert.deepStrictEqual(yield* cache.get("summarize", k), Option.some(`s-${k}`))
      }
      // Disk agrees: a fresh manager on the same file has no qa entries.
      const fresh = yield* CacheManager.make({ path: file, name: "invalidate-fresh" })
      assert.isTrue(Option.isNone(yield* fresh.get("qa", "1")))
      assert.deepStrictEqual(yield* fresh.get("summarize", "1"), Option.some("s-1"))
      yield* cache.clear
      assert.isTrue(Option.isNone(yield* cache.get("summarize", "2")))
      assert.isTrue(Option.isNone(yield* fresh.get("summarize", "3")))
    })
  )

  it.scoped("stats and the dspy.cache.hit_rate gauge (overall and per level)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const cache = yield* CacheManager.make({ maxEntries: 1, path: path.join(dir, "c.db"), name: "rate" })
      yield* cache.set("m", "a", 1)
      yield* cache.set("m", "b", 2)
      yield* cache.get("m", "b") // L1 hit
      yield* cache.get("m", "a") // L1 miss, L2 hit
      yield* cache.get("m", "x") // miss everywhere
      yield* cache.get("m", "y") // miss everywhere
      const stats = yield* cache.stats
      assert.deepStrictEqual([stats.hits, stats.misses, stats.hitRate], [2, 2, 0.5])
      assert.strictEqual(yield* gauge("rate"), 0.5)
      assert.strictEqual(yield* gauge("rate", "l1"), 0.25)
      assert.strictEqual(yield* gauge("rate", "l2"), 1 / 3)
    })
  )

  describe("bad input", () => {
    it.scoped("fails with CacheInvalidInput saying what to fix", () =>
      Effect.gen(function* () {
        const cache = yield* CacheManager.make({ name: "bad" })
        const emptyModule = yield* Effect.flip(cache.set("", "k", 1))
        assert.strictEqual(emptyModule._tag, "CacheInvalidInput")
        assert.strictEqual(emptyModule.code, "cache_invalid_input")
        assert.include(emptyModule.message, "module id")
        assert.include((yield* Effect.flip(cache.get("m", ""))).message, "key")
        assert.include((yield* Effect.flip(cache.set("m", "k", { f: () => 1 }))).message, "$.f")
        assert.include((yield* Effect.flip(cache.set("m", "k", [1, Number.NaN]))).message, "$[1]")
        assert.include((yield* Effect.flip(cache.set("m", "k", { at: new Date(0) }))).message, "Date")
        const cyclic: { self?: unknown } = {}
        cyclic.self = cyclic
        assert.include((yield* Effect.flip(cache.set("m", "k", cyclic))).message, "cycle")
        assert.include((yield* Effect.flip(cache.set("m", "k", 1, { ttlMs: -5 }))).message, "ttlMs")
        assert.include((yield* Effect.flip(cache.invalidateModule("a\u0000b"))).message, "control")
        assert.isTrue(Option.isNone(yield* cache.get("m", "k")), "nothing was stored")
      })
    )

    it.scoped("malformed settings are defects with a message, and a Redis URL is never echoed", () =>
      Effect.gen(function* () {
        const badUrl = yield* Effect.exit(CacheManager.make({ redis: { url: "localhost:6379?password=hunter2" } }))
        assert.isTrue(Exit.isFailure(badUrl))
        const text = Exit.isFailure(badUrl) ? Cause.pretty(badUrl.cause) : ""
        assert.include(text, "redis://")
        assert.notInclude(text, "hunter2")
        const badSize = yield* Effect.exit(CacheManager.make({ maxEntries: 0 }))
        assert.include(Exit.isFailure(badSize) ? Cause.pretty(badSize.cause) : "", "maxEntries")
      })
    )
  })

  describe("degradation", () => {
    it.scoped("an unusable SQLite path degrades L2 with an event; L1 keeps answering", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir // a directory is not a database file
        const cache = yield* CacheManager.make({ path: dir, name: "l2-broken" })
        yield* cache.set("m", "k", "v")
        assert.deepStrictEqual(yield* cache.get("m", "k"), Option.some("v"))
        const stats = yield* cache.stats
        assert.strictEqual(stats.levels.l2.state, "degraded")
        assert.strictEqual(stats.levels.l2.errors, 1)
        const events = yield* degradedEvents
        assert.strictEqual(events.length, 1)
        assert.strictEqual(events[0]!.data.level, "l2")
        assert.strictEqual(events[0]!.data.operation, "open")
        assert.strictEqual(events[0]!.data.fallback, "l1")
      }).pipe(Effect.provide(Events.layerMemory))
    )

    it.scoped("SQLite breaking mid-run degrades L2 once; reads and writes still succeed from L1", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = path.join(dir, "c.db")
        const cache = yield* CacheManager.make({ path: file, name: "l2-midrun" })
        yield* cache.set("m", "before", 1)
        // Another connection drops the table under the running cache.
        const other = yield* Layer.build(SqliteClient.layer({ filename: file }))
        const sql = Context.get(other, SqliteClient.SqliteClient)
        yield* sql`DROP TABLE dspy_cache`
        yield* cache.set("m", "after", 2)
        yield* cache.set("m", "again", 3)
        assert.deepStrictEqual(yield* cache.get("m", "before"), Option.some(1))
        assert.deepStrictEqual(yield* cache.get("m", "after"), Option.some(2))
        assert.isTrue(Option.isNone(yield* cache.get("m", "missing")))
        const stats = yield* cache.stats
        assert.strictEqual(stats.levels.l2.state, "degraded")
        const events = yield* degradedEvents
        assert.strictEqual(events.length, 1, "one event per state change, not per failed call")
        assert.strictEqual(events[0]!.data.operation, "write")
        assert.include(String(events[0]!.data.error), "dspy_cache")
      }).pipe(Effect.provide(Events.layerMemory))
    )
  })

  describe("storage that disappears", () => {
    it.scoped("a deleted L2 file degrades L2 with an event, L1 keeps serving, and a fresh file recovers it", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = path.join(dir, "c.db")
        const cache = yield* CacheManager.make({ path: file, name: "l2-deleted", diskRetryAfterMs: 1_000 })
        yield* cache.set("m", "before", 1)
        for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(file + suffix, { force: true })
        yield* cache.set("m", "after", 2)
        assert.strictEqual((yield* cache.stats).levels.l2.state, "degraded")
        const events = yield* degradedEvents
        assert.strictEqual(events.length, 1)
        assert.strictEqual(events[0]!.data.level, "l2")
        assert.include(String(events[0]!.data.error), "deleted")
        assert.deepStrictEqual(yield* cache.get("m", "before"), Option.some(1))
        assert.deepStrictEqual(yield* cache.get("m", "after"), Option.some(2))
        // A fresh file at the same path takes L2 back into use.
        yield* TestClock.adjust("1 seconds")
        yield* cache.checkLevels
        assert.strictEqual((yield* cache.stats).levels.l2.state, "ok")
        assert.isTrue(fs.existsSync(file))
        yield* cache.set("m", "later", 3)
        const fresh = yield* CacheManager.make({ path: file, name: "l2-deleted-fresh" })
        assert.deepStrictEqual(yield* fresh.get("m", "later"), Option.some(3))
      }).pipe(Effect.provide(Events.layerMemory))
    )
  })

  describe("recovery", () => {
    it.scoped("checkLevels reopens a degraded L2 after diskRetryAfterMs, dropping what it missed first", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = path.join(dir, "c.db")
        const cache = yield* CacheManager.make({ path: file, name: "l2-reopen", diskRetryAfterMs: 1_000 })
        yield* cache.set("n", "old", "to be invalidated")
        const other = yield* Layer.build(SqliteClient.layer({ filename: file }))
        const sql = Context.get(other, SqliteClient.SqliteClient)
        yield* sql`ALTER TABLE dspy_cache RENAME TO parked`
        // L2 fails on this invalidation: the row stays on disk while the cache runs on L1.
        assert.strictEqual(yield* cache.invalidateModule("n"), 1)
        assert.strictEqual((yield* cache.stats).levels.l2.state, "degraded")
        yield* cache.set("m", "during", 1)
        yield* sql`ALTER TABLE parked RENAME TO dspy_cache`
        yield* cache.checkLevels
        assert.strictEqual((yield* cache.stats).levels.l2.state, "degraded", "not before diskRetryAfterMs")
        yield* TestClock.adjust("1 seconds")
        yield* cache.checkLevels
        assert.strictEqual((yield* cache.stats).levels.l2.state, "ok")
        const recovered = yield* Effect.flatMap(Events.Events, (ev) => ev.query({ types: ["cache_level_recovered"] }))
        assert.deepStrictEqual(
          recovered.map((e) => e.data.level),
          ["l2"]
        )
        // The invalidation L2 missed was replayed: the stale row is gone; and L2 takes writes again.
        const fresh = yield* CacheManager.make({ path: file, name: "l2-reopen-fresh" })
        assert.isTrue(Option.isNone(yield* fresh.get("n", "old")))
        yield* cache.set("m", "after", 2)
        assert.deepStrictEqual(yield* fresh.get("m", "after"), Option.some(2))
      }).pipe(Effect.provide(Events.layerMemory))
    )
  })

  describe("switches and layers", () => {
    it.scoped("a disabled cache neither serves nor stores", () =>
      Effect.gen(function* () {
        const cache = yield* CacheManager.make({ name: "switch" })
        yield* cache.set("m", "k", 1)
        yield* cache.setEnabled(false)
        assert.isTrue(Option.isNone(yield* cache.get("m", "k")))
        yield* cache.set("m", "k2", 2)
        yield* cache.setEnabled(true)
        assert.deepStrictEqual(yield* cache.get("m", "k"), Option.some(1))
        assert.isTrue(Option.isNone(yield* cache.get("m", "k2")))
      })
    )

    it.scoped("layer follows modules.cacheEnabled and modules.cacheTtlMs at run time", () =>
      Effect.gen(function* () {
        const cache = yield* CacheManager.CacheManager
        yield* cache.set("m", "k", 1)
        yield* TestClock.adjust("4 seconds")
        assert.isTrue(Option.isSome(yield* cache.get("m", "k")))
        yield* TestClock.adjust("1 seconds")
        assert.isTrue(Option.isNone(yield* cache.get("m", "k")), "expired after the configured 5 s")
        yield* Config.update("modules.cacheTtlMs", 0)
        yield* Config.update("modules.cacheEnabled", false)
        yield* Effect.yieldNow()
        yield* cache.set("m", "k", 2)
        assert.isFalse(yield* cache.enabled)
        yield* Config.update("modules.cacheEnabled", true)
        yield* Effect.yieldNow()
        yield* cache.set("m", "k", 3)
        yield* TestClock.adjust("2 hours") // past the default TTL; the purge loop runs 12 times meanwhile
        assert.deepStrictEqual(yield* cache.get("m", "k"), Option.some(3))
      }).pipe(
        Effect.provide(
          CacheManager.layer({ name: "layer" }).pipe(
            Layer.provideMerge(Config.layerTest({ modules: { cacheTtlMs: 5_000 } }))
          )
        )
      )
    )

    it.scoped("layer without a Redis URL (or with an empty REDIS_URL) runs on L1 and L2", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const stats = yield* Effect.flatMap(CacheManager.CacheManager, (c) => c.stats).pipe(
          Effect.provide(
            CacheManager.layer({ name: "no-redis", path: path.join(dir, "c.db") }).pipe(
              Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", ""]])))),
              Layer.provide(Config.layerTest())
            )
          )
        )
        assert.deepStrictEqual(
          [stats.levels.l1.state, stats.levels.l2.state, stats.levels.l3.state],
          ["ok", "ok", "off"]
        )
      })
    )

    it.scoped("getOrCompute runs the computation once", () =>
      Effect.gen(function* () {
        let runs = 0
        const compute = Effect.sync(() => {
          runs++
          return { computed: runs }
        })
        const first = yield* CacheManager.CacheManager.pipe(
          Effect.flatMap((c) => c.getOrCompute("m", CacheManager.keyOf({ q: 1, a: [2] }), compute))
        )
        const second = yield* CacheManager.CacheManager.pipe(
          Effect.flatMap((c) => c.getOrCompute("m", CacheManager.keyOf({ a: [2], q: 1 }), compute))
        )
        assert.deepStrictEqual([first, second, runs], [{ computed: 1 }, { computed: 1 }, 1])
      }).pipe(Effect.provide(CacheManager.layerTest))
    )
  })

  describe("as the LM cache", () => {
    const response = (content: string): Completion.CompletionResponse => ({
      id: "r1",
      model: "m",
      choices: [{ index: 0, content, finishReason: "stop" }],
      usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
      costUsd: 0.001,
      cacheHit: false
    })

    it.scoped("LM answers repeated calls from the CacheManager until the module is invalidated", () => {
      let calls = 0
      const provider: Provider.Provider = {
        name: "counting",
        complete: (request) =>
          Effect.sync(() => {
            calls++
            return response(`answer ${calls} to ${request.messages[0]!.content}`)
          }),
        stream: () => Stream.empty,
        embed: () => Effect.succeed([])
      }
      return Effect.gen(function* () {
        const lm = yield* LM.LM
        const cache = yield* CacheManager.CacheManager
        const ask: LM.Request = { messages: [{ role: "user", content: "hi" }] }
        const first = yield* lm.complete(ask)
        const second = yield* lm.complete(ask)
        assert.strictEqual(calls, 1)
        assert.isFalse(first.cacheHit)
        assert.isTrue(second.cacheHit)
        assert.strictEqual(second.choices[0]!.content, "answer 1 to hi")
        assert.strictEqual(second.costUsd, 0)
        assert.strictEqual(second.usage.totalTokens, 0)
        assert.strictEqual((yield* cache.stats).levels.l1.hits, 1)
        assert.strictEqual(yield* cache.invalidateModule("lm-test"), 1)
        const third = yield* lm.complete(ask)
        assert.strictEqual(calls, 2)
        assert.strictEqual(third.choices[0]!.content, "answer 2 to hi")
      }).pipe(
        Effect.provide(
          LM.layerProvider(provider).pipe(
            Layer.provide(CacheManager.layerLMCache("lm-test")),
            Layer.provideMerge(CacheManager.layerTest)
          )
        )
      )
    })
  })

  describe("supervision", () => {
    it.scoped("the cache_manager process purges on its Clock timer, answers calls, and is restarted", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const cache = yield* CacheManager.make({ path: path.join(dir, "c.db"), name: "actor" })
        yield* cache.set("m", "short", 1, { ttlMs: 50 })
        yield* cache.set("m", "long", 2, { ttlMs: 0 })
        const root = yield* Supervisor.start({
          name: "root",
          strategy: "one_for_one",
          children: [CacheManager.childSpec(cache, { purgeIntervalMs: 100, checkIntervalMs: 1_000 })]
        })
        const childRef = Effect.map(
          Supervisor.whichChildren(root),
          (children) => children[0]!.process as Actor.ActorRef<CacheManager.ActorCall, CacheManager.ActorReply>
        )
        const ref = yield* childRef
        yield* TestClock.adjust("100 millis")
        // The call is handled after the timer's Purge message, so the purge is visible in the reply.
        const stats = (yield* Actor.call(ref, { _tag: "Stats" })) as CacheManager.Stats
        assert.strictEqual(stats.levels.l2.evictions, 1)
        assert.strictEqual(yield* Actor.call(ref, { _tag: "InvalidateModule", moduleId: "m" }), 1)
        const bad = yield* Actor.call(ref, { _tag: "InvalidateModule", moduleId: "" })
        assert.strictEqual((bad as ServicesError.CacheInvalidInput)._tag, "CacheInvalidInput")

        yield* Process.kill(ref)
        let restarted = ref
        for (let i = 0; i < 100 && restarted === ref; i++) {
          yield* Effect.yieldNow()
          restarted = yield* childRef
        }
        assert.notStrictEqual(restarted, ref)
        assert.strictEqual((yield* Supervisor.whichChildren(root))[0]!.restarts, 1)
        yield* cache.set("m", "again", 3, { ttlMs: 10 })
        yield* TestClock.adjust("100 millis")
        const after = (yield* Actor.call(restarted, { _tag: "Stats" })) as CacheManager.Stats
        assert.strictEqual(after.levels.l2.evictions, 2, "the restarted process purges again")
      })
    )
  })
})
