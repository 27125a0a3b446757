/**
 * CacheManager: the application's multi-level cache of JSON values (LM responses, predictions), namespaced by
 * module.
 *
 * - **L1** memory LRU (bounded; least recently used evicted first), **L2** SQLite on disk, optional **L3**
 *   Redis. A lookup tries L1, then L2, then L3; a hit is promoted into the levels above it (an L2 hit is written
 *   to L1, an L3 hit to L2 and L1) with the same expiry. A write goes to every level.
 * - Keys are `(moduleId, key)`; `key` is usually {@link keyOf} a request (sha256 of its canonical JSON).
 *   {@link Service.invalidateModule} removes a module's entries at every level (L1 by an index, L2 by the
 *   indexed module column, L3 by a per-module set of keys). With Redis, invalidations are also published on
 *   `<prefix>:invalidations`, so every instance sharing the Redis drops them from its own L1 and L2.
 * - Entries expire after their time to live: read from Effect's Clock in L1/L2, Redis `PX` in L3.
 * - A hit returns a fresh copy: changing it never changes what is cached. Values must be JSON: anything else
 *   fails with {@link CacheInvalidInput} naming the path at fault.
 * - A broken level (an unusable SQLite file, Redis down) is skipped with a `cache_level_degraded` event and the
 *   cache keeps answering from the other levels; every Redis command is bounded by a timeout. A level is used
 *   again once it is back (Redis when it answers, L2 when it can be reopened; `cache_level_recovered`), after
 *   the invalidations and writes it missed are replayed there as module invalidations, so it never serves a
 *   stale entry.
 * - Counters per level (hits, misses, promotions, evictions, errors) and the `dspy.cache.hit_rate` gauge, tagged
 *   `cache=<name>` (overall) and `cache=<name>,level=l1|l2|l3` (per level).
 *
 * {@link lmCache} / {@link layerLMCache} adapt it to the core `LMCache` interface, so `LM` can use it as its
 * cache. {@link childSpec} is its process in the application's supervision tree (`cache_manager`: periodic
 * purge of expired L2 entries and Redis re-checks, calls for stats and invalidation).
 *
 * @since 0.1.0
 */
import { CacheKey, type Completion, LMCache } from "@effect-dspy/core"
import { CanonicalJson, Config, Subject, Tenant } from "@effect-dspy/foundation"
import { Actor, Supervisor } from "@effect-dspy/runtime"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as EffectConfig from "effect/Config"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { checkedCopy, type Json as JsonValue } from "./internal/cacheJson.js"
import * as Engine from "./internal/cacheEngine.js"
import { CacheInvalidInput } from "./ServicesError.js"

/**
 * A JSON value, as stored and returned by the cache.
 *
 * @since 0.1.0
 * @category models
 */
export type Json = JsonValue

/**
 * A cache level: `l1` memory, `l2` SQLite, `l3` Redis.
 *
 * @since 0.1.0
 * @category models
 */
export type Level = Engine.Level

/**
 * A level's counters. `state` is `off` (not configured), `ok`, or `degraded` (failed; skipped until it is
 * usable again: Redis when it answers, L2 when {@link Service.checkLevels} reopens it). `promotions` counts entries written into this level from a level
 * below it; `evictions` entries the level dropped (L1: capacity and expiry; L2: expiry; Redis expires its own
 * entries and is not counted); `errors` failed operations.
 *
 * @since 0.1.0
 * @category models
 */
export type LevelStats = Engine.LevelStats

/**
 * The cache's counters: overall hits and misses (a lookup is a hit when any level has the entry), the hit rate
 * (also the `dspy.cache.hit_rate` gauge), L1 entries, and each level's counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly hits: number
  readonly misses: number
  readonly hitRate: number
  readonly entries: number
  /** Invalidations received from other instances sharing the Redis (applied to this L1 and L2). */
  readonly remoteInvalidations: number
  readonly levels: { readonly l1: LevelStats; readonly l2: LevelStats; readonly l3: LevelStats }
}

