/**
 * Data rights across every store: distinctive values are planted for two end users in the experience store
 * (executions and feedback), the event store, the cache (L1 memory, L2 SQLite, L3 Redis) and saved programs (every
 * version and optimization result); the export of user 1 holds every one of theirs; after erasing user 1, a scan of
 * every store, cache level (and Redis key by key) and saved program finds none of theirs and all of user 2's. On
 * SQLite, and on PostgreSQL for the stores with a PostgreSQL layer (events, releases).
 */
import { Events, Subject } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Archive, CacheManager, DataRights, ExperienceStore, ReleaseStore, Storage } from "../../src/index.js"
import * as PgServer from "../support/pgServer.js"
import * as RedisServer from "../support/redis.js"

const binary = await RedisServer.findRedisServer()
const pg = PgServer.shared()

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "dspy-rights-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** The values planted for a user: every one must be in their export and gone after their erasure. */
const plants = (u: string) => ({
  question: `${u}-QUESTION-kiwi`,
  answer: `${u}-ANSWER-kiwi`,
  corrected: `${u}-CORRECTED-kiwi`,
  event: `${u}-EVENT-kiwi`,
  cache: `${u}-CACHE-kiwi`
})
const users = { u1: plants("U1"), u2: plants("U2") }

interface Stores {
  readonly experiences: ExperienceStore.Service
  readonly reopenExperiences: Effect.Effect<ExperienceStore.Service, unknown, Scope.Scope>
  readonly events: Events.Service
  readonly releases: ReleaseStore.Service
  readonly cache: CacheManager.Service
  readonly redisUrl: string | undefined
}

const demoOf = (p: ReturnType<typeof plants>) => ({ fields: { question: p.question, answer: p.corrected } })
const stateWith = (demos: ReadonlyArray<unknown>) => ({
  predictors: { self: { instructions: "Answer.", demos } }
})

const plant = (stores: Stores, subject: string, p: ReturnType<typeof plants>, n: number) =>
  Effect.gen(function* () {
    const correlationId = `corr-${subject}`
    const at = (yield* Clock.currentTimeMillis) - n
    const e: ExperienceStore.Experience = {
      executionId: `ex-${subject}`,
      correlationId,
      moduleId: "qa",
      version: 1,
      inputs: { question: p.question },
      output: { answer: p.answer },
      ok: true,
      latencyMs: 5,
      lmCalls: 1,
      costUsd: 0.001,
      at,
      reward: undefined,
      outcome: undefined,
      feedbackAt: undefined,
      subject
    }
    stores.experiences.record(e)
    yield* stores.experiences.attach(
      [stores.experiences.get(e.executionId)!],
      { corrected: { answer: p.corrected } },
      1,
      at
    )
    yield* stores.events.publish({ type: "execution_note", correlationId, data: { text: p.event } })
    // The LM's cache entries of a request made for the user land in the user's namespace.
    yield* Subject.withSubject(
      Effect.flatMap(Effect.succeed(CacheManager.lmCache(stores.cache)), (lm) =>
        lm.set(`key-${subject}`, {
          text: p.cache,
          choices: [{ index: 0, message: { role: "assistant", content: p.cache }, finishReason: "stop" }],
          usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
          model: "sim",
          costUsd: 0
        } as never)
      ),
      subject
    )
  })

/** Everything every store holds, as one text (read back through each store, and Redis key by key). */
const scan = (stores: Stores) =>
  Effect.gen(function* () {
    const parts: Array<unknown> = []
    parts.push(yield* stores.experiences.query())
    parts.push(yield* (yield* stores.reopenExperiences).query())
    parts.push(yield* stores.events.query({}))
    const { namespaces, unavailable } = yield* stores.cache.namespaces
    assert.deepStrictEqual(unavailable, [])
    for (const ns of namespaces) parts.push(ns, yield* stores.cache.entries(ns))
    for (const m of yield* stores.releases.modules) parts.push(yield* stores.releases.load(m.moduleId))
    parts.push(yield* stores.releases.getResult("result-1"))
    if (stores.redisUrl !== undefined) {
      const client = new Redis(stores.redisUrl, { maxRetriesPerRequest: 1 })
      const raw = yield* Effect.promise(async () => {
        const out: Array<string> = []
        for (const key of await client.keys("*")) {
          const type = await client.type(key)
          out.push(key)
          if (type === "string") out.push(String(await client.get(key)))
          else if (type === "set") out.push(...(await client.smembers(key)))
        }
        client.disconnect()
        return out
      })
      parts.push(raw)
    }
    return JSON.stringify(parts)
  })

