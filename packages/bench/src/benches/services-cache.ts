/**
 * The CacheManager's hit latency at each level, p50 in microseconds, each against a bare baseline measured in
 * the same run on the same value (an LM response):
 *
 * - L1 hit (memory LRU, fresh copy) vs a bare `Map.get` + `structuredClone`;
 * - L2 hit (L1 miss, SQLite read, promotion to L1, fresh copy) vs a bare better-sqlite3 prepared `SELECT` +
 *   `JSON.parse` on an identical table;
 * - L3 hit (L1 miss, no L2, Redis `GET`+`PTTL` in one round trip, promotion to L1) vs a bare ioredis `GET` +
 *   `JSON.parse` on the same server.
 *
 * L3 needs `redis-server` on PATH (started here on a free loopback port, persistence off); without it the L3
 * figures are left out and stderr says so.
 */
import { CacheManager } from "@effect-dspy/services"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as module from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as url from "node:url"
import { type Bench, quantile, sampleAsync } from "../Harness.js"
import * as Harness from "../Harness.js"

const BATCH = 100
const SAMPLES = 1000

const sampleSync = (operation: (i: number) => unknown): Array<number> =>
  Harness.sampleSync(operation, { samples: SAMPLES, batch: BATCH, warmup: 10_000 })

const response = {
  id: "chatcmpl-abc",
  model: "gpt-4o-mini",
  choices: [
    {
      index: 0,
      content:
        "[[ ## reasoning ## ]]\nParis has been the capital of France since the 10th century.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]",
      finishReason: "stop"
    }
  ],
  usage: { promptTokens: 120, completionTokens: 30, totalTokens: 150 },
  costUsd: 0.000036,
  cacheHit: false
}
const json = JSON.stringify(response)

// ioredis and better-sqlite3 are dependencies of the services package (better-sqlite3 through
// @effect/sql-sqlite-node), resolved from there; only the few members used here are typed.
interface Statement {
  readonly get: (...params: ReadonlyArray<unknown>) => unknown
  readonly run: (...params: ReadonlyArray<unknown>) => unknown
}
interface Database {
  readonly exec: (sql: string) => unknown
  readonly prepare: (sql: string) => Statement
  readonly close: () => unknown
}
interface RedisClient {
  readonly get: (key: string) => Promise<string | null>
  readonly set: (key: string, value: string) => Promise<unknown>
  readonly disconnect: () => void
  readonly on: (event: "error", listener: (error: unknown) => void) => unknown
}
const servicesRequire = module.createRequire(url.fileURLToPath(import.meta.resolve("@effect-dspy/services")))
const sqliteRequire = module.createRequire(servicesRequire.resolve("@effect/sql-sqlite-node"))
const BetterSqlite = sqliteRequire("better-sqlite3") as new (filename: string) => Database
const { Redis } = servicesRequire("ioredis") as { readonly Redis: new (url: string) => RedisClient }

const findOnPath = (name: string): string | undefined =>
  (process.env.PATH ?? "")
    .split(path.delimiter)
    .map((dir) => path.join(dir, name))
    .find((candidate) => {
      try {
        fs.accessSync(candidate, fs.constants.X_OK)
        return true
      } catch {
        return false
      }
    })

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()))
    })
  })