/**
 * The Redis level's settings. The URL may carry credentials: it is kept `Redacted` and never appears in
 * events or logs (they name `host:port`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  readonly url: string | Redacted.Redacted<string>
  /** Prefix of every key this cache writes; default `dspy:cache`. */
  readonly keyPrefix?: string
  /** Bound on each Redis operation in ms; default 250. */
  readonly timeoutMs?: number
  /** Bound on connecting in ms; default 1,000. */
  readonly connectTimeoutMs?: number
  /** After a failure, how long (Clock ms) Redis is skipped before it is tried again; default 1,000. */
  readonly retryAfterMs?: number
}

/**
 * Settings. Without `path` there is no L2; without `redis` no L3.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Most entries kept in L1; default 10,000. */
  readonly maxEntries?: number
  /** Default time to live in ms (0: never expires); default one hour. */
  readonly ttlMs?: number
  /** The L2 SQLite file (`":memory:"` for a private in-memory database). */
  readonly path?: string
  /** After L2 fails, how long (Clock ms) before {@link Service.checkLevels} tries to reopen it; default 30,000. */
  readonly diskRetryAfterMs?: number
  /** The L3 Redis server. */
  readonly redis?: RedisOptions
  /** Whether the cache serves and stores at all; default true. */
  readonly enabled?: boolean
  /** The `cache` tag of the hit-rate gauge and the events; default `manager`. */
  readonly name?: string
}

/**
 * Per-write settings: `ttlMs` overrides the default time to live (0: never expires).
 *
 * @since 0.1.0
 * @category models
 */
export interface SetOptions {
  readonly ttlMs?: number
}

/**
 * The CacheManager service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** A fresh copy of the value cached for `(moduleId, key)`; none when absent, expired or the cache is off. */
  readonly get: (moduleId: string, key: string) => Effect.Effect<Option.Option<Json>, CacheInvalidInput>
  /** Stores a copy of `value` at every level (later changes to `value` do not reach the cache). */
  readonly set: (
    moduleId: string,
    key: string,
    value: unknown,
    options?: SetOptions
  ) => Effect.Effect<void, CacheInvalidInput>
  /** The cached value, else runs `compute`, stores its result and returns it. */
  readonly getOrCompute: <E, R>(
    moduleId: string,
    key: string,
    compute: Effect.Effect<unknown, E, R>,
    options?: SetOptions
  ) => Effect.Effect<Json, E | CacheInvalidInput, R>
  /** Removes one entry at every level. */
  readonly delete: (moduleId: string, key: string) => Effect.Effect<void, CacheInvalidInput>
  /** Removes every entry of a module at every level; returns the most entries any one level held. */
  readonly invalidateModule: (moduleId: string) => Effect.Effect<number, CacheInvalidInput>
  /** Removes every entry at every level. */
  readonly clear: Effect.Effect<void>
  /** Removes expired entries from L2 now (L1 drops them when read, Redis by itself); returns how many. */
  readonly purgeExpired: Effect.Effect<number>
  /** The counters. */
  readonly stats: Effect.Effect<Stats>
  /** Whether the cache is on. */
  readonly enabled: Effect.Effect<boolean>
  /** Switches the cache on or off (what is stored stays). */
  readonly setEnabled: (enabled: boolean) => Effect.Effect<void>
  /** Changes the default time to live of entries stored from now on (0: never expires). */
  readonly setTtl: (ttlMs: number) => Effect.Effect<void, CacheInvalidInput>
  /**
   * A count of the changes that can make a cached answer stale: deletes, module invalidations (this instance's
   * or, through Redis, another's), clears and changes of `enabled` or the TTL. Read synchronously by what keeps
   * answers derived from the cache (the ModuleManager's execution memo drops them when it moves).
   */
  readonly generation: () => number
  /** The remaining Redis time to live of an entry in ms (-1: none); none without L3, unreachable or absent. */
  readonly redisPttl: (moduleId: string, key: string) => Effect.Effect<Option.Option<number>>
  /**
   * Takes a degraded Redis back into use when it answers again (otherwise the next lookup does), and tries to
   * reopen a degraded L2 (at most every `diskRetryAfterMs`); what a level missed meanwhile is dropped from it
   * first. The supervised process ({@link childSpec}) runs this every second.
   */
  readonly checkLevels: Effect.Effect<void>
  /**
   * The namespaces (module ids, with their tenant and subject parts: see {@link namespaceOf}) holding entries at
   * any level, and the levels that could not be read (a degraded L2 or Redis): for exports and erasures.
   */
  readonly namespaces: Effect.Effect<{
    readonly namespaces: ReadonlyArray<string>
    readonly unavailable: ReadonlyArray<Level>
  }>
  /** Every live entry of a namespace at every level (copies), and the levels that could not be read. */
  readonly entries: (namespace: string) => Effect.Effect<{
    readonly entries: ReadonlyArray<{ readonly level: Level; readonly key: string; readonly value: Json }>
    readonly unavailable: ReadonlyArray<Level>
  }>
}

