/**
 * The experience store's implementation: the memory layer (a recent window kept whole, a seeded reservoir of
 * older experiences, indexes by id and correlation id) and the writer fiber that persists records and feedback
 * updates in batches (group commit: whatever accumulated while the previous batch was written goes in the next),
 * resolving each feedback's wait when its batch commits.
 */
import { Privacy } from "@effect-dspy/core"
import { Random } from "@effect-dspy/foundation"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Pg from "../../internal/postgres.js"
import * as Db from "../../internal/sqlDb.js"
import * as Sqlite from "../../internal/sqlite.js"
import { ExperienceStoreError } from "../../ServicesError.js"
import type { Bounds, Experience, Filter, SampleOptions, Service, Stats } from "../ExperienceStore.js"
import type * as Reward from "../Reward.js"

/** The SQLite layout written now. */
export const LAYOUT_VERSION = 2

const DAY = 24 * 60 * 60 * 1000

/** What a batch persists: new experiences, feedback of experiences written before, removed ids. */
interface Batch {
  readonly inserts: ReadonlyArray<Experience>
  readonly updates: ReadonlyArray<Experience>
  readonly deletes: ReadonlyArray<string>
}

/** How a batch is written (nothing, for the memory store). */
type Persist = (batch: Batch) => Effect.Effect<void, ExperienceStoreError>

const storeError = (operation: string, reason: string) =>
  new ExperienceStoreError({ operation, message: `The experience store could not ${operation}: ${reason}` })

