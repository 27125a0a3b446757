/**
 * The CacheManager's engine: the read path (L1, then L2, then L3, promoting a hit into the levels above it),
 * write-through to every level, invalidation by module, per-level counters and the degradation of a broken
 * level. Public types and docs are in `CacheManager.ts`.
 */
import { Events, Metrics } from "@effect-dspy/foundation"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { copyJson, type Json } from "./cacheJson.js"
import { MemoryTier } from "./cacheMemory.js"
import * as Sqlite from "./cacheSqlite.js"
import * as RedisTier from "./redisTier.js"
import * as ServicesEvents from "../ServicesEvents.js"

/** The levels, top to bottom. */
export type Level = "l1" | "l2" | "l3"

/** A level's state: not configured, in use, or failed and skipped. */
export type LevelState = "off" | "ok" | "degraded"

/** A level's counters. */
export interface LevelStats {
  readonly state: LevelState
  readonly hits: number
  readonly misses: number
  readonly promotions: number
  readonly evictions: number
  readonly errors: number
}

/** Resolved settings (validated by the caller). */
export interface EngineOptions {
  readonly name: string
  readonly maxEntries: number
  readonly ttlMs: number
  readonly enabled: boolean
  readonly path: string | undefined
  /** After L2 fails, how long (Clock ms) before `checkLevels` tries to reopen it. */
  readonly diskRetryAfterMs: number
  readonly redis:
    | {
        readonly url: string
        readonly keyPrefix: string
        readonly timeoutMs: number
        readonly connectTimeoutMs: number
        readonly retryAfterMs: number
      }
    | undefined
}

interface Counters {
  state: LevelState
  hits: number
  misses: number
  promotions: number
  evictions: number
  errors: number
}

const counters = (state: LevelState): Counters => ({
  state,
  hits: 0,
  misses: 0,
  promotions: 0,
  evictions: 0,
  errors: 0
})

/** The engine's operations (inputs already validated, values already checked and copied). */
export interface Engine {
  readonly get: (moduleId: string, key: string) => Effect.Effect<Option.Option<Json>>
  readonly set: (moduleId: string, key: string, value: Json, ttlMs: number | undefined) => Effect.Effect<void>
  readonly delete: (moduleId: string, key: string) => Effect.Effect<void>
  readonly invalidateModule: (moduleId: string) => Effect.Effect<number>
  readonly clear: Effect.Effect<void>
  readonly purgeExpired: Effect.Effect<number>
  readonly stats: Effect.Effect<{
    readonly hits: number
    readonly misses: number
    readonly hitRate: number
    readonly entries: number
    readonly remoteInvalidations: number
    readonly levels: { readonly l1: LevelStats; readonly l2: LevelStats; readonly l3: LevelStats }
  }>
  readonly enabled: Effect.Effect<boolean>
  readonly setEnabled: (enabled: boolean) => Effect.Effect<void>
  readonly setTtl: (ttlMs: number) => Effect.Effect<void>
  readonly ttlMs: Effect.Effect<number>
  /** A count of the changes that can make a cached answer stale (deletes, invalidations, clears, settings). */
  readonly generation: () => number
  readonly redisPttl: (moduleId: string, key: string) => Effect.Effect<Option.Option<number>>
  /** Brings a degraded Redis back when it is usable again (without waiting for traffic). */
  readonly checkLevels: Effect.Effect<void>
  /** The namespaces (module ids) holding entries at any level; the levels that could not be read. */
  readonly namespaces: Effect.Effect<{
    readonly namespaces: ReadonlyArray<string>
    readonly unavailable: ReadonlyArray<Level>
  }>
  /** Every live entry of a namespace at every level; the levels that could not be read. */
  readonly entries: (moduleId: string) => Effect.Effect<{
    readonly entries: ReadonlyArray<{ readonly level: Level; readonly key: string; readonly value: Json }>
    readonly unavailable: ReadonlyArray<Level>
  }>
}