/**
 * The CacheManager service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class CacheManager extends Context.Tag("@effect-dspy/services/CacheManager")<CacheManager, Service>() {}

/**
 * The cache key of a request or any JSON-like value: hex sha256 of its canonical JSON (sorted object keys,
 * `undefined` members left out), so the order in which fields were written does not matter.
 *
 * @since 0.1.0
 * @category keys
 */
export const keyOf = (request: unknown): string => CanonicalJson.sha256(request)

const MAX_ID = 256
const MAX_KEY = 1024

const invalid = (operation: string, reason: string): CacheInvalidInput =>
  new CacheInvalidInput({ operation, reason, message: `CacheManager.${operation}: ${reason}` })

const checkModule = (operation: string, moduleId: unknown): Effect.Effect<string, CacheInvalidInput> => {
  if (typeof moduleId !== "string" || moduleId.length === 0)
    return Effect.fail(invalid(operation, "the module id must be a non-empty string"))
  if (moduleId.length > MAX_ID)
    return Effect.fail(invalid(operation, `the module id is longer than ${MAX_ID} characters`))
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\u0000-\u001f]/.test(moduleId))
    return Effect.fail(invalid(operation, "the module id must not contain control characters"))
  return Effect.succeed(moduleId)
}

/** What is wrong with a module id and key (the module's first), or `undefined`: checked on every lookup. */
const keyProblem = (operation: string, moduleId: unknown, key: unknown): CacheInvalidInput | undefined => {
  if (typeof moduleId !== "string" || moduleId.length === 0)
    return invalid(operation, "the module id must be a non-empty string")
  if (moduleId.length > MAX_ID) return invalid(operation, `the module id is longer than ${MAX_ID} characters`)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\u0000-\u001f]/.test(moduleId)) return invalid(operation, "the module id must not contain control characters")
  if (typeof key !== "string" || key.length === 0)
    return invalid(operation, "the key must be a non-empty string (use CacheManager.keyOf(request))")
  if (key.length > MAX_KEY)
    return invalid(operation, `the key is longer than ${MAX_KEY} characters; hash it with keyOf`)
  return undefined
}

const checkKey = (operation: string, moduleId: unknown, key: unknown): Effect.Effect<void, CacheInvalidInput> => {
  const problem = keyProblem(operation, moduleId, key)
  return problem === undefined ? Effect.void : Effect.fail(problem)
}

const checkTtl = (operation: string, ttlMs: unknown): Effect.Effect<number, CacheInvalidInput> =>
  typeof ttlMs === "number" && Number.isSafeInteger(ttlMs) && ttlMs >= 0
    ? Effect.succeed(ttlMs)
    : Effect.fail(invalid(operation, `ttlMs must be a non-negative integer (0: never expires), got ${String(ttlMs)}`))