const checkBounds = (bounds: Bounds): Required<Bounds> => {
  const maxCount = bounds.maxCount ?? 50_000
  const maxAgeMs = bounds.maxAgeMs ?? 7 * DAY
  const recentShare = bounds.recentShare ?? 0.5
  const batchSize = bounds.batchSize ?? 512
  if (!Number.isInteger(maxCount) || maxCount < 2)
    throw new RangeError(`maxCount must be an integer >= 2, got ${maxCount}`)
  if (!(maxAgeMs > 0)) throw new RangeError(`maxAgeMs must be positive, got ${maxAgeMs}`)
  if (!(recentShare > 0 && recentShare <= 1)) throw new RangeError(`recentShare must be in (0, 1], got ${recentShare}`)
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer`)
  return { maxCount, maxAgeMs, recentShare, batchSize, seed: bounds.seed ?? 0 }
}

/** The memory layer and the writer over a persistence function. */
const makeWith = (
  boundsIn: Bounds,
  persist: Persist,
  target: string,
  initial: ReadonlyArray<Experience>
): Effect.Effect<Service, ExperienceStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const bounds = yield* Effect.try({
      try: () => checkBounds(boundsIn),
      catch: (e) => storeError("open", `bad bounds: ${(e as Error).message}`)
    })
    const recentCap = Math.max(1, Math.floor(bounds.maxCount * bounds.recentShare))
    const reservoirCap = bounds.maxCount - recentCap
    const rng = Random.make(bounds.seed, "experience-reservoir")
    // The recent window by id, and its order (oldest at `head`) in an array: taking a `Map`'s first entry after
    // deleting its earlier ones walks over their holes until the table is rebuilt (about 10 us at 25,000 entries,
    // on every record once the window is full). An experience no longer in `recent` (erased) is skipped.
    const recent = new Map<string, Experience>()
    let order: Array<Experience | undefined> = []
    let head = 0
    /** Takes the oldest experience of the recent window out of it. */
    const takeOldest = (): Experience | undefined => {
      while (head < order.length) {
        const e = order[head]
        order[head++] = undefined
        if (e !== undefined && recent.get(e.executionId) === e) {
          recent.delete(e.executionId)
          if (head > 1024 && head * 2 > order.length) {
            order = order.slice(head)
            head = 0
          }
          return e
        }
      }
      return undefined
    }
    /** The oldest experience of the recent window, left in it. */
    const peekOldest = (): Experience | undefined => {
      while (head < order.length) {
        const e = order[head]
        if (e !== undefined && recent.get(e.executionId) === e) return e
        order[head++] = undefined
      }
      return undefined
    }
    const reservoir: Array<Experience> = []
    const reservoirAt = new Map<string, number>()
    // One experience per correlation id in the common case; an array once a request records several.
    const byCorrelation = new Map<string, Experience | Array<Experience>>()
    let seenOld = 0
    let recorded = 0
    let written = 0
    let batches = 0
    let evicted = 0
    let inserts: Array<Experience> = []
    // Recorded but not yet indexed: the request path only appends here; the index takes them in order, in batches
    // (when the writer wakes or a reader looks), off the request path. Its storage is reused (truncated, not replaced).
    const fresh: Array<Experience> = []
    let dirty = new Set<Experience>()
    let deletes: Array<string> = []
    // One Deferred per batch (not per feedback): every wait on the pending batch shares it.
    let batchDone: Deferred.Deferred<void, ExperienceStoreError> | undefined
    // Set from the first wake-up to the writer taking the batch: later wake-ups offer nothing.
    let signalled = false
    const signal = yield* Queue.sliding<void>(1)

    const unindex = (e: Experience) => {
      if (e.correlationId === undefined) return
      const list = byCorrelation.get(e.correlationId)
      if (list === undefined) return
      if (!Array.isArray(list)) {
        if (list === e) byCorrelation.delete(e.correlationId)
        return
      }
      const at = list.indexOf(e)
      if (at >= 0) list.splice(at, 1)
      if (list.length === 0) byCorrelation.delete(e.correlationId)
    }
    const drop = (e: Experience) => {
      unindex(e)
      evicted++
      deletes.push(e.executionId)
    }
    /** An experience leaving the recent window: into the reservoir (Algorithm R), or out. */
    const offerOld = (e: Experience) => {
      seenOld++
      if (reservoirCap <= 0) return drop(e)
      if (reservoir.length < reservoirCap) {
        reservoirAt.set(e.executionId, reservoir.length)
        reservoir.push(e)
        return
      }
      const j = Math.floor(rng.next() * seenOld)
      if (j < reservoirCap) {
        const out = reservoir[j]!
        reservoirAt.delete(out.executionId)
        drop(out)
        reservoir[j] = e
        reservoirAt.set(e.executionId, j)
      } else drop(e)
    }
    const add = (e: Experience) => {
      recent.set(e.executionId, e)
      order.push(e)
      if (e.correlationId !== undefined) {
        const list = byCorrelation.get(e.correlationId)
        if (list === undefined) byCorrelation.set(e.correlationId, e)
        else if (Array.isArray(list)) list.push(e)
        else byCorrelation.set(e.correlationId, [list, e])
      }
      if (recent.size > recentCap) {
        const oldest = takeOldest()
        if (oldest !== undefined) offerOld(oldest)
      }
    }
    for (const e of initial) add(e)
    // What was read back is persisted already: nothing to write, nothing evicted to report.
    deletes = []
    evicted = 0

    /** Indexes what was recorded since the last call, in order (as if each had been added when recorded). */
    const absorb = () => {
      const n = fresh.length
      if (n === 0) return
      for (let i = 0; i < n; i++) {
        const e = fresh[i]!
        add(e)
        inserts.push(e)
      }
      fresh.length = 0
    }

    const get = (id: string): Experience | undefined => {
      absorb()
      const r = recent.get(id)
      if (r !== undefined) return r
      const at = reservoirAt.get(id)
      return at === undefined ? undefined : reservoir[at]
    }

    /** Removes experiences past the age bound (the recent window is in time order; the reservoir is scanned). */
    const expire = (now: number) => {
      const cutoff = now - bounds.maxAgeMs
      for (let e = peekOldest(); e !== undefined && e.at < cutoff; e = peekOldest()) {
        takeOldest()
        drop(e)
      }
      let kept = 0
      for (let i = 0; i < reservoir.length; i++) {
        const e = reservoir[i]!
        if (e.at < cutoff) {
          reservoirAt.delete(e.executionId)
          drop(e)
          continue
        }
        reservoir[kept] = e
        reservoirAt.set(e.executionId, kept)
        kept++
      }
      reservoir.length = kept
    }

    let expiredAt = Number.NEGATIVE_INFINITY
    /** One batch: everything pending now, written in one transaction; its waiters resolved after it commits. */
    const writeBatch: Effect.Effect<void> = Effect.gen(function* () {
      // The age bound is checked at most once a second (the reservoir is scanned).
      const now = yield* Clock.currentTimeMillis
      absorb()
      if (now - expiredAt >= 1000) {
        expiredAt = now
        expire(now)
      }
      const added = inserts
      const updates: Array<Experience> = []
      if (dirty.size > 0) {
        // Feedback of an experience still to be inserted rides with its insert (the row carries its reward).
        const inserted = new Set(added)
        for (const e of dirty) if (!inserted.has(e)) updates.push(e)
      }
      const removed = deletes
      const waiting = batchDone
      inserts = []
      dirty = new Set()
      deletes = []
      batchDone = undefined
      signalled = false
      if (added.length === 0 && updates.length === 0 && removed.length === 0) {
        if (waiting !== undefined) Deferred.unsafeDone(waiting, Exit.void)
        return
      }
      const exit = yield* Effect.exit(persist({ inserts: added, updates, deletes: removed }))
      if (exit._tag === "Success") {
        written += added.length + updates.length
        batches++
        if (waiting !== undefined) Deferred.unsafeDone(waiting, Exit.void)
      } else {
        // Kept in memory and retried with the next batch; the feedback waiting on this one learns it failed.
        inserts.push(...added)
        for (const e of updates) dirty.add(e)
        deletes.push(...removed)
        if (waiting !== undefined) Deferred.unsafeDone(waiting, Exit.failCause(exit.cause))
      }
    })
    const lock = yield* Effect.makeSemaphore(1)
    const writeLocked = lock.withPermits(1)(writeBatch)
    // Group commit: after the wake-up, a few yields let every fiber ready to record or give feedback join the batch.
    const gather = Effect.zipRight(Effect.yieldNow(), Effect.yieldNow())
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.zipRight(Queue.take(signal), gather), writeLocked)))
    // At the scope's end, what is pending is written (best effort; a failure is logged).
    yield* Effect.addFinalizer(() => Effect.ignoreLogged(writeLocked))

    const wake = () => {
      if (signalled) return
      signalled = true
      Queue.unsafeOffer(signal, undefined)
    }
    /** The wait for the pending batch's commit (shared by everything that joins the batch). */
    const awaitBatch = (): Effect.Effect<void, ExperienceStoreError> => {
      if (batchDone === undefined) batchDone = Deferred.unsafeMake<void, ExperienceStoreError>(FiberId.none)
      const done = batchDone
      wake()
      return Deferred.await(done)
    }

    const matches = (e: Experience, f: Filter | undefined): boolean => {
      if (f === undefined) return true
      if (f.moduleId !== undefined && e.moduleId !== f.moduleId) return false
      if (f.version !== undefined && e.version !== f.version) return false
      if (f.since !== undefined && e.at < f.since) return false
      if (f.rewarded === true && e.reward === undefined) return false
      if (f.labelled === true && e.outcome?.corrected === undefined) return false
      if (f.minReward !== undefined && (e.reward === undefined || e.reward < f.minReward)) return false
      if (f.maxReward !== undefined && (e.reward === undefined || e.reward > f.maxReward)) return false
      if (f.minConfidence !== undefined && (e.outcome?.confidence ?? 1) < f.minConfidence) return false
      if (f.subject !== undefined && e.subject !== f.subject) return false
      if (f.tenant !== undefined && e.tenant !== f.tenant) return false
      if (f.before !== undefined && e.at >= f.before) return false
      return true
    }
    const select = (f: Filter | undefined): Array<Experience> => {
      absorb()
      const out: Array<Experience> = []
      for (const e of recent.values()) if (matches(e, f)) out.push(e)
      for (const e of reservoir) if (matches(e, f)) out.push(e)
      out.sort((a, b) => b.at - a.at)
      return f?.limit === undefined ? out : out.slice(0, f.limit)
    }

    const service: Service = {
      record: (e) => {
        recorded++
        fresh.push(e)
        if (fresh.length + inserts.length >= bounds.batchSize) wake()
      },
      get,
      byCorrelation: (id) => {
        absorb()
        const list = byCorrelation.get(id)
        return list === undefined ? [] : Array.isArray(list) ? list : [list]
      },
      attach: (experiences, outcome: Reward.Outcome, reward, at) =>
        Effect.suspend(() => {
          for (const e of experiences) {
            e.outcome = outcome
            e.reward = reward
            e.feedbackAt = at
            dirty.add(e)
          }
          return awaitBatch()
        }),
      query: (filter) => Effect.sync(() => select(filter)),
      sample: (options: SampleOptions) =>
        Effect.sync(() => {
          const pool = select(options.filter)
          const n = Math.max(0, Math.min(options.n, pool.length))
          const random = Random.make(options.seed, "experience-sample", options.mode ?? "uniform")
          if ((options.mode ?? "uniform") === "uniform") return random.sample(pool, n)
          // Prioritised: weights |reward - mean| + a floor, drawn without replacement (Efraimidis-Spirakis keys).
          const rewards = pool.filter((e) => e.reward !== undefined).map((e) => e.reward!)
          const mean = rewards.length === 0 ? 0 : rewards.reduce((a, b) => a + b, 0) / rewards.length
          const keyed = pool.map((e) => {
            const w = (e.reward === undefined ? 0 : Math.abs(e.reward - mean)) + 0.01
            return { e, key: Math.log(Math.max(random.next(), 1e-12)) / w }
          })
          keyed.sort((a, b) => b.key - a.key)
          return keyed.slice(0, n).map((k) => k.e)
        }),
      remove: (ids) =>
        Effect.suspend(() => {
          absorb()
          let n = 0
          for (const id of ids) {
            const e = get(id)
            if (e === undefined) continue
            n++
            unindex(e)
            dirty.delete(e)
            if (recent.delete(id)) {
              // Not written yet: it leaves the pending inserts instead.
              const pending = inserts.indexOf(e)
              if (pending >= 0) inserts.splice(pending, 1)
            } else {
              const at = reservoirAt.get(id)!
              const last = reservoir.pop()!
              reservoirAt.delete(id)
              if (last !== e) {
                reservoir[at] = last
                reservoirAt.set(last.executionId, at)
              }
            }
            deletes.push(id)
          }
          return Effect.as(awaitBatch(), n)
        }),
      flush: Effect.suspend(awaitBatch),
      stats: Effect.sync((): Stats => {
        absorb()
        return {
          count: recent.size + reservoir.length,
          recorded,
          written,
          batches,
          evicted,
          pending: inserts.length + dirty.size,
          target
        }
      })
    }
    return service
  })

/** The memory store: batches are "written" at once. */
export const makeMemory = (bounds: Bounds = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.orDie(makeWith(bounds, () => Effect.void, "memory", []))

const failWith =
  (operation: string) =>
  <A, R>(self: Effect.Effect<A, unknown, R>): Effect.Effect<A, ExperienceStoreError, R> =>
    Effect.mapError(Sqlite.oneLine(self), (reason) => storeError(operation, reason))

const jsonOf = (value: unknown): string | null => {
  if (value === undefined) return null
  try {
    const v =
      typeof value === "object" && value !== null && typeof (value as { toRecord?: unknown }).toRecord === "function"
        ? (value as { toRecord: () => unknown }).toRecord()
        : value
    return JSON.stringify(v) ?? null
  } catch {
    return null
  }
}

const parseJson = (text: unknown): unknown => {
  if (typeof text !== "string") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * A batch under the privacy policy's `stores` mode (`Privacy.scrub`, target `experiences`): the inputs, outputs and
 * outcomes (corrected answers included) redacted before they are written. Under `block`, an experience holding PII
 * is written without its text (inputs, output and corrected answer left out; its reward kept). One scrub a batch,
 * on the writer fiber: nothing on the request path, nothing at all when the policy is off.
 */
const scrubBatch = (privacy: Option.Option<Privacy.Service>, batch: Batch): Effect.Effect<Batch> => {
  if (Option.isNone(privacy)) return Effect.succeed(batch)
  const texts = (e: Experience) => [e.inputs, e.output, e.outcome] as const
  const withTexts = (e: Experience, [inputs, output, outcome]: ReturnType<typeof texts>): Experience => ({
    ...e,
    inputs,
    output,
    outcome
  })
  const one = (e: Experience): Effect.Effect<Experience> =>
    Privacy.scrub("experiences", texts(e)).pipe(
      Effect.map((t) => withTexts(e, t)),
      Effect.catchTag("PrivacyBlocked", () => {
        const { corrected: _, ...outcome } = e.outcome ?? {}
        return Effect.succeed(
          withTexts(e, [undefined, undefined, e.outcome === undefined ? undefined : (outcome as Reward.Outcome)])
        )
      })
    )
  return Effect.gen(function* () {
    const engine = yield* privacy.value.engine
    if (engine.inactive || engine.storeMode === "off") return batch
    const all = [...batch.inserts, ...batch.updates]
    const scrubbed = yield* Privacy.scrub("experiences", all.map(texts)).pipe(
      Effect.map((ts) => all.map((e, i) => withTexts(e, ts[i]!))),
      Effect.catchTag("PrivacyBlocked", () => Effect.forEach(all, one))
    )
    return {
      inserts: scrubbed.slice(0, batch.inserts.length),
      updates: scrubbed.slice(batch.inserts.length),
      deletes: batch.deletes
    }
  }).pipe(Effect.provideService(Privacy.Privacy, privacy.value))
}

/** The table's columns, in the order of {@link paramsOf}. */
const COLUMNS = [
  "id",
  "correlation_id",
  "module_id",
  "version",
  "inputs",
  "output",
  "ok",
  "latency_ms",
  "lm_calls",
  "cost_usd",
  "at",
  "reward",
  "outcome",
  "feedback_at",
  "subject",
  "tenant"
] as const

/** An experience as the row's values (the row codec shared by SQLite and PostgreSQL). */
const paramsOf = (e: Experience): Array<unknown> => [
  e.executionId,
  e.correlationId ?? null,
  e.moduleId,
  e.version,
  jsonOf(e.inputs),
  jsonOf(e.output),
  e.ok ? 1 : 0,
  e.latencyMs,
  e.lmCalls,
  e.costUsd,
  e.at,
  e.reward ?? null,
  e.outcome === undefined ? null : JSON.stringify(e.outcome),
  e.feedbackAt ?? null,
  e.subject ?? null,
  e.tenant ?? null
]

/** A row back as an experience. */
const experienceOf = (r: Db.Row): Experience => ({
  executionId: String(r.id),
  correlationId: r.correlation_id === null || r.correlation_id === undefined ? undefined : String(r.correlation_id),
  moduleId: String(r.module_id),
  version: Db.num(r.version),
  inputs: parseJson(r.inputs),
  output: parseJson(r.output),
  ok: Number(r.ok) === 1,
  latencyMs: Db.num(r.latency_ms),
  lmCalls: Db.num(r.lm_calls),
  costUsd: Db.num(r.cost_usd),
  at: Db.num(r.at),
  reward: Db.numOrUndefined(r.reward),
  outcome: r.outcome === null || r.outcome === undefined ? undefined : (parseJson(r.outcome) as Reward.Outcome),
  feedbackAt: Db.numOrUndefined(r.feedback_at),
  ...(r.subject === null || r.subject === undefined ? {} : { subject: String(r.subject) }),
  ...(r.tenant === null || r.tenant === undefined ? {} : { tenant: String(r.tenant) })
})

/** Rows a multi-row statement writes at most. */
const rowsPerStatement = 256

// New rows: multi-row upserts with bound parameters (a batch retried after a failure writes the same rows again).
const insertSql = (rows: number) =>
  `INSERT INTO dspy_loop_experiences (${COLUMNS.join(", ")}) VALUES ${Db.valuesList(rows, COLUMNS.length)}
    ON CONFLICT (id) DO UPDATE SET ${COLUMNS.slice(1)
      .map((c) => `${c} = excluded.${c}`)
      .join(", ")}`
// Feedback of rows written before: multi-row upserts of the feedback columns. Every row exists (written by an
// earlier batch), so only the DO UPDATE applies; the placeholder values of the other columns are never stored.
const updateSql = (rows: number) =>
  `INSERT INTO dspy_loop_experiences (id, module_id, version, ok, latency_ms, lm_calls, cost_usd, at, reward,
    outcome, feedback_at) VALUES ${Array.from({ length: rows }, () => "(?, '', 0, 0, 0, 0, 0, 0, ?, ?, ?)").join(", ")}
    ON CONFLICT (id) DO UPDATE SET reward = excluded.reward, outcome = excluded.outcome,
      feedback_at = excluded.feedback_at`
const fullInsert = insertSql(rowsPerStatement)
const fullUpdate = updateSql(rowsPerStatement)

/**
 * The store over a database (SQLite or PostgreSQL, its table ready): reads back the newest `maxCount` experiences,
 * then writes each batch in one transaction, under the privacy policy of the context.
 */
const makeOn = (db: Db.Db, target: string, bounds: Bounds): Effect.Effect<Service, ExperienceStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const stored = yield* failWith("read")(
      db.query(`SELECT ${COLUMNS.join(", ")} FROM dspy_loop_experiences ORDER BY at DESC LIMIT ?`, [
        bounds.maxCount ?? 50_000
      ])
    )
    const initial = stored.map(experienceOf).reverse()
    // The privacy policy of the context (Config's `privacy` section, followed as it changes), applied per batch.
    const privacy = yield* Privacy.service
    const persist: Persist = (given) =>
      failWith("write a batch")(
        Effect.flatMap(scrubBatch(privacy, given), (batch) =>
          db.transaction((query) =>
            Effect.gen(function* () {
              for (let from = 0; from < batch.inserts.length; from += rowsPerStatement) {
                const chunk = batch.inserts.slice(from, from + rowsPerStatement)
                yield* query(
                  chunk.length === rowsPerStatement ? fullInsert : insertSql(chunk.length),
                  chunk.flatMap(paramsOf)
                )
              }
              for (let from = 0; from < batch.updates.length; from += rowsPerStatement) {
                const chunk = batch.updates.slice(from, from + rowsPerStatement)
                yield* query(
                  chunk.length === rowsPerStatement ? fullUpdate : updateSql(chunk.length),
                  chunk.flatMap((e) => [
                    e.executionId,
                    e.reward ?? null,
                    e.outcome === undefined ? null : JSON.stringify(e.outcome),
                    e.feedbackAt ?? null
                  ])
                )
              }
              for (let from = 0; from < batch.deletes.length; from += rowsPerStatement) {
                const chunk = batch.deletes.slice(from, from + rowsPerStatement)
                yield* query(
                  `DELETE FROM dspy_loop_experiences WHERE id IN (${chunk.map(() => "?").join(", ")})`,
                  chunk
                )
              }
            })
          )
        )
      )
    return yield* makeWith(bounds, persist, target, initial)
  })

/** The SQLite store: opens (creating when needed; refusing a newer layout), reads back, writes in batches. */
export const makeSqlite = (
  filename: string,
  bounds: Bounds = {}
): Effect.Effect<Service, ExperienceStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const run = yield* failWith("open")(Sqlite.openReserved(filename))
    yield* failWith("open")(
      Effect.gen(function* () {
        const rows = yield* run("PRAGMA user_version", [])
        const version = Number((rows[0] as { readonly user_version?: unknown } | undefined)?.user_version ?? 0)
        if (version > LAYOUT_VERSION)
          return yield* Effect.fail(
            `the database '${filename}' was written by a newer version (layout ${version}, this one reads up to ${LAYOUT_VERSION}); upgrade`
          )
        yield* run(
          `CREATE TABLE IF NOT EXISTS dspy_loop_experiences (id TEXT PRIMARY KEY, correlation_id TEXT,
            module_id TEXT NOT NULL, version INTEGER NOT NULL, inputs TEXT, output TEXT, ok INTEGER NOT NULL,
            latency_ms REAL NOT NULL, lm_calls INTEGER NOT NULL, cost_usd REAL NOT NULL, at INTEGER NOT NULL, reward REAL, outcome TEXT,
            feedback_at INTEGER, subject TEXT, tenant TEXT)`,
          []
        )
        // Layout 1 to 2: the end user and tenant of each execution (unknown, so NULL, for the rows already there).
        if (version === 1) {
          yield* run("ALTER TABLE dspy_loop_experiences ADD COLUMN subject TEXT", [])
          yield* run("ALTER TABLE dspy_loop_experiences ADD COLUMN tenant TEXT", [])
        }
        yield* run("CREATE INDEX IF NOT EXISTS dspy_loop_experiences_at ON dspy_loop_experiences (at)", [])
        yield* run(
          "CREATE INDEX IF NOT EXISTS dspy_loop_experiences_subject ON dspy_loop_experiences (subject) WHERE subject IS NOT NULL",
          []
        )
        yield* run(`PRAGMA user_version = ${LAYOUT_VERSION}`, [])
        // WAL (the driver's default) with synchronous NORMAL: a commit is in the WAL file when it returns (it
        // survives the process crashing); only a power loss or OS crash before the next checkpoint's fsync can
        // lose the last commits (see docs/loop.md, Performance).
        yield* run("PRAGMA journal_mode = WAL", [])
        yield* run("PRAGMA synchronous = NORMAL", [])
      })
    )
    return yield* makeOn(yield* Db.sqlite(run), filename, bounds)
  })

/**
 * The PostgreSQL migration steps (index i: version i to i + 1), the SQLite layouts: version 1 the table, version 2 the
 * end user and tenant of each execution (NULL for the rows already there).
 */
const postgresMigrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE dspy_loop_experiences (id TEXT PRIMARY KEY, correlation_id TEXT,
      module_id TEXT NOT NULL, version INTEGER NOT NULL, inputs TEXT, output TEXT, ok INTEGER NOT NULL,
      latency_ms DOUBLE PRECISION NOT NULL, lm_calls INTEGER NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,
      at BIGINT NOT NULL, reward DOUBLE PRECISION, outcome TEXT, feedback_at BIGINT)`,
    "CREATE INDEX dspy_loop_experiences_at ON dspy_loop_experiences (at)"
  ],
  [
    "ALTER TABLE dspy_loop_experiences ADD COLUMN subject TEXT",
    "ALTER TABLE dspy_loop_experiences ADD COLUMN tenant TEXT",
    "CREATE INDEX dspy_loop_experiences_subject ON dspy_loop_experiences (subject) WHERE subject IS NOT NULL"
  ]
]

/** The store's name in `dspy_schema_versions`. */
export const POSTGRES_STORE = "loop_experiences"

/**
 * The PostgreSQL store over the `SqlClient` in context: the SQLite store's table, its version in
 * `dspy_schema_versions` under `loop_experiences` (migrated forward; a newer one refused).
 */
export const makePostgres = (
  bounds: Bounds = {}
): Effect.Effect<Service, ExperienceStoreError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function* () {
    const migrated = yield* Effect.mapError(Pg.oneLine(Pg.migrate(POSTGRES_STORE, postgresMigrations)), (reason) =>
      storeError("open", `${reason}. Check that the server is up and the user may create tables`)
    )
    if (migrated.newer)
      return yield* storeError(
        "open",
        `the database was written by a newer version (schema version ${migrated.found}, this one reads up to ${postgresMigrations.length}); upgrade, or use another database`
      )
    return yield* makeOn(yield* Db.postgres, "postgresql (loop_experiences)", bounds)
  })
