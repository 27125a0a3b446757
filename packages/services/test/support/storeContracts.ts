/**
 * The storage contracts: one suite per concern (releases, experiments, optimization jobs, checkpoints, events),
 * each run against every backend (memory where there is one, SQLite, PostgreSQL) by the test files that import
 * them. A backend is a function opening a store for one test (a fresh file or database) and reopening it on the
 * same data (as a restarted process would).
 */
import type { Events } from "@effect-dspy/foundation"
import type { Checkpoint } from "@effect-dspy/optimizers"
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import {
  ArmStats,
  type ExperienceStore,
  type ExperimentRecord,
  type ExperimentStore,
  type MetricHistory,
  type ReleaseStore,
  type RouterStore
} from "../../src/index.js"
import type { JobRow, JobStore } from "../../src/internal/coordinator/store.js"

/** Opens a store on a fresh location; `reopen` opens another store on the same data. */
export type Open<S> = Effect.Effect<
  { readonly store: S; readonly reopen: Effect.Effect<S, unknown, Scope.Scope> },
  unknown,
  Scope.Scope
>

/** The stores of one backend. */
export interface Backend {
  readonly name: string
  readonly skip: boolean
  readonly releases: Open<ReleaseStore.Service>
  readonly experiments: Open<ExperimentStore.Service>
  readonly jobs: Open<JobStore>
  readonly checkpoints: Open<Checkpoint.Service>
  readonly events: (retention: Events.RetentionOptions) => Open<Events.Service>
  readonly experiences: (bounds: ExperienceStore.Bounds) => Open<ExperienceStore.Service>
  readonly metrics: (options: MetricHistory.Options) => Open<MetricHistory.Service>
  readonly routers: Open<RouterStore.Service>
}

const lineage = (parent: number | null, reason: string): ReleaseStore.Lineage => ({
  parent,
  reason,
  jobId: null,
  optimizer: null,
  scores: null
})

const version = (moduleId: string, v: number): ReleaseStore.VersionRecord => ({
  moduleId,
  version: v,
  state: { version: 1, program: "p", predictors: { self: { demos: [{ q: "é ✓", a: v }] } } },
  lineage: lineage(v === 1 ? null : v - 1, v === 1 ? "created" : "swapped"),
  createdAt: 1_733_000_000_000 + v
})

const createQa = (store: ReleaseStore.Service, id = "qa") =>
  store.create(
    { moduleId: id, shape: "s1", spec: { id, kind: "predict" }, promoted: 1, createdAt: 1, updatedAt: 1 },
    version(id, 1)
  )

const promoted = (store: ReleaseStore.Service, id = "qa") =>
  Effect.map(store.load(id), (m) => Option.getOrThrow(m).module.promoted)

const experiment = (id: string, moduleId: string, updatedAt: number): ExperimentRecord.ExperimentRecord => ({
  schemaVersion: 1,
  id,
  moduleId,
  baseline: "1",
  arms: ["1", "2"],
  status: "running",
  settings: { alpha: 0.05, qualityTau2: 0.01, errorTau2: 0.0025, minRewards: 30, checkEvery: 100, autoApply: false },
  stats: { "1": ArmStats.empty(), "2": ArmStats.empty() },
  createdAt: 1,
  updatedAt
})

const execution = (i: number): ExperienceStore.Experience => ({
  executionId: `ex_${i}`,
  correlationId: i % 3 === 0 ? undefined : `req_${i}`,
  moduleId: i % 2 === 0 ? "a" : "b",
  version: 1 + (i % 2),
  inputs: { question: `q${i} é ✓` },
  output: i % 5 === 0 ? undefined : { answer: `a${i}` },
  ok: i % 5 !== 0,
  latencyMs: 10.5 + i,
  lmCalls: i % 5 === 0 ? 0 : 1,
  costUsd: i % 5 === 0 ? 0 : 0.0015,
  at: 1_733_000_000_000 + i,
  reward: undefined,
  outcome: undefined,
  feedbackAt: undefined
})

const job = (id: string, seq: number): JobRow => ({
  id,
  dedupeKey: `key-${id}`,
  moduleId: "qa",
  moduleVersion: 1,
  studentState: JSON.stringify({ program: "p" }),
  optimizer: "bootstrap_few_shot",
  metric: "exact_match",
  priority: 0,
  seq,
  seed: 4_294_967_295,
  data: JSON.stringify({ trainset: [], valset: null }),
  budget: "null",
  status: "queued",
  servingScore: null,
  optimizedScore: null,
  servingVersion: null,
  swappedVersion: null,
  error: null,
  createdAt: 1_733_000_000_123,
  startedAt: null,
  finishedAt: null
})