const checkValue = (operation: string, value: unknown): Effect.Effect<Json, CacheInvalidInput> => {
  const copied = checkedCopy(value)
  return copied.ok
    ? Effect.succeed(copied.value)
    : Effect.fail(invalid(operation, `the value is not JSON at ${copied.problem.path}: ${copied.problem.reason}`))
}

const positiveInt = (name: string, value: number): Effect.Effect<number> =>
  Number.isSafeInteger(value) && value > 0
    ? Effect.succeed(value)
    : Effect.dieMessage(`CacheManager: ${name} must be a positive integer, got ${value}`)

/**
 * Builds a CacheManager. L2 and L3 are opened now; a level that cannot be opened starts degraded (with a
 * `cache_level_degraded` event through `Events` when that service is present), never failing the build.
 * Malformed settings (a non-positive `maxEntries`, a negative `ttlMs`) are defects.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const maxEntries = yield* positiveInt("maxEntries", options.maxEntries ?? 10_000)
    const ttlMs = yield* Effect.orDie(checkTtl("make", options.ttlMs ?? 3_600_000))
    const r = options.redis
    const redisUrl = r === undefined ? undefined : Redacted.isRedacted(r.url) ? Redacted.value(r.url) : r.url
    if (redisUrl !== undefined && !/^rediss?:\/\/[^/\s]/.test(redisUrl)) {
      // The URL may hold a password: name only what is wrong with it.
      return yield* Effect.dieMessage(
        "CacheManager: redis.url must look like redis://[user:password@]host:port[/db] (or rediss:// for TLS)"
      )
    }
    const redis =
      r === undefined || redisUrl === undefined
        ? undefined
        : {
            url: redisUrl,
            keyPrefix: r.keyPrefix ?? "dspy:cache",
            timeoutMs: yield* positiveInt("redis.timeoutMs", r.timeoutMs ?? 250),
            connectTimeoutMs: yield* positiveInt("redis.connectTimeoutMs", r.connectTimeoutMs ?? 1_000),
            retryAfterMs: yield* positiveInt("redis.retryAfterMs", r.retryAfterMs ?? 1_000)
          }
    const engine = yield* Engine.make({
      name: options.name ?? "manager",
      maxEntries,
      ttlMs,
      enabled: options.enabled ?? true,
      path: options.path,
      diskRetryAfterMs: yield* positiveInt("diskRetryAfterMs", options.diskRetryAfterMs ?? 30_000),
      redis
    })
    // Every level keys by the module namespace, made the calling tenant's own (`Tenant.own`): a tenant's entries
    // live under `~tenant/<module>` in L1, L2 and Redis, and another tenant's are out of its reach.
    const service: Service = {
      get: (moduleId, key) =>
        Effect.flatMap(Tenant.own(moduleId), (ns) => {
          const problem = keyProblem("get", ns, key)
          return problem === undefined ? engine.get(ns, key) : Effect.fail(problem)
        }),
      set: (moduleId_, key, value, setOptions) =>
        Effect.gen(function* () {
          const moduleId = yield* Tenant.own(moduleId_)
          yield* checkKey("set", moduleId, key)
          const ttl = setOptions?.ttlMs === undefined ? undefined : yield* checkTtl("set", setOptions.ttlMs)
          const json = yield* checkValue("set", value)
          yield* engine.set(moduleId, key, json, ttl)
        }),
      getOrCompute: (moduleId, key, compute, setOptions) =>
        Effect.gen(function* () {
          const cached = yield* service.get(moduleId, key)
          if (Option.isSome(cached)) return cached.value
          const computed = yield* compute
          const json = yield* checkValue("getOrCompute", computed)
          yield* service.set(moduleId, key, json, setOptions)
          return json
        }),
      delete: (moduleId, key) =>
        Effect.flatMap(Tenant.own(moduleId), (ns) =>
          Effect.zipRight(checkKey("delete", ns, key), engine.delete(ns, key))
        ),
      invalidateModule: (moduleId) =>
        Effect.flatMap(Tenant.own(moduleId), (ns) =>
          Effect.flatMap(checkModule("invalidateModule", ns), engine.invalidateModule)
        ),
      clear: engine.clear,
      purgeExpired: engine.purgeExpired,
      stats: engine.stats,
      enabled: engine.enabled,
      setEnabled: engine.setEnabled,
      setTtl: (value) => Effect.flatMap(checkTtl("setTtl", value), engine.setTtl),
      generation: engine.generation,
      redisPttl: (moduleId, key) => Effect.flatMap(Tenant.own(moduleId), (ns) => engine.redisPttl(ns, key)),
      checkLevels: engine.checkLevels,
      // A tenant sees and reads its own namespaces only (`Tenant.visibleTo`, `Tenant.own`); unscoped sees them all.
      namespaces: Effect.flatMap(Tenant.scope, (scoped) =>
        Option.isNone(scoped)
          ? engine.namespaces
          : Effect.map(engine.namespaces, (found) => ({
              ...found,
              namespaces: found.namespaces.filter((ns) => Tenant.visibleTo(scoped, ns))
            }))
      ),
      entries: (namespace) => Effect.flatMap(Tenant.own(namespace), engine.entries)
    }
    return service
  })

/**
 * A CacheManager with fixed settings.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options = {}): Layer.Layer<CacheManager> => Layer.scoped(CacheManager, make(options))

/**
 * A memory-only CacheManager (L1 only).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: Omit<Options, "path" | "redis"> = {}): Layer.Layer<CacheManager> =>
  layerWith({ ...options, name: options.name ?? "memory" })

/**
 * A CacheManager for tests: L1 over a private in-memory SQLite L2, no Redis, no configuration.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<CacheManager> = Layer.suspend(() =>
  layerWith({ path: ":memory:", name: "test", maxEntries: 1_000 })
)

/**
 * Settings of {@link layer}: `enabled` and the default `ttlMs` come from the configuration. The Redis URL is
 * `redis` when given, else the `REDIS_URL` setting (read through Effect's `ConfigProvider`, so the
 * environment by default); without either there is no L3.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions extends Omit<Options, "enabled" | "ttlMs"> {
  /** How often expired L2 entries are removed (Clock ms); default 10 minutes; 0 turns it off. */
  readonly purgeIntervalMs?: number
}