const scenario = (stores: Stores) =>
  Effect.gen(function* () {
    yield* plant(stores, "user-1", users.u1, 1_000)
    yield* plant(stores, "user-2", users.u2, 2_000)
    yield* stores.releases.create(
      { moduleId: "qa", shape: "predict", spec: null, promoted: 1, createdAt: 0, updatedAt: 0 },
      {
        moduleId: "qa",
        version: 1,
        state: stateWith([demoOf(users.u1), demoOf(users.u2)]),
        lineage: { parent: null, reason: "created", jobId: null, optimizer: null, scores: null },
        createdAt: 0
      }
    )
    yield* stores.releases.append(
      {
        moduleId: "qa",
        version: 2,
        state: stateWith([demoOf(users.u2), demoOf(users.u1)]),
        lineage: { parent: 1, reason: "optimized", jobId: "job-1", optimizer: "bootstrap", scores: null },
        createdAt: 1
      },
      { promote: true }
    )
    yield* stores.releases.putResult({
      key: "result-1",
      moduleId: "qa",
      state: stateWith([demoOf(users.u1), demoOf(users.u2)]),
      jobId: "job-1",
      optimizer: "bootstrap",
      scores: null,
      createdAt: 1
    })
    const before = yield* scan(stores)
    for (const p of [...Object.values(users.u1), ...Object.values(users.u2)])
      assert.include(before, p, `${p} was planted`)
    if (stores.redisUrl !== undefined) {
      const levels = (yield* stores.cache.entries(CacheManager.namespaceOf("lm", { subject: "user-1" }))).entries.map(
        (e) => e.level
      )
      assert.deepStrictEqual([...levels].sort(), ["l1", "l2", "l3"], "user 1's cache entry is at every level")
    }

    const rights = yield* DataRights.make(
      yield* DataRights.sourcesFromContext.pipe(
        Effect.provideService(ExperienceStore.ExperienceStore, stores.experiences),
        Effect.provideService(Events.Events, stores.events),
        Effect.provideService(ReleaseStore.ReleaseStore, stores.releases),
        Effect.provideService(CacheManager.CacheManager, stores.cache)
      )
    ).pipe(Effect.provideService(Events.Events, stores.events))

    const archive = yield* rights.export({ subject: "user-1" })
    const text = Archive.encode(archive)
    for (const p of Object.values(users.u1)) assert.include(text, p, `the export holds ${p}`)
    for (const p of Object.values(users.u2)) assert.notInclude(text, p, `the export leaves out ${p}`)
    const decoded = Archive.decode(text)
    assert.isTrue(Either.isRight(decoded))
    assert.strictEqual(Archive.encode(Either.getOrThrow(decoded)), text, "the archive reads back as written")
    assert.isAbove(archive.manifest.sources.cache!, 0)

    const report = yield* rights.erase({ subject: "user-1" })
    assert.isAbove(report.total, 0)
    const after = yield* scan(stores)
    for (const p of Object.values(users.u1)) assert.notInclude(after, p, `${p} is gone`)
    for (const p of Object.values(users.u2)) assert.include(after, p, `${p} is kept`)

    const audit = yield* stores.events.query({ types: ["data_erased"] })
    assert.strictEqual(audit.length, 1)
    const auditText = JSON.stringify(audit)
    assert.notInclude(auditText, "user-1", "the audit event holds no key")
    for (const p of Object.values(users.u1)) assert.notInclude(auditText, p)
    assert.strictEqual(audit[0]!.data.subject_digest, Subject.digest("user-1"))
    // Erasing again finds nothing more.
    assert.strictEqual((yield* rights.erase({ subject: "user-1" })).total, 0)
  })

const cacheOf = (dir: string, redisUrl: string | undefined) =>
  CacheManager.make({
    path: path.join(dir, "cache.db"),
    name: "rights",
    ...(redisUrl === undefined ? {} : { redis: { url: redisUrl, keyPrefix: "rights" } })
  })

const experiencesAt = (dir: string) => ExperienceStore.makeSqlite(path.join(dir, "experiences.db"))

describe("DataRights", () => {
  it.live(
    "SQLite: the export holds every planted value of user 1; the erasure leaves none of theirs, all of user 2's",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const redis = binary === undefined ? undefined : yield* RedisServer.start(binary)
          const events = Context.get(
            yield* Layer.build(Events.layerSqlite({ filename: path.join(dir, "events.db") })),
            Events.Events
          )
          yield* scenario({
            experiences: yield* experiencesAt(dir),
            reopenExperiences: experiencesAt(dir),
            events,
            releases: yield* ReleaseStore.makeSqlite({ filename: path.join(dir, "releases.db") }),
            cache: yield* cacheOf(dir, redis?.url),
            redisUrl: redis?.url
          })
        })
      )
  )

  it.live.skipIf(PgServer.binaries === undefined)(
    "PostgreSQL (events, releases): the same export and erasure",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const redis = binary === undefined ? undefined : yield* RedisServer.start(binary)
          const url = yield* pg.database()
          const client = yield* Layer.build(Storage.layerPostgresClient({ url, maxConnections: 4 }))
          const events = Context.get(
            yield* Layer.build(Layer.provide(Events.layerSql(), Layer.succeedContext(client))),
            Events.Events
          )
          const releases = yield* Effect.provide(ReleaseStore.makePostgres, client)
          assert.isTrue(Option.isSome(Context.getOption(client, SqlClient.SqlClient)))
          yield* scenario({
            experiences: yield* experiencesAt(dir),
            reopenExperiences: experiencesAt(dir),
            events,
            releases,
            cache: yield* cacheOf(dir, redis?.url),
            redisUrl: redis?.url
          })
        })
      ),
    60_000
  )

  it.effect("a request that does not say whose data is refused with DataRightsInvalid", () =>
    Effect.gen(function* () {
      const rights = yield* DataRights.make([])
      const error = yield* Effect.flip(rights.erase({}))
      assert.strictEqual(error._tag, "DataRightsInvalid")
      assert.strictEqual((yield* Effect.flip(rights.export({ subject: " " })))._tag, "DataRightsInvalid")
    })
  )
})
