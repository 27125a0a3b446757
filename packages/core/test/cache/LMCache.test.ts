import { Events, Metrics } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as LMCache from "../../src/cache/LMCache.js"
import type * as Completion from "../../src/lm/Completion.js"
import { echoResponse } from "../lm/fixtures.js"

const request = (content: string): Completion.CompletionRequest => ({
  model: "m",
  messages: [{ role: "user", content }]
})

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "lmcache-"))

/** Runs `use` with a cache built in its own scope, closed afterwards (a "layer restart" between calls). */
const withCache = <A>(options: LMCache.Options, use: (cache: LMCache.Service) => Effect.Effect<A>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const cache = yield* LMCache.make(options).pipe(Scope.extend(scope))
    const result = yield* use(cache)
    yield* Scope.close(scope, Exit.void)
    return result
  })

describe("LMCache", () => {
  it.scoped("misses, then hits with a fresh copy marked as a hit with zero usage and cost", () =>
    Effect.gen(function* () {
      const cache = yield* LMCache.make()
      const req = request("a")
      const key = cache.key(req)
      assert.isTrue(Option.isNone(yield* cache.get(key)))
      const original = echoResponse(req)
      yield* cache.set(key, original)
      const hit = Option.getOrThrow(yield* cache.get(key))
      assert.isTrue(hit.cacheHit)
      assert.strictEqual(hit.costUsd, 0)
      assert.deepStrictEqual(hit.usage, { promptTokens: 0, completionTokens: 0, totalTokens: 0 })
      assert.deepStrictEqual(hit.choices, original.choices)
      const stats = yield* cache.stats
      assert.strictEqual(stats.hits, 1)
      assert.strictEqual(stats.misses, 1)
      assert.strictEqual(stats.hitRate, 0.5)
      assert.strictEqual(yield* Metric.value(Metrics.cacheHitRate).pipe(Effect.map((s) => s.value)), 0.5)
    })
  )

  it.scoped("hits are fresh copies: mutating one changes neither the cache nor the stored original", () =>
    Effect.gen(function* () {
      const cache = yield* LMCache.make()
      const req = request("a")
      const original = {
        ...echoResponse(req),
        choices: [
          {
            index: 0,
            content: "x",
            finishReason: "tool_calls" as const,
            toolCalls: [{ id: "t", name: "f", arguments: "{}" }]
          }
        ]
      }
      yield* cache.set(cache.key(req), original)
      ;(original.choices[0] as { content: string }).content = "changed after set"
      const first = Option.getOrThrow(yield* cache.get(cache.key(req)))
      ;(first.choices[0] as { content: string }).content = "mutated"
      ;(first.choices[0]!.toolCalls![0] as { arguments: string }).arguments = "mutated"
      ;(first.choices as Array<unknown>).push("extra")
      const second = Option.getOrThrow(yield* cache.get(cache.key(req)))
      assert.strictEqual(second.choices.length, 1)
      assert.strictEqual(second.choices[0]!.content, "x")
      assert.strictEqual(second.choices[0]!.toolCalls![0]!.arguments, "{}")
      assert.notStrictEqual(first, second)
    })
  )

  it.scoped("evicts the least recently used entry beyond maxEntries", () =>
    Effect.gen(function* () {
      const cache = yield* LMCache.make({ maxEntries: 2 })
      const [a, b, c] = ["a", "b", "c"].map((s) => cache.key(request(s))) as [string, string, string]
      yield* cache.set(a, echoResponse(request("a")))
      yield* cache.set(b, echoResponse(request("b")))
      yield* cache.get(a) // a is now the most recently used
      yield* cache.set(c, echoResponse(request("c")))
      assert.isTrue(Option.isSome(yield* cache.get(a)))
      assert.isTrue(Option.isNone(yield* cache.get(b)))
      assert.isTrue(Option.isSome(yield* cache.get(c)))
      assert.strictEqual((yield* cache.stats).memoryEntries, 2)
    })
  )

  it.scoped("expires entries after the TTL (TestClock)", () =>
    Effect.gen(function* () {
      const cache = yield* LMCache.make({ ttlMs: 1000 })
      const key = cache.key(request("a"))
      yield* cache.set(key, echoResponse(request("a")))
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isSome(yield* cache.get(key)))
      yield* TestClock.adjust("1 millis")
      assert.isTrue(Option.isNone(yield* cache.get(key)))
    })
  )

  it.scoped("can be switched off and on", () =>
    Effect.gen(function* () {
      const cache = yield* LMCache.make({ enabled: false })
      const key = cache.key(request("a"))
      yield* cache.set(key, echoResponse(request("a")))
      assert.isTrue(Option.isNone(yield* cache.get(key)))
      yield* cache.setEnabled(true)
      yield* cache.set(key, echoResponse(request("a")))
      assert.isTrue(Option.isSome(yield* cache.get(key)))
      yield* cache.setEnabled(false)
      assert.isTrue(Option.isNone(yield* cache.get(key)))
      assert.isFalse(yield* cache.enabled)
    })
  )

  it.effect("persists to SQLite across restarts, with expiry kept", () =>
    Effect.gen(function* () {
      const file = path.join(tmpDir(), "nested", "cache.db")
      const req = request("persist me")
      yield* withCache({ path: file, ttlMs: 10_000 }, (cache) => cache.set(cache.key(req), echoResponse(req)))
      assert.isTrue(fs.existsSync(file))
      const restored = yield* withCache({ path: file }, (cache) =>
        Effect.map(cache.get(cache.key(req)), (hit) => ({ hit }))
      )
      const hit = Option.getOrThrow(restored.hit)
      assert.strictEqual(hit.choices[0]!.content, "echo: persist me")
      assert.isTrue(hit.cacheHit)
      yield* TestClock.adjust("10 seconds")
      const expired = yield* withCache({ path: file }, (cache) => cache.get(cache.key(req)))
      assert.isTrue(Option.isNone(expired))
    })
  )

  it.effect("clear empties memory and disk", () =>
    Effect.gen(function* () {
      const file = path.join(tmpDir(), "cache.db")
      const req = request("x")
      yield* withCache({ path: file }, (cache) =>
        Effect.zipRight(cache.set(cache.key(req), echoResponse(req)), cache.clear)
      )
      assert.isTrue(Option.isNone(yield* withCache({ path: file }, (cache) => cache.get(cache.key(req)))))
    })
  )

  const degradedCase = (name: string, makePath: () => string) =>
    it.scoped(`falls back to memory with a cache_degraded event: ${name}`, () =>
      Effect.gen(function* () {
        const events = yield* Events.makeMemory()
        const file = makePath()
        const cache = yield* LMCache.make({ path: file }).pipe(Effect.provideService(Events.Events, events))
        assert.strictEqual((yield* cache.stats).disk, "degraded")
        const degraded = yield* events.query({ types: ["cache_degraded"] })
        assert.strictEqual(degraded.length, 1)
        assert.strictEqual(degraded[0]!.data.path, file)
        assert.strictEqual(degraded[0]!.data.fallback, "memory")
        assert.isString(degraded[0]!.data.error)
        const req = request("still works")
        yield* cache.set(cache.key(req), echoResponse(req))
        assert.isTrue(Option.isSome(yield* cache.get(cache.key(req))))
      })
    )

  degradedCase("unwritable path", () => {
    const blocker = path.join(tmpDir(), "not-a-dir")
    fs.writeFileSync(blocker, "a file where a directory should be")
    return path.join(blocker, "cache.db")
  })

  degradedCase("corrupt file", () => {
    const file = path.join(tmpDir(), "corrupt.db")
    fs.writeFileSync(file, Buffer.alloc(8192, 0x5a))
    return file
  })

  it.scoped("a disk file deleted while open degrades the cache to memory with a cache_degraded event", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const file = path.join(tmpDir(), "deleted.db")
      const cache = yield* LMCache.make({ path: file }).pipe(Effect.provideService(Events.Events, events))
      const before = request("before")
      yield* cache.set(cache.key(before), echoResponse(before))
      for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(file + suffix, { force: true })
      const after = request("after")
      yield* cache.set(cache.key(after), echoResponse(after))
      assert.strictEqual((yield* cache.stats).disk, "degraded")
      const degraded = yield* events.query({ types: ["cache_degraded"] })
      assert.strictEqual(degraded.length, 1)
      assert.include(String(degraded[0]!.data.error), "deleted")
      assert.isTrue(Option.isSome(yield* cache.get(cache.key(after))), "memory keeps serving")
    })
  )

  it.scoped("degrades without an Events service too (the warning is logged, nothing fails)", () =>
    Effect.gen(function* () {
      const file = path.join(tmpDir(), "corrupt.db")
      fs.writeFileSync(file, "garbage garbage garbage garbage")
      const cache = yield* LMCache.make({ path: file })
      assert.strictEqual((yield* cache.stats).disk, "degraded")
    })
  )
})
