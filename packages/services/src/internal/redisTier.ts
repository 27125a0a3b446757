/**
 * The L3 tier: Redis through ioredis. Every command is bounded: the client never queues commands while it is
 * not connected (`enableOfflineQueue: false`, so they fail at once), commands are not retried by the client
 * (`maxRetriesPerRequest: 0`), and each operation races a real-time deadline (Redis time is real time, not the
 * Effect Clock). The client's own `commandTimeout` is not used: it would only add a second timer per command
 * (a timed-out command stays queued on the connection either way, until its reply or a disconnect). The client reconnects by itself with capped backoff after the server goes away.
 *
 * Layout under a prefix `p`: an entry is the string `p:e:<length of module>:<module>:<key>` (JSON text, `PX` for its time to
 * live); `p:m:<module>` is the set of that module's entry keys (it expires with its longest-lived entry, so it
 * does not outgrow its entries); `p:modules` is the set of module ids, so that `clear` can find every index.
 * Writes and invalidations are Lua scripts, atomic on the server.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as crypto from "node:crypto"
import type { Json } from "./cacheJson.js"

/** Settings of the Redis tier. */
export interface RedisTierOptions {
  readonly url: string
  readonly keyPrefix: string
  readonly timeoutMs: number
  readonly connectTimeoutMs: number
}

/** An invalidation made by another cache instance on the same Redis (published on `p:invalidations`). */
export type Invalidation =
  | { readonly op: "module"; readonly moduleId: string }
  | { readonly op: "key"; readonly moduleId: string; readonly key: string }
  | { readonly op: "clear" }

const parseInvalidation = (text: string, self: string): Invalidation | undefined => {
  try {
    const m = JSON.parse(text) as { from?: unknown; op?: unknown; m?: unknown; k?: unknown }
    if (m.from === self) return undefined
    if (m.op === "clear") return { op: "clear" }
    if (m.op === "module" && typeof m.m === "string") return { op: "module", moduleId: m.m }
    if (m.op === "key" && typeof m.m === "string" && typeof m.k === "string")
      return { op: "key", moduleId: m.m, key: m.k }
    return undefined
  } catch {
    return undefined
  }
}

/** What L3 returns for a key: the value and its remaining time to live (-1: none). */
export interface RedisEntry {
  readonly value: Json
  readonly pttl: number
}

/** The Redis tier; every failure is a one-line description. */
export interface RedisTier {
  /** The endpoint, `host:port` (never the credentials). */
  readonly endpoint: string
  /** Whether the connection is up and can take commands now. */
  readonly ready: () => boolean
  readonly get: (moduleId: string, key: string) => Effect.Effect<Option.Option<RedisEntry>, string>
  readonly set: (moduleId: string, key: string, json: string, ttlMs: number) => Effect.Effect<void, string>
  readonly delete: (moduleId: string, key: string) => Effect.Effect<void, string>
  /** Removes every entry of the module; returns how many existed. */
  readonly deleteModule: (moduleId: string) => Effect.Effect<number, string>
  /** Removes every entry under the prefix; returns how many existed. */
  readonly clear: Effect.Effect<number, string>
  /** The remaining time to live of an entry in ms (-1: none, -2: absent); for tests and diagnostics. */
  readonly pttl: (moduleId: string, key: string) => Effect.Effect<number, string>
  /** The module ids with entries here. */
  readonly modules: Effect.Effect<ReadonlyArray<string>, string>
  /** The module's entries. */
  readonly entries: (
    moduleId: string
  ) => Effect.Effect<ReadonlyArray<{ readonly key: string; readonly value: Json }>, string>
}

// KEYS: entry. The value (or false) and its remaining time to live.
const getScript = `
local v = redis.call('GET', KEYS[1])
if not v then return {false, -2} end
return {v, redis.call('PTTL', KEYS[1])}`