/**
 * The application's CacheManager, following the configuration: `modules.cacheEnabled` and
 * `modules.cacheTtlMs` are read at start and applied again whenever they change at run time. L3 is on when a
 * Redis URL is configured (see {@link LayerOptions}). Expired L2 entries are purged in the background.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: LayerOptions = {}): Layer.Layer<CacheManager, never, Config.Config> =>
  Layer.scoped(
    CacheManager,
    Effect.gen(function* () {
      const config = yield* Config.Config
      const current = yield* config.current
      const envUrl = yield* EffectConfig.option(EffectConfig.redacted("REDIS_URL")).pipe(
        Effect.catchAll((e) => Effect.as(Effect.logWarning(`CacheManager: ignoring REDIS_URL: ${e}`), Option.none()))
      )
      const { purgeIntervalMs = 600_000, redis: redisOption, ...rest } = options
      // An empty REDIS_URL means no Redis, as if it were not set.
      const fromEnv = Option.filter(envUrl, (url) => Redacted.value(url).trim() !== "")
      const redis = redisOption ?? Option.getOrUndefined(Option.map(fromEnv, (url): RedisOptions => ({ url })))
      const cache = yield* make({
        ...rest,
        ...(redis === undefined ? {} : { redis }),
        enabled: current.modules.cacheEnabled,
        ttlMs: current.modules.cacheTtlMs
      })
      const follow = (path: string, apply: (value: unknown) => Effect.Effect<void, CacheInvalidInput>) =>
        config.watch(path).pipe(
          Stream.runForEach(apply),
          Effect.catchAll((e) => Effect.logWarning(`CacheManager cannot follow ${path}: ${e.message}`)),
          Effect.forkScoped
        )
      yield* follow("modules.cacheEnabled", (v) => (typeof v === "boolean" ? cache.setEnabled(v) : Effect.void))
      yield* follow("modules.cacheTtlMs", (v) => (typeof v === "number" ? cache.setTtl(v) : Effect.void))
      if (purgeIntervalMs > 0) {
        yield* cache.purgeExpired.pipe(
          Effect.repeat(Schedule.spaced(Duration.millis(purgeIntervalMs))),
          Effect.delay(Duration.millis(purgeIntervalMs)),
          Effect.forkScoped
        )
      }
      return cache
    })
  )

/**
 * The value at `(moduleId, key)`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get = (
  moduleId: string,
  key: string
): Effect.Effect<Option.Option<Json>, CacheInvalidInput, CacheManager> =>
  Effect.flatMap(CacheManager, (cache) => cache.get(moduleId, key))

/**
 * Stores a value at `(moduleId, key)`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const set = (
  moduleId: string,
  key: string,
  value: unknown,
  options?: SetOptions
): Effect.Effect<void, CacheInvalidInput, CacheManager> =>
  Effect.flatMap(CacheManager, (cache) => cache.set(moduleId, key, value, options))

/**
 * Removes every entry of a module at every level.
 *
 * @since 0.1.0
 * @category accessors
 */