/** Builds the engine; levels that cannot be opened start degraded (with an event), never fail the build. */
export const make = (options: EngineOptions): Effect.Effect<Engine, never, Scope.Scope> =>
  Effect.gen(function* () {
    const events = yield* Effect.serviceOption(Events.Events)
    const l1 = new MemoryTier(options.maxEntries)
    const stats = { l1: counters("ok"), l2: counters("off"), l3: counters("off") }
    let enabled = options.enabled
    let ttlMs = options.ttlMs
    let hits = 0
    let misses = 0
    let remoteInvalidations = 0
    let generation = 0
    let disk: Sqlite.DiskTier | undefined
    let diskScope: Scope.CloseableScope | undefined
    const engineScope = yield* Effect.scope
    // L2 while degraded: when to reopen it, and what it missed (replayed before it is used again).
    let diskRetryAt = 0
    let diskReopening = false
    let diskPendingClear = false
    const diskPendingModules = new Set<string>()
    /** Records that L2 missed a change to a module (or everything, `undefined`) while it was unusable. */
    const diskMissed = (moduleId: string | undefined): void => {
      if (options.path === undefined) return
      if (moduleId === undefined) diskPendingClear = true
      else diskPendingModules.add(moduleId)
    }
    let redis: RedisTier.RedisTier | undefined
    // Redis state while it is degraded: when to try it again, and what must be invalidated there first (writes
    // and invalidations it missed), so that it never serves an entry that was replaced or invalidated meanwhile.
    let redisRetryAt = 0
    let redisPendingClear = false
    let redisRecovering = false
    const redisPendingModules = new Set<string>()

    const nameLabel = MetricLabel.make("cache", options.name)
    const overallLabels = [nameLabel]
    const levelLabels = {
      l1: [nameLabel, MetricLabel.make("level", "l1")],
      l2: [nameLabel, MetricLabel.make("level", "l2")],
      l3: [nameLabel, MetricLabel.make("level", "l3")]
    }
    const rate = (h: number, m: number) => (h + m === 0 ? 0 : h / (h + m))

    const where = (level: "l2" | "l3"): string =>
      level === "l2" ? (options.path ?? "") : redis !== undefined ? redis.endpoint : ""

    const degrade = (level: "l2" | "l3", operation: string, error: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        stats[level].errors++
        if (level === "l3") redisRetryAt = (yield* Clock.currentTimeMillis) + (options.redis?.retryAfterMs ?? 1_000)
        else diskRetryAt = (yield* Clock.currentTimeMillis) + options.diskRetryAfterMs
        if (stats[level].state === "degraded") return
        stats[level].state = "degraded"
        const fallback = level === "l2" ? "l1" : stats.l2.state === "ok" ? "l1+l2" : "l1"
        yield* Effect.logWarning(`cache ${level} unavailable (${operation}): ${error}; continuing with ${fallback}`)
        yield* Events.publishOrLog(
          ServicesEvents.CacheLevelDegraded,
          {
            cache: options.name,
            level,
            target: where(level),
            operation,
            error,
            fallback
          },
          { events }
        )
      })

    /** Whether Redis may be used now; brings it back (replaying what it missed) when it has recovered. */
    const redisUsable: Effect.Effect<RedisTier.RedisTier | undefined> = Effect.suspend(() => {
      // The common cases without a generator: no Redis, or Redis up and in use.
      const tier = redis
      if (tier === undefined) return Effect.succeed(undefined)
      if (stats.l3.state === "ok" && tier.ready()) return Effect.succeed(tier)
      return redisCheck(tier)
    })

    const redisCheck = (tier: RedisTier.RedisTier): Effect.Effect<RedisTier.RedisTier | undefined> =>
      Effect.gen(function* () {
        if (stats.l3.state === "ok") {
          if (tier.ready()) return tier
          yield* degrade("l3", "connection", "not connected")
          return undefined
        }
        // One fiber replays; concurrent callers keep skipping Redis until it is done.
        if (redisRecovering || !tier.ready() || (yield* Clock.currentTimeMillis) < redisRetryAt) return undefined
        redisRecovering = true
        // Writes made meanwhile skip Redis and add to the pending sets: replay until nothing is left, then switch
        // back without yielding, so nothing can slip in between.
        const replayed = yield* Effect.gen(function* () {
          while (redisPendingClear || redisPendingModules.size > 0) {
            const clearAll = redisPendingClear
            const modules = [...redisPendingModules]
            redisPendingClear = false
            redisPendingModules.clear()
            const replay = yield* Effect.either(
              Effect.gen(function* () {
                if (clearAll) yield* tier.clear
                for (const moduleId of modules) yield* tier.deleteModule(moduleId)
              })
            )
            if (replay._tag === "Left") {
              if (clearAll) redisPendingClear = true
              for (const moduleId of modules) redisPendingModules.add(moduleId)
              yield* degrade("l3", "recover", replay.left)
              return false
            }
          }
          stats.l3.state = "ok" // in the same synchronous step as the check that nothing is pending
          return true
        }).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              redisRecovering = false
            })
          )
        )
        if (!replayed) return undefined
        yield* Effect.logInfo(`cache l3 available again at ${tier.endpoint}`)
        yield* Events.publishOrLog(
          ServicesEvents.CacheLevelRecovered,
          { cache: options.name, level: "l3", target: tier.endpoint },
          { events }
        )
        return tier
      })

    /**
     * A change to L2: skipped while L2 is unusable, and on failure L2 is degraded; either way it is recorded as
     * missed, so a reopened L2 drops the module's entries before serving them again.
     */
    const diskWrite = (
      moduleId: string | undefined,
      operation: string,
      run: (tier: Sqlite.DiskTier) => Effect.Effect<unknown, string>
    ): Effect.Effect<void> => {
      const tier = disk
      if (tier === undefined || stats.l2.state !== "ok") {
        diskMissed(moduleId)
        return Effect.void
      }
      return Effect.catchAll(Effect.asVoid(run(tier)), (e) => {
        diskMissed(moduleId)
        return degrade("l2", operation, e)
      })
    }

    /** Opens the SQLite tier in its own scope (closed when the tier is replaced, or on failure). */
    const openDisk = (path: string) =>
      Effect.gen(function* () {
        const child = yield* Scope.fork(engineScope, ExecutionStrategy.sequential)
        const opened = yield* Effect.either(Scope.extend(Sqlite.open(path), child))
        if (opened._tag === "Left") {
          yield* Scope.close(child, Exit.void)
          return Either.left(opened.left)
        }
        return Either.right([opened.right, child] as const)
      })

    /** Reopens a degraded L2 (after `diskRetryAfterMs`), replaying what it missed before using it again. */
    const diskReopen: Effect.Effect<void> = Effect.gen(function* () {
      const path = options.path
      if (path === undefined || stats.l2.state !== "degraded" || diskReopening) return
      if ((yield* Clock.currentTimeMillis) < diskRetryAt) return
      diskReopening = true
      const opened = yield* openDisk(path)
      if (opened._tag === "Left") {
        diskRetryAt = (yield* Clock.currentTimeMillis) + options.diskRetryAfterMs
        return
      }
      const [tier, scope] = opened.right
      while (diskPendingClear || diskPendingModules.size > 0) {
        const clearAll = diskPendingClear
        const modules = [...diskPendingModules]
        diskPendingClear = false
        diskPendingModules.clear()
        const now = yield* Clock.currentTimeMillis
        const replay = yield* Effect.either(
          Effect.gen(function* () {
            if (clearAll) yield* tier.clear
            for (const moduleId of modules) yield* tier.deleteModule(moduleId, now)
          })
        )
        if (replay._tag === "Left") {
          if (clearAll) diskPendingClear = true
          for (const moduleId of modules) diskPendingModules.add(moduleId)
          diskRetryAt = now + options.diskRetryAfterMs
          yield* Scope.close(scope, Exit.void)
          return
        }
      }
      // Swapped in the same synchronous step as the check that nothing is pending.
      const previous = diskScope
      disk = tier
      diskScope = scope
      stats.l2.state = "ok"
      if (previous !== undefined) yield* Scope.close(previous, Exit.void)
      yield* Effect.logInfo(`cache l2 available again at ${path}`)
      yield* Events.publishOrLog(
        ServicesEvents.CacheLevelRecovered,
        { cache: options.name, level: "l2", target: path },
        { events }
      )
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          diskReopening = false
        })
      )
    )

    /** An invalidation made by another instance: drop it from this instance's L1 and L2. */
    const applyRemote = (invalidation: RedisTier.Invalidation): Effect.Effect<void> =>
      Effect.gen(function* () {
        remoteInvalidations++
        generation++
        const now = yield* Clock.currentTimeMillis
        if (invalidation.op === "clear") l1.clear()
        else if (invalidation.op === "module") l1.deleteModule(invalidation.moduleId, now)
        else l1.delete(invalidation.moduleId, invalidation.key)
        yield* diskWrite(invalidation.op === "clear" ? undefined : invalidation.moduleId, "invalidate", (tier) =>
          invalidation.op === "clear"
            ? tier.clear
            : invalidation.op === "module"
              ? tier.deleteModule(invalidation.moduleId, now)
              : tier.delete(invalidation.moduleId, invalidation.key)
        )
      })

    if (options.path !== undefined) {
      stats.l2.state = "ok"
      const opened = yield* openDisk(options.path)
      if (opened._tag === "Right") [disk, diskScope] = opened.right
      else yield* degrade("l2", "open", opened.left)
    }
    if (options.redis !== undefined) {
      stats.l3.state = "ok"
      const inbox = yield* Queue.unbounded<RedisTier.Invalidation>()
      yield* Effect.addFinalizer(() => Queue.shutdown(inbox))
      yield* Queue.take(inbox).pipe(Effect.flatMap(applyRemote), Effect.forever, Effect.forkScoped)
      const opened = yield* RedisTier.open(options.redis, (invalidation) => {
        Queue.unsafeOffer(inbox, invalidation)
      })
      redis = opened.tier
      if (!opened.connected) yield* degrade("l3", "connect", opened.error === "" ? "not connected" : opened.error)
    }

    const record = (hit: boolean): void => {
      if (hit) hits++
      else misses++
      Metrics.cacheHitRate.unsafeUpdate(rate(hits, misses), overallLabels)
    }
    const recordLevel = (level: Level, hit: boolean): void => {
      const c = stats[level]
      if (hit) c.hits++
      else c.misses++
      Metrics.cacheHitRate.unsafeUpdate(rate(c.hits, c.misses), levelLabels[level])
    }
    const l1Set = (moduleId: string, key: string, value: Json, expiresAt: number): void => {
      l1.set({ moduleId, key, value, expiresAt })
      stats.l1.evictions = l1.evictions
    }

    const fromDisk = (moduleId: string, key: string, now: number): Effect.Effect<Option.Option<Json>> => {
      const tier = disk
      if (tier === undefined || stats.l2.state !== "ok") return fromRedis(moduleId, key, now)
      return Effect.flatMap(Effect.either(tier.get(moduleId, key)), (found) => {
        if (found._tag === "Left")
          return Effect.zipRight(degrade("l2", "read", found.left), fromRedis(moduleId, key, now))
        const entry = found.right
        if (Option.isSome(entry) && (entry.value.expiresAt === 0 || now < entry.value.expiresAt)) {
          recordLevel("l2", true)
          record(true)
          l1Set(moduleId, key, entry.value.value, entry.value.expiresAt)
          stats.l1.promotions++
          return Effect.succeed(Option.some(copyJson(entry.value.value)))
        }
        recordLevel("l2", false)
        if (Option.isNone(entry)) return fromRedis(moduleId, key, now)
        stats.l2.evictions++
        return Effect.zipRight(
          Effect.catchAll(tier.delete(moduleId, key), (e) => degrade("l2", "delete", e)),
          fromRedis(moduleId, key, now)
        )
      })
    }

    const fromRedis = (moduleId: string, key: string, now: number): Effect.Effect<Option.Option<Json>> =>
      Effect.flatMap(redisUsable, (tier) => {
        if (tier === undefined) {
          record(false)
          return Effect.succeedNone
        }
        return Effect.flatMap(Effect.either(tier.get(moduleId, key)), (found) => {
          if (found._tag === "Left") {
            record(false)
            return Effect.as(degrade("l3", "read", found.left), Option.none())
          }
          const entry = found.right
          if (Option.isNone(entry)) {
            recordLevel("l3", false)
            record(false)
            return Effect.succeedNone
          }
          recordLevel("l3", true)
          record(true)
          const { value, pttl } = entry.value
          const expiresAt = pttl > 0 ? now + pttl : 0
          l1Set(moduleId, key, value, expiresAt)
          stats.l1.promotions++
          const promoteToDisk = diskWrite(moduleId, "write", (disk) =>
            Effect.tap(disk.set(moduleId, key, value, expiresAt), () => {
              stats.l2.promotions++
            })
          )
          return Effect.as(promoteToDisk, Option.some(copyJson(value)))
        })
      })

    const get = (moduleId: string, key: string): Effect.Effect<Option.Option<Json>> =>
      Effect.clockWith((clock) => {
        if (!enabled) return Effect.succeedNone
        const now = clock.unsafeCurrentTimeMillis()
        const entry = l1.get(moduleId, key, now)
        stats.l1.evictions = l1.evictions
        if (entry !== undefined) {
          recordLevel("l1", true)
          record(true)
          return Effect.succeed(Option.some(copyJson(entry.value)))
        }
        recordLevel("l1", false)
        return fromDisk(moduleId, key, now)
      })

    const set = (moduleId: string, key: string, value: Json, entryTtl: number | undefined): Effect.Effect<void> =>
      Effect.clockWith((clock) => {
        if (!enabled) return Effect.void
        const ttl = entryTtl ?? ttlMs
        const expiresAt = ttl === 0 ? 0 : clock.unsafeCurrentTimeMillis() + ttl
        l1Set(moduleId, key, value, expiresAt)
        const toDisk = diskWrite(moduleId, "write", (disk) => disk.set(moduleId, key, value, expiresAt))
        const toRedis = Effect.flatMap(redisUsable, (tier) => {
          if (tier === undefined) {
            if (redis !== undefined) redisPendingModules.add(moduleId)
            return Effect.void
          }
          return Effect.catchAll(tier.set(moduleId, key, JSON.stringify(value), ttl), (e) => {
            redisPendingModules.add(moduleId)
            return degrade("l3", "write", e)
          })
        })
        return Effect.zipRight(toDisk, toRedis)
      })

    const del = (moduleId: string, key: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        generation++
        l1.delete(moduleId, key)
        const fromDiskTier = diskWrite(moduleId, "delete", (disk) => disk.delete(moduleId, key))
        const fromRedisTier = Effect.flatMap(redisUsable, (tier) => {
          if (tier === undefined) {
            if (redis !== undefined) redisPendingModules.add(moduleId)
            return Effect.void
          }
          return Effect.catchAll(tier.delete(moduleId, key), (e) => {
            redisPendingModules.add(moduleId)
            return degrade("l3", "delete", e)
          })
        })
        return Effect.zipRight(fromDiskTier, fromRedisTier)
      })

    const invalidateModule = (moduleId: string): Effect.Effect<number> =>
      Effect.gen(function* () {
        generation++
        const now = yield* Clock.currentTimeMillis
        const inMemory = l1.deleteModule(moduleId, now)
        let onDisk = 0
        yield* diskWrite(moduleId, "invalidate", (disk) =>
          Effect.map(disk.deleteModule(moduleId, now), (n) => {
            onDisk = n
          })
        )
        let inRedis = 0
        const tier = yield* redisUsable
        if (tier !== undefined) {
          const removed = yield* Effect.either(tier.deleteModule(moduleId))
          if (removed._tag === "Right") inRedis = removed.right
          else {
            redisPendingModules.add(moduleId)
            yield* degrade("l3", "invalidate", removed.left)
          }
        } else if (redis !== undefined) redisPendingModules.add(moduleId)
        return Math.max(inMemory, onDisk, inRedis)
      })

    const clear: Effect.Effect<void> = Effect.gen(function* () {
      generation++
      l1.clear()
      yield* diskWrite(undefined, "clear", (disk) => disk.clear)
      const tier = yield* redisUsable
      if (tier !== undefined) {
        const cleared = yield* Effect.either(tier.clear)
        if (cleared._tag === "Left") {
          redisPendingClear = true
          yield* degrade("l3", "clear", cleared.left)
        }
      } else if (redis !== undefined) redisPendingClear = true
    })

    const purgeExpired: Effect.Effect<number> = Effect.gen(function* () {
      const tier = disk
      if (tier === undefined || stats.l2.state !== "ok") return 0
      const now = yield* Clock.currentTimeMillis
      const removed = yield* Effect.either(tier.deleteExpired(now))
      if (removed._tag === "Left") {
        yield* degrade("l2", "purge", removed.left)
        return 0
      }
      stats.l2.evictions += removed.right
      return removed.right
    })

    const snapshot = (c: Counters): LevelStats => ({
      state: c.state,
      hits: c.hits,
      misses: c.misses,
      promotions: c.promotions,
      evictions: c.evictions,
      errors: c.errors
    })

    const configuredDisk = options.path !== undefined
    const namespaces: Engine["namespaces"] = Effect.gen(function* () {
      const found = new Set(l1.modules())
      const unavailable: Array<Level> = []
      const tier = disk
      if (tier !== undefined && stats.l2.state === "ok") {
        const listed = yield* Effect.either(tier.modules)
        if (listed._tag === "Right") for (const m of listed.right) found.add(m)
        else unavailable.push("l2")
      } else if (configuredDisk) unavailable.push("l2")
      const l3 = redis
      if (l3 !== undefined) {
        const listed = yield* Effect.either(l3.modules)
        if (listed._tag === "Right") for (const m of listed.right) found.add(m)
        else unavailable.push("l3")
      }
      return { namespaces: [...found].sort(), unavailable }
    })
    const entries: Engine["entries"] = (moduleId) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const out: Array<{ readonly level: Level; readonly key: string; readonly value: Json }> = []
        const unavailable: Array<Level> = []
        for (const e of l1.entriesOf(moduleId, now)) out.push({ level: "l1", key: e.key, value: copyJson(e.value) })
        const tier = disk
        if (tier !== undefined && stats.l2.state === "ok") {
          const listed = yield* Effect.either(tier.entries(moduleId, now))
          if (listed._tag === "Right") for (const e of listed.right) out.push({ level: "l2", ...e })
          else unavailable.push("l2")
        } else if (configuredDisk) unavailable.push("l2")
        const l3 = redis
        if (l3 !== undefined) {
          const listed = yield* Effect.either(l3.entries(moduleId))
          if (listed._tag === "Right") for (const e of listed.right) out.push({ level: "l3", ...e })
          else unavailable.push("l3")
        }
        return { entries: out, unavailable }
      })

    const engine: Engine = {
      namespaces,
      entries,
      get,
      set,
      delete: del,
      invalidateModule,
      clear,
      purgeExpired,
      stats: Effect.sync(() => ({
        hits,
        misses,
        hitRate: rate(hits, misses),
        entries: l1.size,
        remoteInvalidations,
        levels: { l1: snapshot(stats.l1), l2: snapshot(stats.l2), l3: snapshot(stats.l3) }
      })),
      enabled: Effect.sync(() => enabled),
      setEnabled: (value) =>
        Effect.sync(() => {
          if (value !== enabled) generation++
          enabled = value
        }),
      setTtl: (value) =>
        Effect.sync(() => {
          if (value !== ttlMs) generation++
          ttlMs = value
        }),
      ttlMs: Effect.sync(() => ttlMs),
      generation: () => generation,
      checkLevels: Effect.zipRight(redisUsable, diskReopen),
      redisPttl: (moduleId, key) =>
        redis === undefined
          ? Effect.succeedNone
          : Effect.map(
              Effect.option(redis.pttl(moduleId, key)),
              Option.filter((n) => n !== -2)
            )
    }
    return engine
  })