// KEYS: entry, index, modules. ARGV: value, ttl (0: none), module id.
const setScript = `
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl) else redis.call('SET', KEYS[1], ARGV[1]) end
local had = redis.call('PTTL', KEYS[2])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('SADD', KEYS[3], ARGV[3])
if ttl == 0 then
  redis.call('PERSIST', KEYS[2])
elseif had == -2 or (had >= 0 and had < ttl) then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1`

const deleteMembers = `
local function drop(index)
  local members = redis.call('SMEMBERS', index)
  local n = 0
  for i = 1, #members, 500 do
    n = n + redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
  end
  redis.call('DEL', index)
  return n
end`

// KEYS: index, modules. ARGV: module id.
const deleteModuleScript = `${deleteMembers}
local n = drop(KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return n`

// KEYS: modules. ARGV: index key prefix.
const clearScript = `${deleteMembers}
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do n = n + drop(ARGV[1] .. m) end
redis.call('DEL', KEYS[1])
return n`

// KEYS: entry, index.
const deleteScript = `
local n = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], KEYS[1])
return n`

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Races a promise against a real-time deadline; the timer never keeps the process alive. */
const withDeadline = <A>(run: () => Promise<A>, ms: number, what: string): Effect.Effect<A, string> =>
  Effect.async<A, string>((resume) => {
    let done = false
    const timer = setTimeout(() => {
      if (done) return
      done = true
      resume(Effect.fail(`${what} timed out after ${ms} ms`))
    }, ms)
    timer.unref?.()
    run().then(
      (value) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(Effect.succeed(value))
      },
      (error: unknown) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(Effect.fail(`${what}: ${message(error)}`))
      }
    )
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
    })
  })

/**
 * Creates the client and tries to connect once within `connectTimeoutMs`. A failed first connection is not an
 * error here: `connected` says whether it came up, and the client keeps trying in the background.
 */