export const invalidateModule = (moduleId: string): Effect.Effect<number, CacheInvalidInput, CacheManager> =>
  Effect.flatMap(CacheManager, (cache) => cache.invalidateModule(moduleId))

/**
 * The namespace of a module's entries made for a tenant and an end user: `moduleId`, then `@t:<tenant>` and
 * `@s:<Subject.digest(subject)>` when given (the subject key itself never appears in a cache key). A
 * subject's entries are kept apart from everyone else's, so that erasing them (`DataRights`) removes exactly them
 * at every level, Redis included.
 *
 * @since 0.1.0
 * @category keys
 */
export const namespaceOf = (
  moduleId: string,
  scope: { readonly tenant?: string | undefined; readonly subject?: string | undefined } = {}
): string =>
  `${moduleId}${scope.tenant === undefined ? "" : `@t:${scope.tenant}`}${scope.subject === undefined ? "" : `@s:${Subject.digest(scope.subject)}`}`

/**
 * The parts of a namespace made by {@link namespaceOf}.
 *
 * @since 0.1.0
 * @category keys
 */
export const parseNamespace = (
  namespace: string
): { readonly moduleId: string; readonly tenant: string | undefined; readonly subjectDigest: string | undefined } => {
  const parts = namespace.split("@")
  let tenant: string | undefined
  let subjectDigest: string | undefined
  for (const part of parts.slice(1)) {
    if (part.startsWith("t:")) tenant = part.slice(2)
    else if (part.startsWith("s:")) subjectDigest = part.slice(2)
  }
  return { moduleId: parts[0]!, tenant, subjectDigest }
}

/**
 * The namespaces of `moduleId`'s LM entries for the tenant and end user of the current fiber: where they are
 * written (`current`), and where an older release wrote them (`legacy`, when it differs). The CacheManager qualifies
 * a scoped tenant's namespace with its own name (`~acme/...`), so a tenant other than `default` is not repeated in
 * it (`~acme/lm@s:<digest>`); older releases wrote `~acme/lm@t:acme@s:<digest>`, which is still read (and copied
 * forward on a hit). The default tenant keeps bare names, so `@t:default` stays its only mark.
 */
const lmNamespaces = (
  moduleId: string
): Effect.Effect<{ readonly current: string; readonly legacy: string | undefined }> =>
  Effect.withFiberRuntime((fiber) => {
    const subject = Option.getOrUndefined(fiber.getFiberRef(Subject.currentSubject))
    const tenant = Option.getOrUndefined(fiber.getFiberRef(Tenant.Tenant))
    if (tenant === undefined)
      return Effect.succeed({
        current: subject === undefined ? moduleId : namespaceOf(moduleId, { subject }),
        legacy: undefined
      })
    if (tenant === Tenant.defaultTenant)
      return Effect.succeed({ current: namespaceOf(moduleId, { tenant, subject }), legacy: undefined })
    return Effect.succeed({
      current: namespaceOf(moduleId, { subject }),
      legacy: namespaceOf(moduleId, { tenant, subject })
    })
  })

