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
import { ArmStats, type ExperimentRecord, type ExperimentStore, type ReleaseStore } from "../../src/index.js"
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

/** Builds an `Open` from a function opening a store on a location made once per test. */
export const openAt = <L, S>(
  location: Effect.Effect<L, unknown, Scope.Scope>,
  open: (location: L) => Effect.Effect<S, unknown, Scope.Scope>
): Open<S> =>
  Effect.gen(function* () {
    const at = yield* location
    return { store: yield* open(at), reopen: open(at) }
  })