export const open = (
  options: RedisTierOptions,
  onInvalidation: (invalidation: Invalidation) => void
): Effect.Effect<
  { readonly tier: RedisTier; readonly connected: boolean; readonly error: string },
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    // Set when the scope closes: a closed tier never reconnects.
    let closed = false
    const client = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Redis(options.url, {
            lazyConnect: true,
            enableOfflineQueue: false,
            maxRetriesPerRequest: 0,
            connectTimeout: options.connectTimeoutMs,
            autoResubscribe: false,
            retryStrategy: (times) => Math.min(25 * 2 ** Math.min(times, 6), 1_000)
          })
      ),
      (c) =>
        Effect.sync(() => {
          closed = true
          c.disconnect(false)
        })
    )
    // GET and PTTL in one command (EVALSHA; ioredis falls back to EVAL after a server restart): one round trip
    // and much cheaper on the client than a pipeline.
    client.defineCommand("dspyCacheGet", { numberOfKeys: 1, lua: getScript })
    const typed = client as unknown as Redis & {
      readonly dspyCacheGet: (key: string) => Promise<[string | null, number] | null>
    }
    let lastError = ""
    // Without a listener ioredis prints every connection error; the manager reports state changes as events.
    client.on("error", (error: unknown) => {
      lastError = message(error)
    })
    const endpoint = `${client.options.host ?? "localhost"}:${client.options.port ?? 6379}`
    const p = options.keyPrefix
    // Invalidations fan out to every cache instance on this Redis, so each drops the module from its own L1
    // and L2 too. The subscriber connection queues its one SUBSCRIBE until connected and re-subscribes after
    // reconnecting; messages from this instance are ignored.
    const channel = `${p}:invalidations`
    const instanceId = crypto.randomUUID()
    const subscriber = yield* Effect.acquireRelease(
      Effect.sync(() =>
        client.duplicate({
          lazyConnect: true,
          enableOfflineQueue: true,
          maxRetriesPerRequest: null,
          autoResubscribe: true
        })
      ),
      (c) => Effect.sync(() => c.disconnect(false))
    )
    subscriber.on("error", () => undefined)
    subscriber.on("message", (_channel: string, text: string) => {
      const invalidation = parseInvalidation(text, instanceId)
      if (invalidation !== undefined) onInvalidation(invalidation)
    })
    subscriber.subscribe(channel).catch(() => undefined)
    subscriber.connect().catch(() => undefined)
    const announce = (message: { readonly op: string; readonly m?: string; readonly k?: string }) =>
      client.publish(channel, JSON.stringify({ from: instanceId, ...message }))
    // The module id's length keeps keys apart even when ids contain ":" (module "a:b" key "c" vs "a" key "b:c").
    const entryKey = (moduleId: string, key: string) => `${p}:e:${moduleId.length}:${moduleId}:${key}`
    const indexKey = (moduleId: string) => `${p}:m:${moduleId}`
    const modulesKey = `${p}:modules`
    const ms = options.timeoutMs

    const command = <A>(what: string, run: () => Promise<A>): Effect.Effect<A, string> =>
      Effect.suspend(() => {
        if (!closed && (client.status === "end" || client.status === "wait")) {
          // The client gave up (or never started): start it again in the background; this call skips Redis.
          client.connect().catch(() => undefined)
        }
        return client.status === "ready"
          ? withDeadline(run, ms, `redis ${what}`)
          : Effect.fail(`redis ${what}: not connected (${client.status}${lastError === "" ? "" : `, ${lastError}`})`)
      })

    const tier: RedisTier = {
      endpoint,
      ready: () => client.status === "ready",
      get: (moduleId, key) =>
        Effect.flatMap(
          command("get", () => typed.dspyCacheGet(entryKey(moduleId, key))),
          (reply) => {
            const text = reply?.[0]
            if (typeof text !== "string") return Effect.succeedNone
            return Effect.try({
              try: () => Option.some({ value: JSON.parse(text) as Json, pttl: Number(reply?.[1] ?? -1) }),
              catch: () => "redis get: the stored value is not JSON"
            })
          }
        ),
      set: (moduleId, key, json, ttlMs) =>
        Effect.asVoid(
          command("set", () =>
            client.eval(
              setScript,
              3,
              entryKey(moduleId, key),
              indexKey(moduleId),
              modulesKey,
              json,
              String(ttlMs),
              moduleId
            )
          )
        ),
      delete: (moduleId, key) =>
        Effect.asVoid(
          command("delete", async () => {
            await client.eval(deleteScript, 2, entryKey(moduleId, key), indexKey(moduleId))
            await announce({ op: "key", m: moduleId, k: key })
          })
        ),
      deleteModule: (moduleId) =>
        Effect.map(
          command("invalidate", async () => {
            const n = await client.eval(deleteModuleScript, 2, indexKey(moduleId), modulesKey, moduleId)
            await announce({ op: "module", m: moduleId })
            return n
          }),
          Number
        ),
      clear: Effect.map(
        command("clear", async () => {
          const n = await client.eval(clearScript, 1, modulesKey, `${p}:m:`)
          await announce({ op: "clear" })
          return n
        }),
        Number
      ),
      pttl: (moduleId, key) => command("pttl", () => client.pttl(entryKey(moduleId, key))),
      modules: command("modules", () => client.smembers(modulesKey)),
      entries: (moduleId) =>
        Effect.flatMap(
          command("entries", async () => {
            const members = await client.smembers(indexKey(moduleId))
            const values = members.length === 0 ? [] : await client.mget(...members)
            return members.map((member, i) => ({ member, text: values[i] }))
          }),
          (found) =>
            Effect.try({
              try: () => {
                const start = entryKey(moduleId, "").length
                return found.flatMap(({ member, text }) =>
                  typeof text === "string" ? [{ key: member.slice(start), value: JSON.parse(text) as Json }] : []
                )
              },
              catch: () => "redis entries: a stored value is not JSON"
            })
        )
    }

    const first = yield* Effect.either(
      withDeadline(() => client.connect(), options.connectTimeoutMs + 100, "redis connect")
    )
    if (first._tag === "Left") lastError = first.left
    return { tier, connected: first._tag === "Right" && client.status === "ready", error: lastError }
  })