const startRedis = async (binary: string): Promise<{ readonly url: string; readonly stop: () => void }> => {
  const port = await freePort()
  const child = childProcess.spawn(
    binary,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" }
  )
  const probe = new Redis(`redis://127.0.0.1:${port}`) as RedisClient & { readonly ping: () => Promise<string> }
  probe.on("error", () => undefined) // refused until the server listens
  for (let i = 0; ; i++) {
    try {
      if ((await probe.ping()) === "PONG") break
    } catch (error) {
      if (i > 250) {
        child.kill("SIGKILL")
        throw error
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  probe.disconnect()
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") }
}

const bench: Bench = {
  name: "services-cache",
  description: "CacheManager L1/L2/L3 hit latency against Map+structuredClone, better-sqlite3, ioredis GET",
  run: async (report) => {
    const scope = Effect.runSync(Scope.make())
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-services-cache-"))
    const make = (options: CacheManager.Options) => Effect.runPromise(Scope.extend(CacheManager.make(options), scope))
    try {
      // L1
      const map = new Map<string, unknown>([["k", response]])
      const l1Base = quantile(
        sampleSync(() => structuredClone(map.get("k"))),
        0.5
      )
      const l1 = await make({ name: "bench-l1" })
      Effect.runSync(l1.set("qa", "k", response))
      const l1Hit = quantile(
        sampleSync(() => Effect.runSync(l1.get("qa", "k"))),
        0.5
      )
      report({ bench: "services-cache", metric: "baseline_map_structured_clone_p50", value: l1Base, unit: "us" })
      report({ bench: "services-cache", metric: "l1_hit_p50", value: l1Hit, unit: "us", baseline: l1Base })

      // L2: an L1 of one entry, two keys read in turn, so every read misses L1 and hits SQLite.
      const db = new BetterSqlite(path.join(dir, "bare.db"))
      db.exec(
        "CREATE TABLE dspy_cache (module TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (module, key)) WITHOUT ROWID"
      )
      db.prepare("INSERT INTO dspy_cache VALUES (?, ?, ?, ?)").run("qa", "a", json, 0)
      db.prepare("INSERT INTO dspy_cache VALUES (?, ?, ?, ?)").run("qa", "b", json, 0)
      const select = db.prepare("SELECT value, expires_at FROM dspy_cache WHERE module = ? AND key = ?")
      const keys = ["a", "b"]
      const l2Base = quantile(
        sampleSync((i) => JSON.parse((select.get("qa", keys[i % 2]) as { value: string }).value)),
        0.5
      )
      db.close()
      const l2 = await make({ name: "bench-l2", maxEntries: 1, path: path.join(dir, "cache.db") })
      for (const k of keys) Effect.runSync(l2.set("qa", k, response))
      const l2Hit = quantile(
        sampleSync((i) => Effect.runSync(l2.get("qa", keys[i % 2]!))),
        0.5
      )
      const l2Stats = Effect.runSync(l2.stats).levels
      if (l2Stats.l2.hits < SAMPLES * BATCH) throw new Error(`L2 bench did not read L2 (${l2Stats.l2.hits} hits)`)
      report({ bench: "services-cache", metric: "baseline_sqlite_select_parse_p50", value: l2Base, unit: "us" })
      report({ bench: "services-cache", metric: "l2_hit_p50", value: l2Hit, unit: "us", baseline: l2Base })

      // L3: no L2, an L1 of one entry, two keys read in turn, so every read goes to Redis.
      const binary = findOnPath("redis-server")
      if (binary === undefined) {
        process.stderr.write(
          "services-cache: redis-server is not on PATH (Debian/Ubuntu: apt-get install -y redis-server); L3 figures left out\n"
        )
        return
      }
      const server = await startRedis(binary)
      try {
        const bare = new Redis(server.url)
        await bare.set("bare:a", json)
        await bare.set("bare:b", json)
        const bareKeys = ["bare:a", "bare:b"]
        let n = 0
        const l3Base = quantile(
          await sampleAsync(async () => JSON.parse((await bare.get(bareKeys[n++ % 2]!)) ?? "null"), {
            iterations: 5_000
          }),
          0.5
        )
        bare.disconnect()
        const l3 = await make({ name: "bench-l3", maxEntries: 1, redis: { url: server.url, keyPrefix: "bench" } })
        await Effect.runPromise(l3.set("qa", "a", response))
        await Effect.runPromise(l3.set("qa", "b", response))
        let m = 0
        const l3Hit = quantile(
          await sampleAsync(() => Effect.runPromise(l3.get("qa", keys[m++ % 2]!)), { iterations: 5_000 }),
          0.5
        )
        const l3Stats = Effect.runSync(l3.stats).levels.l3
        if (l3Stats.hits < 5_000 || l3Stats.state !== "ok")
          throw new Error(`L3 bench did not read L3 (${l3Stats.hits})`)
        report({ bench: "services-cache", metric: "baseline_ioredis_get_parse_p50", value: l3Base, unit: "us" })
        report({ bench: "services-cache", metric: "l3_hit_p50", value: l3Hit, unit: "us", baseline: l3Base })
      } finally {
        server.stop()
      }
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default bench