/** Registers every contract test of `backend` (inside the caller's `describe`). */
export const contracts = (backend: Backend): void => {
  const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope>) =>
    it.live.skipIf(backend.skip)(`${backend.name}: ${name}`, () => Effect.scoped(body()), 30_000)

  test("releases: versions, the promoted one, results and forgetting, read back after reopening", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.releases
      assert.isTrue(Option.isNone(yield* store.load("qa")))
      yield* createQa(store)
      yield* createQa(store, "b-module")
      for (let v = 2; v <= 5; v++) yield* store.append(version("qa", v), { promote: v !== 5 })
      const result: ReleaseStore.StoredResult = {
        key: "k1",
        moduleId: "qa",
        state: { a: 1 },
        jobId: "opt-1",
        optimizer: "bootstrap_few_shot",
        scores: { serving: 40, optimized: 62.5 },
        createdAt: 1_733_000_000_007
      }
      yield* store.putResult(result)
      // A duplicate version is refused, and changes nothing.
      assert.isTrue(Either.isLeft(yield* Effect.either(store.append(version("qa", 3), { promote: true }))))
      const again = yield* reopen
      const all = Option.getOrThrow(yield* again.load("qa"))
      assert.deepStrictEqual(
        all.versions.map((v) => v.version),
        [1, 2, 3, 4, 5]
      )
      assert.strictEqual(all.module.promoted, 4)
      assert.deepStrictEqual(all.module.spec, { id: "qa", kind: "predict" })
      assert.deepStrictEqual(all.versions[2], version("qa", 3))
      assert.deepStrictEqual(
        Option.getOrThrow(yield* again.load("qa", 2)).versions.map((v) => v.version),
        [4, 5]
      )
      assert.deepStrictEqual(
        (yield* again.modules).map((m) => m.moduleId),
        ["b-module", "qa"]
      )
      yield* again.promote("qa", 2, 50)
      assert.strictEqual(yield* promoted(again), 2)
      assert.deepStrictEqual(Option.getOrThrow(yield* again.getResult("k1")), result)
      assert.isTrue(Option.isNone(yield* again.getResult("k2")))
      yield* again.forget("qa")
      assert.isTrue(Option.isNone(yield* again.load("qa")))
      assert.isTrue(Option.isSome(yield* again.load("b-module")))
    }))

  test("releases: compare-and-swap promotes and appends only over the expected version, once", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.releases
      yield* createQa(store)
      yield* store.append(version("qa", 2), { promote: false })
      // A stale expectation: nothing changes, and the error says what was found.
      const stale = yield* Effect.flip(store.promoteIf("qa", 7, 2, 10))
      assert.strictEqual(stale._tag, "ReleaseStoreConflict")
      if (stale._tag === "ReleaseStoreConflict") assert.deepStrictEqual([stale.expected, stale.found], [7, 1])
      assert.strictEqual(yield* promoted(store), 1)
      yield* store.promoteIf("qa", 1, 2, 10)
      assert.strictEqual(yield* promoted(store), 2)
      // The same swap applied twice: the second finds version 2, not 1.
      assert.strictEqual((yield* Effect.flip(store.promoteIf("qa", 1, 2, 11)))._tag, "ReleaseStoreConflict")
      const missing = yield* Effect.flip(store.promoteIf("nope", 1, 2, 11))
      assert.deepStrictEqual(missing._tag === "ReleaseStoreConflict" ? missing.found : "other", null)
      // appendIf: a stale one writes no version.
      assert.strictEqual((yield* Effect.flip(store.appendIf(version("qa", 3), 1)))._tag, "ReleaseStoreConflict")
      assert.strictEqual(Option.getOrThrow(yield* store.load("qa")).versions.length, 2)
      // Racing writers, each computed against version 2 (two stores on the same data): exactly one wins.
      const other = yield* reopen
      const outcomes = yield* Effect.all(
        [3, 4, 5, 6].map((v, i) => Effect.either((i % 2 === 0 ? store : other).appendIf(version("qa", v), 2))),
        { concurrency: "unbounded" }
      )
      const won = outcomes.filter(Either.isRight).length
      assert.strictEqual(won, 1)
      const after = Option.getOrThrow(yield* other.load("qa"))
      assert.strictEqual(after.versions.length, 3)
      assert.strictEqual(after.module.promoted, after.versions[2]!.version)
    }))

  test("experiments: put, get, list by module, compare-and-swap on updatedAt, after reopening", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.experiments
      yield* store.put(experiment("b", "qa", 2))
      yield* store.put(experiment("a", "summarize", 2))
      yield* store.put({ ...experiment("b", "qa", 3), status: "concluded" })
      assert.isTrue(yield* store.putIf(experiment("c", "qa", 5), null))
      assert.isFalse(yield* store.putIf(experiment("c", "qa", 6), null)) // already stored
      assert.isFalse(yield* store.putIf({ ...experiment("b", "qa", 9), status: "promoted" }, 2)) // stale
      assert.isTrue(yield* store.putIf({ ...experiment("b", "qa", 9), status: "promoted" }, 3))
      const again = yield* reopen
      assert.strictEqual((yield* again.get("b"))?.status, "promoted")
      assert.deepStrictEqual(yield* again.get("c"), experiment("c", "qa", 5))
      assert.isUndefined(yield* again.get("zzz"))
      assert.deepStrictEqual(
        (yield* again.list()).map((r) => r.id),
        ["a", "b", "c"]
      )
      assert.deepStrictEqual(
        (yield* again.list("qa")).map((r) => r.id),
        ["b", "c"]
      )
    }))

  test("optimization jobs: insert, update, compare-and-swap on status, read back in order", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.jobs
      yield* store.insert(job("j2", 2))
      yield* store.insert(job("j1", 1))
      yield* store.update("j1", { status: "running", startedAt: 1_733_000_000_200 })
      yield* store.update("j1", {})
      // The job finishes once: a second "running -> swapped" finds it swapped already.
      const finish = { status: "swapped" as const, optimizedScore: 62.5, servingScore: 40, swappedVersion: 2 }
      assert.isTrue(yield* store.updateIf("j1", "running", finish))
      assert.isFalse(yield* store.updateIf("j1", "running", { ...finish, swappedVersion: 3 }))
      assert.isFalse(yield* store.updateIf("j2", "running", { status: "failed" }))
      const rows = yield* (yield* reopen).all
      assert.deepStrictEqual(
        rows.map((r) => r.id),
        ["j1", "j2"]
      )
      assert.deepStrictEqual(rows[0], {
        ...job("j1", 1),
        status: "swapped",
        startedAt: 1_733_000_000_200,
        optimizedScore: 62.5,
        servingScore: 40,
        swappedVersion: 2
      })
      assert.deepStrictEqual(rows[1], job("j2", 2))
    }))

  test("checkpoints: units by namespace, JSON back as stored, size and clear, after reopening", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.checkpoints
      yield* store.set("run-a", "bootstrap/0", { demos: [1, 2], note: "ü" })
      yield* store.set("run-a", "bootstrap/1", [true, null])
      yield* store.set("run-a", "bootstrap/0", { demos: [3] })
      yield* store.set("run-b", "score/1", 0.5)
      const again = yield* reopen
      assert.deepStrictEqual(yield* again.get("run-a", "bootstrap/0"), Option.some({ demos: [3] }))
      assert.deepStrictEqual(yield* again.get("run-a", "bootstrap/1"), Option.some([true, null]))
      assert.isTrue(Option.isNone(yield* again.get("run-a", "missing")))
      assert.strictEqual(yield* again.size("run-a"), 2)
      yield* again.clear("run-a")
      assert.strictEqual(yield* again.size("run-a"), 0)
      assert.deepStrictEqual(yield* again.get("run-b", "score/1"), Option.some(0.5))
    }))

  test("events: publish, query by type, correlation and page, retention, after reopening", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.events({ maxEvents: 4 })
      for (let i = 0; i < 6; i++) {
        yield* store.publish({ type: i % 2 === 0 ? "even" : "odd", data: { i }, correlationId: i < 3 ? "c1" : "c2" })
      }
      // Retention keeps the 4 newest.
      assert.strictEqual(yield* store.count, 4)
      const again = yield* reopen
      assert.deepStrictEqual(
        (yield* again.query({})).map((e) => e.data.i),
        [2, 3, 4, 5]
      )
      assert.deepStrictEqual(
        (yield* again.query({ types: ["even"] })).map((e) => e.data.i),
        [2, 4]
      )
      assert.deepStrictEqual(
        (yield* again.query({ correlationId: "c2", order: "desc", limit: 2 })).map((e) => e.data.i),
        [5, 4]
      )
      assert.deepStrictEqual(
        (yield* again.query({ offset: 3 })).map((e) => e.data.i),
        [5]
      )
      const all = yield* again.query({})
      assert.isTrue(all.every((e, i) => i === 0 || e.timestamp >= all[i - 1]!.timestamp))
      assert.strictEqual(typeof all[0]!.timestamp, "number")
    }))
}