/**
 * A cached value at `current`, else at `legacy` (copied to `current` when found there, so the next read finds it
 * at once).
 */
const getMigrating = (
  cache: Service,
  names: { readonly current: string; readonly legacy: string | undefined },
  key: string
): Effect.Effect<Option.Option<Json>, CacheInvalidInput> =>
  Effect.flatMap(cache.get(names.current, key), (found) => {
    const legacy = names.legacy
    if (Option.isSome(found) || legacy === undefined) return Effect.succeed(found)
    return Effect.tap(cache.get(legacy, key), (old) =>
      Option.isNone(old) ? Effect.void : Effect.ignore(cache.set(names.current, key, old.value))
    )
  })
const isResponse = (value: Json): value is Json & { readonly choices: ReadonlyArray<Json> } =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  Array.isArray((value as { readonly choices?: unknown }).choices)

/**
 * The CacheManager as the core `LMCache` service, so `LM` caches its responses here under `moduleId` (under
 * {@link namespaceOf} `moduleId` and the fiber's tenant and subject, when a request runs for one)
 * (default `lm`; `invalidateModule(moduleId)` then drops them). Keys are the core's `CacheKey` of the request;
 * a hit is marked `cacheHit: true` with zero usage and cost, as the core cache does. `stats` reports the
 * manager's overall counters with `disk` from L2; `clear` invalidates `moduleId` only.
 *
 * @since 0.1.0
 * @category adapters
 */
export const lmCache = (cache: Service, moduleId = "lm"): LMCache.Service => ({
  key: CacheKey.make,
  get: (key) =>
    // One step for the answer (a lookup that fails is a miss).
    Effect.match(
      Effect.flatMap(lmNamespaces(moduleId), (names) => getMigrating(cache, names, key)),
      {
        onFailure: (): Option.Option<Completion.CompletionResponse> => Option.none(),
        onSuccess: Option.flatMap((value: Json) =>
          isResponse(value)
            ? Option.some<Completion.CompletionResponse>({
                ...(value as unknown as Completion.CompletionResponse),
                usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
                costUsd: 0,
                cacheHit: true
              })
            : Option.none()
        )
      }
    ),
  set: (key, response) =>
    Effect.flatMap(lmNamespaces(moduleId), (names) => cache.set(names.current, key, response)).pipe(
      Effect.catchAll((e) => Effect.logWarning(`LM response not cached: ${e.message}`))
    ),
  enabled: cache.enabled,
  setEnabled: cache.setEnabled,
  setTtl: (ttlMs) => Effect.catchAll(cache.setTtl(ttlMs), (e) => Effect.logWarning(e.message)),
  stats: Effect.map(cache.stats, (s) => ({
    hits: s.hits,
    misses: s.misses,
    hitRate: s.hitRate,
    memoryEntries: s.entries,
    disk: s.levels.l2.state
  })),
  clear: Effect.asVoid(Effect.catchAll(cache.invalidateModule(moduleId), () => Effect.succeed(0)))
})

/**
 * The core `LMCache` served by the CacheManager in the context (see {@link lmCache}); put it under
 * `LM.layer` / `LM.layerWith` in place of `LMCache.layer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLMCache = (moduleId = "lm"): Layer.Layer<LMCache.LMCache, never, CacheManager> =>
  Layer.effect(
    LMCache.LMCache,
    Effect.map(CacheManager, (cache) => lmCache(cache, moduleId))
  )

/**
 * What the CacheManager's supervised process answers: its counters, an invalidation, a purge.
 *
 * @since 0.1.0
 * @category supervision
 */
