/**
 * The LM cache: a bounded in-memory LRU in front of an optional SQLite disk cache. Keys are {@link CacheKey}
 * hashes of the canonical request. A hit returns a fresh deep copy marked `cacheHit: true` with zero usage and
 * cost, so mutating it never changes what is cached. Entries expire after `ttlMs` (read from Effect's Clock).
 * The cache can be switched off globally (config `modules.cacheEnabled`) and skipped per call (see `LM`).
 * A disk cache that cannot be opened or written (unwritable path, corrupt file) is dropped: the cache keeps
 * working in memory and records a `cache_degraded` event; it never fails a call.
 *
 * @since 0.1.0
 */
import { Config, Events, Metrics } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Completion from "../lm/Completion.js"
import * as CoreEvents from "../CoreEvents.js"
import * as CacheKey from "./CacheKey.js"
import { hitCopy } from "./internal/copy.js"
import * as Disk from "./internal/disk.js"
import { Lru } from "./internal/lru.js"

/**
 * Cache settings. `ttlMs` 0 means entries never expire; without `path` the cache lives in memory only.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Most entries kept in memory (least recently used evicted first); default 10,000. */
  readonly maxEntries?: number
  /** Time to live of an entry in milliseconds; default one hour; 0 disables expiry. */
  readonly ttlMs?: number
  /** The SQLite file of the disk tier; leave out for a memory-only cache. */
  readonly path?: string
  /** Whether the cache serves and stores at all; default true. */
  readonly enabled?: boolean
}

/**
 * Counters of the cache. `hitRate` is hits / (hits + misses), also published as `dspy.cache.hit_rate`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly hits: number
  readonly misses: number
  readonly hitRate: number
  readonly memoryEntries: number
  /** `off`: no disk tier configured; `ok`: in use; `degraded`: it failed and the cache runs in memory. */
  readonly disk: "off" | "ok" | "degraded"
}

/**
 * The LMCache service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The key of a request (see {@link CacheKey.make}). */
  readonly key: (request: Completion.CompletionRequest) => string
  /** A fresh copy of the cached response, marked as a hit; none when absent, expired or the cache is off. */
  readonly get: (key: string) => Effect.Effect<Option.Option<Completion.CompletionResponse>>
  /** Stores a response (a copy is kept; later changes to `response` do not reach the cache). */
  readonly set: (key: string, response: Completion.CompletionResponse) => Effect.Effect<void>
  /** Whether the cache is on. */
  readonly enabled: Effect.Effect<boolean>
  /** Switches the cache on or off (what is stored stays). */
  readonly setEnabled: (enabled: boolean) => Effect.Effect<void>
  /** Changes the time to live of entries stored from now on (0: no expiry). */
  readonly setTtl: (ttlMs: number) => Effect.Effect<void>
  /** The counters. */
  readonly stats: Effect.Effect<Stats>
  /** Removes every entry, in memory and on disk. */
  readonly clear: Effect.Effect<void>
}