/** Registers the contract tests of the stores added with issue 18's second set (inside the caller's `describe`). */
export const moreContracts = (backend: Backend): void => {
  const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope>) =>
    it.live.skipIf(backend.skip)(`${backend.name}: ${name}`, () => Effect.scoped(body()), 30_000)

  test("experiences: records and feedback written in batches, evictions deleted, read back after reopening", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.experiences({
        batchSize: 64,
        maxCount: 200,
        recentShare: 1,
        maxAgeMs: 1e14
      })
      for (let i = 0; i < 260; i++) store.record(execution(i))
      yield* store.flush
      const seven = store.get("ex_207")!
      yield* store.attach([seven], { rating: 0.25, corrected: { answer: "42" }, confidence: 0.5 }, 0.25, 9_000)
      // Feedback attached twice (a retried batch) writes the same row again.
      yield* store.attach([seven], { rating: 0.75 }, 0.75, 9_001)
      const stats = yield* store.stats
      assert.deepStrictEqual([stats.count, stats.pending, stats.evicted], [200, 0, 60])
      const again = yield* reopen
      assert.strictEqual((yield* again.stats).count, 200)
      // The evicted (oldest) experiences are gone from the database too.
      assert.isUndefined(again.get("ex_59"))
      assert.deepStrictEqual(again.get("ex_207"), {
        ...execution(207),
        reward: 0.75,
        outcome: { rating: 0.75 },
        feedbackAt: 9_001
      })
      assert.deepStrictEqual(again.get("ex_210"), execution(210))
      assert.deepStrictEqual(
        (yield* again.query({ moduleId: "b", limit: 2 })).map((e) => e.executionId),
        ["ex_259", "ex_257"]
      )
      assert.deepStrictEqual(
        again.byCorrelation("req_208").map((e) => e.executionId),
        ["ex_208"]
      )
    }))

  test("experiences: end user and tenant kept and filtered on; remove deletes from the database; events remove", () =>
    Effect.gen(function* () {
      const { store, reopen } = yield* backend.experiences({ batchSize: 16, maxCount: 100, maxAgeMs: 1e14 })
      const owned = (i: number): ExperienceStore.Experience => ({
        ...execution(i),
        subject: i % 2 === 0 ? "alice" : "bob",
        ...(i < 4 ? { tenant: "acme" } : {})
      })
      for (let i = 0; i < 6; i++) store.record(owned(i))
      yield* store.flush
      assert.strictEqual(yield* store.remove(["ex_0", "missing"]), 1)
      const again = yield* reopen
      assert.isUndefined(again.get("ex_0"))
      assert.deepStrictEqual(again.get("ex_2"), owned(2))
      assert.deepStrictEqual(again.get("ex_5"), owned(5))
      assert.deepStrictEqual((yield* again.query({ subject: "alice" })).map((e) => e.executionId).sort(), [
        "ex_2",
        "ex_4"
      ])
      assert.deepStrictEqual((yield* again.query({ tenant: "acme" })).map((e) => e.executionId).sort(), [
        "ex_1",
        "ex_2",
        "ex_3"
      ])
      const events = yield* backend.events({})
      for (let i = 0; i < 3; i++) yield* events.store.publish({ type: "t", data: { i } })
      const published = yield* events.store.query({})
      assert.strictEqual(yield* events.store.remove([published[1]!.id, "missing"]), 1)
      assert.deepStrictEqual(
        (yield* (yield* events.reopen).query({})).map((e) => e.data.i),
        [0, 2]
      )
    }))

  test("routers: decisions, rewards, calibration and feedback links by router, read back after reopening", () =>
    routerContract(backend))

  test("metric history: rollups merged on write, read back, down-sampled and expired after reopening", () =>
    Effect.gen(function* () {
      const day = 86_400_000
      const hour = 3_600_000
      const { store, reopen } = yield* backend.metrics({
        intervalMs: 1_000,
        rawRetentionMs: day,
        hourRetentionMs: 2 * day + hour
      })
      const now = Date.now()
      const recent = now - (now % 1_000) - 60_000
      const old = now - (now % hour) - 2 * day // past the raw retention: folded into its hour
      const ancient = now - (now % hour) - 3 * day // past the hour retention too: dropped
      const latency = { metric: "module.latency_ms", module: "qa", version: "1" }
      const record = store.recorder(latency)
      for (let i = 1; i <= 10; i++) record(i, recent + i)
      record(100, old)
      record(200, old + 5_000)
      record(7, ancient)
      store.recorder({ metric: "module.latency_ms", module: "other" })(5, recent)
      store.recorder({ metric: "provider.errors", provider: "p" })(1, recent)
      assert.strictEqual(yield* store.flush({ all: true }), 6)
      // A late value for a flushed interval is merged with its stored row.
      record(30, recent + 500)
      yield* store.flush({ all: true })
      const again = yield* reopen
      const [point] = yield* again.query({ selector: latency, from: recent, to: recent + 1_000 })
      assert.deepStrictEqual([point!.count, point!.sum, point!.min, point!.max], [11, 85, 1, 30])
      assert.deepStrictEqual(
        (yield* again.query({ selector: { metric: "module.latency_ms" }, from: recent, to: now }))
          .map((p) => p.count)
          .sort((a, b) => a - b),
        [1, 11]
      )
      assert.deepStrictEqual((yield* again.series).map((s) => s.metric).sort(), [
        "module.latency_ms",
        "module.latency_ms",
        "provider.errors"
      ])
      assert.deepStrictEqual(yield* again.compact, { downsampled: 3, expired: 1 })
      const hours = yield* again.rollups({ selector: latency, from: old - day, to: recent })
      assert.deepStrictEqual(
        hours.map((r) => [r.start, r.intervalMs, r.count, r.sum]),
        [[old, hour, 2, 300]]
      )
    }))
}