export type ActorCall =
  | { readonly _tag: "Stats" }
  | { readonly _tag: "InvalidateModule"; readonly moduleId: string }
  | { readonly _tag: "PurgeExpired" }

/**
 * The replies to {@link ActorCall}: `Stats` gives {@link Stats}; `InvalidateModule` and `PurgeExpired` the
 * number of entries removed, or the input error.
 *
 * @since 0.1.0
 * @category supervision
 */
export type ActorReply = Stats | number | CacheInvalidInput

/**
 * The maintenance ticks of the supervised process.
 *
 * @since 0.1.0
 * @category supervision
 */
export type ActorInfo = { readonly _tag: "Purge" } | { readonly _tag: "CheckLevels" }

/**
 * Settings of the supervised process: how often expired L2 entries are removed and a degraded Redis is
 * checked, in Clock milliseconds (defaults 10 minutes and 1 second).
 *
 * @since 0.1.0
 * @category supervision
 */
export interface ActorOptions {
  readonly purgeIntervalMs?: number
  readonly checkIntervalMs?: number
}

/**
 * The state of the supervised process: the cache it maintains and how many purges (and entries purged) and
 * level checks it has run.
 *
 * @since 0.1.0
 * @category supervision
 */
export interface ActorState {
  readonly cache: Service
  readonly purges: number
  readonly purged: number
  readonly checks: number
}

/**
 * The arguments of {@link actor}.
 *
 * @since 0.1.0
 * @category supervision
 */
export interface ActorArgs {
  readonly cache: Service
  readonly options: ActorOptions
}

/**
 * The CacheManager's process for the supervision tree (OTP GenServer style): it owns the cache's maintenance
 * (purging expired L2 entries, taking Redis back when it returns, on `Actor.sendInterval` timers read through
 * the Clock) and answers {@link ActorCall}s. The cache itself lives in its layer and keeps serving while the
 * process restarts.
 *
 * @since 0.1.0
 * @category supervision
 */
export const actor: Actor.Definition<ActorArgs, ActorState, ActorCall, ActorReply, never, ActorInfo, never, never> =
  Actor.make<ActorArgs, ActorState, ActorCall, ActorReply, never, ActorInfo>({
    name: "cache_manager",
    init: (args, self) =>
      Effect.gen(function* () {
        yield* Actor.sendInterval(self, { _tag: "Purge" }, Duration.millis(args.options.purgeIntervalMs ?? 600_000))
        yield* Actor.sendInterval(self, { _tag: "CheckLevels" }, Duration.millis(args.options.checkIntervalMs ?? 1_000))
        return { cache: args.cache, purges: 0, purged: 0, checks: 0 }
      }),
    handleCall: (msg, state) => {
      switch (msg._tag) {
        case "Stats":
          return Effect.map(state.cache.stats, (stats) => Actor.reply<ActorReply, ActorState>(stats, state))
        case "InvalidateModule":
          return state.cache.invalidateModule(msg.moduleId).pipe(
            Effect.map((n): ActorReply => n),
            Effect.catchAll((e) => Effect.succeed<ActorReply>(e)),
            Effect.map((reply) => Actor.reply(reply, state))
          )
        case "PurgeExpired":
          return Effect.map(state.cache.purgeExpired, (n) => Actor.reply<ActorReply, ActorState>(n, state))
      }
    },
    handleInfo: (msg, state) =>
      msg._tag === "Purge"
        ? Effect.map(state.cache.purgeExpired, (n) => ({
            ...state,
            purges: state.purges + 1,
            purged: state.purged + n
          }))
        : Effect.as(state.cache.checkLevels, { ...state, checks: state.checks + 1 })
  })

/**
 * The CacheManager's child spec for the application's supervision tree (id `cache_manager`, a permanent
 * worker running {@link actor} over `cache`).
 *
 * @since 0.1.0
 * @category supervision
 */
export const childSpec = (cache: Service, options: ActorOptions = {}): Supervisor.ChildSpec =>
  Supervisor.worker("cache_manager", Actor.spawn(actor, { cache, options }))