/**
 * The LMCache service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class LMCache extends Context.Tag("@effect-dspy/core/LMCache")<LMCache, Service>() {}

interface MemoryEntry {
  readonly response: Completion.CompletionResponse
  readonly expiresAt: number
}

/**
 * Builds a cache. The disk tier (when `path` is given) is opened now; if that fails the cache starts in
 * memory and records a `cache_degraded` event through `Events` when that service is present.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const maxEntries = options.maxEntries ?? 10_000
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      return yield* Effect.dieMessage(`LMCache: maxEntries must be a positive integer, got ${maxEntries}`)
    }
    const events = yield* Effect.serviceOption(Events.Events)
    const memory = new Lru<MemoryEntry>(maxEntries)
    let enabled = options.enabled ?? true
    let ttlMs = options.ttlMs ?? 3_600_000
    let hits = 0
    let misses = 0
    let disk: Disk.DiskStore | undefined
    let diskState: Stats["disk"] = options.path === undefined ? "off" : "ok"

    const degrade = (operation: string, error: string): Effect.Effect<void> => {
      disk = undefined
      diskState = "degraded"
      return Effect.zipRight(
        Effect.logWarning(`LM disk cache unavailable (${operation}): ${error}; continuing in memory`),
        Option.isNone(events)
          ? Effect.void
          : Effect.asVoid(
              Events.publishOrLog(
                CoreEvents.CacheDegraded,
                { path: options.path ?? null, operation, error, fallback: "memory" },
                { events }
              )
            )
      )
    }

    if (options.path !== undefined) {
      const opened = yield* Effect.either(Disk.open(options.path))
      if (opened._tag === "Right") disk = opened.right
      else yield* degrade("open", opened.left)
    }

    const record = (hit: boolean): void => {
      if (hit) hits++
      else misses++
      Metrics.cacheHitRate.unsafeUpdate(hits / (hits + misses), [])
    }

    const fromDisk = (key: string, now: number): Effect.Effect<Option.Option<Completion.CompletionResponse>> => {
      const store = disk
      if (store === undefined) {
        record(false)
        return Effect.succeedNone
      }
      return store.get(key).pipe(
        Effect.flatMap((found) => {
          if (Option.isSome(found) && (found.value.expiresAt === 0 || now < found.value.expiresAt)) {
            memory.set(key, found.value)
            record(true)
            return Effect.succeed(Option.some(hitCopy(found.value.response)))
          }
          record(false)
          return Option.isSome(found) ? Effect.as(store.remove(key), Option.none()) : Effect.succeedNone
        }),
        Effect.catchAll((error) =>
          Effect.as(degrade("read", error.message), Option.none<Completion.CompletionResponse>())
        )
      )
    }

    const service: Service = {
      key: CacheKey.make,
      get: (key) =>
        Effect.clockWith((clock) => {
          if (!enabled) return Effect.succeedNone
          const now = clock.unsafeCurrentTimeMillis()
          const entry = memory.get(key)
          if (entry !== undefined) {
            if (entry.expiresAt === 0 || now < entry.expiresAt) {
              record(true)
              return Effect.succeed(Option.some(hitCopy(entry.response)))
            }
            memory.delete(key)
          }
          return fromDisk(key, now)
        }),
      set: (key, response) =>
        Effect.clockWith((clock) => {
          if (!enabled) return Effect.void
          const entry: MemoryEntry = {
            response: hitCopy(response),
            expiresAt: ttlMs === 0 ? 0 : clock.unsafeCurrentTimeMillis() + ttlMs
          }
          memory.set(key, entry)
          const store = disk
          if (store === undefined) return Effect.void
          return store.set(key, entry).pipe(Effect.catchAll((error) => degrade("write", error.message)))
        }),
      enabled: Effect.sync(() => enabled),
      setEnabled: (value) =>
        Effect.sync(() => {
          enabled = value
        }),
      setTtl: (value) =>
        Effect.sync(() => {
          ttlMs = value
        }),
      stats: Effect.sync(() => ({
        hits,
        misses,
        hitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
        memoryEntries: memory.size,
        disk: diskState
      })),
      clear: Effect.suspend(() => {
        memory.clear()
        const store = disk
        if (store === undefined) return Effect.void
        return store.clear.pipe(Effect.catchAll((error) => degrade("clear", error.message)))
      })
    }
    return service
  })

/**
 * A cache layer with fixed settings.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<LMCache> => Layer.scoped(LMCache, make(options))

/**
 * A memory-only cache layer (no disk tier).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: Omit<Options, "path"> & { readonly path?: never } = {}): Layer.Layer<LMCache> =>
  Layer.scoped(LMCache, make(options))

/**
 * A cache layer that follows the configuration: `modules.cacheEnabled` and `modules.cacheTtlMs`, read at start
 * and applied again whenever they change at run time.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "enabled" | "ttlMs"> = {}
): Layer.Layer<LMCache, never, Config.Config> =>
  Layer.scoped(
    LMCache,
    Effect.gen(function* () {
      const config = yield* Config.Config
      const current = yield* config.current
      const cache = yield* make({
        ...options,
        enabled: current.modules.cacheEnabled,
        ttlMs: current.modules.cacheTtlMs
      })
      const follow = (path: string, apply: (value: unknown) => Effect.Effect<void>) =>
        config.watch(path).pipe(
          Stream.runForEach(apply),
          Effect.catchAll((e) => Effect.logWarning(`LMCache cannot follow ${path}: ${e.message}`)),
          Effect.forkScoped
        )
      yield* follow("modules.cacheEnabled", (v) => (typeof v === "boolean" ? cache.setEnabled(v) : Effect.void))
      yield* follow("modules.cacheTtlMs", (v) => (typeof v === "number" ? cache.setTtl(v) : Effect.void))
      return cache
    })
  )