/** The router contract (a function: it is registered by {@link moreContracts}). */
const routerContract = (backend: Backend) =>
  Effect.gen(function* () {
    const { store, reopen } = yield* backend.routers
    const options = { bins: 4, maxDecisions: 512 }
    const a = yield* store.open("a", options)
    const b = yield* store.open("b", options)
    const decide = (state: RouterStore.RouterState, seq: number, handler: string) =>
      state.decide({
        id: `r/${seq}`,
        seq,
        segment: "s",
        handler,
        confidence: 0.5,
        explored: false,
        createdAt: 1_733_000_000_000
      })
    for (let seq = 0; seq < 5; seq++) yield* decide(a, seq, seq % 2 === 0 ? "x" : "y")
    yield* decide(b, 0, "x")
    yield* a.reward({ id: "r/0", segment: "s", handler: "x", value: 1, bin: 2, confidence: 0.5 })
    yield* a.reward({ id: "r/2", segment: "s", handler: "x", value: 0.5, bin: 2, confidence: 0.5 })
    // Feedback links: r/3's survives the restart; r/2's decision has its reward, so it needs none.
    yield* a.link("r/2", "ex_2")
    yield* a.link("r/3", "ex_3")
    // A duplicate decision id is refused, and changes nothing.
    assert.isTrue(Either.isLeft(yield* Effect.either(decide(a, 4, "x"))))
    const again = yield* (yield* reopen).open("a", options)
    const loaded = yield* again.load
    assert.deepStrictEqual(loaded.arms, [
      { segment: "s", handler: "x", pulls: 3, rewardN: 2, rewardSum: 1.5, rewardSumSq: 1.25 },
      { segment: "s", handler: "y", pulls: 2, rewardN: 0, rewardSum: 0, rewardSumSq: 0 }
    ])
    assert.strictEqual(loaded.nextSeq, 5)
    assert.deepStrictEqual(loaded.bins, [{ bin: 2, n: 2, confidenceSum: 1, rewardSum: 1.5, squaredErrorSum: 0.25 }])
    assert.deepStrictEqual(loaded.links, [{ decisionId: "r/3", executionId: "ex_3" }])
    assert.deepStrictEqual(yield* again.decision("r/2"), {
      id: "r/2",
      seq: 2,
      segment: "s",
      handler: "x",
      confidence: 0.5,
      reward: 0.5
    })
    assert.isUndefined(yield* again.decision("r/99"))
    // Another router's state is its own.
    const other = yield* (yield* (yield* reopen).open("b", options)).load
    assert.deepStrictEqual([other.nextSeq, other.arms.length, other.links.length], [1, 1, 0])
  })

/** Builds an `Open` from a function opening a store on a location made once per test. */
export const openAt = <L, S>(
  location: Effect.Effect<L, unknown, Scope.Scope>,
  open: (location: L) => Effect.Effect<S, unknown, Scope.Scope>
): Open<S> =>
  Effect.gen(function* () {
    const at = yield* location
    return { store: yield* open(at), reopen: open(at) }
  })
