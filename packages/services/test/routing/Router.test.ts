import { Events, Random } from "@effect-dspy/foundation"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Bandit, Calibration, Router, ServicesEvents } from "../../src/index.js"

/** Each segment's true success rate of each handler: `x` is better on "a", `y` on "b". */
const truth: Record<string, Record<string, number>> = { a: { x: 0.9, y: 0.2 }, b: { x: 0.2, y: 0.85 } }
const best: Record<string, string> = { a: "x", b: "y" }

interface Request {
  readonly segment: string
  readonly n: number
}

const handlers = {
  x: (r: Request) => Effect.succeed(`x:${r.n}`),
  y: (r: Request) => Effect.succeed(`y:${r.n}`)
}

const makeRouter = (algorithm: Bandit.Algorithm, filename?: string) =>
  Router.make({
    id: "qa-router",
    handlers,
    segment: (r: Request) => r.segment,
    algorithm,
    seed: 11,
    ...(filename === undefined ? {} : { filename })
  })

/** Routes `count` requests alternating segments, rewarding each with a seeded Bernoulli draw of its truth. */
const serve = (router: Router.Router<Request, string, never, never>, from: number, count: number) =>
  Effect.gen(function* () {
    const rng = Random.make(99, "outcomes", from)
    const chosen: Array<{ segment: string; handler: string }> = []
    for (let n = from; n < from + count; n++) {
      const segment = n % 2 === 0 ? "a" : "b"
      const routed = yield* router.route({ segment, n })
      assert.strictEqual(routed.output, `${routed.handler}:${n}`)
      chosen.push({ segment, handler: routed.handler })
      yield* router.reward(routed.id, rng.next() < truth[segment]![routed.handler]! ? 1 : 0)
    }
    return chosen
  })

const shareOfBest = (chosen: ReadonlyArray<{ segment: string; handler: string }>) =>
  chosen.filter((c) => c.handler === best[c.segment]).length / chosen.length

const withTempDir = <A, E, R>(f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "router-"))),
    f,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("Router (learned routing)", () => {
  for (const algorithm of [
    { _tag: "Thompson" } as const,
    { _tag: "EpsilonGreedy", epsilon: 0.5, decay: 0.98, floor: 0.05 } as const
  ]) {
    it.scoped(`${algorithm._tag}: learns the better handler of each segment from rewards`, () =>
      Effect.gen(function* () {
        const router = yield* makeRouter(algorithm)
        const chosen = yield* serve(router, 0, 400)
        // Early on both handlers are tried in both segments; by the end each segment is mostly served by its best.
        const late = chosen.slice(-100)
        assert.isAbove(shareOfBest(late), 0.85)
        assert.isAbove(shareOfBest(late.filter((c) => c.segment === "a")), 0.8)
        assert.isAbove(shareOfBest(late.filter((c) => c.segment === "b")), 0.8)
        const stats = yield* router.stats
        assert.deepStrictEqual(Object.keys(stats), ["a", "b"])
        const a = Object.fromEntries(stats.a!.map((s) => [s.handler, s]))
        assert.isAbove(a.x!.decisions, a.y!.decisions)
        assert.isAbove(a.y!.decisions, 0)
        assert.closeTo(a.x!.meanReward!, 0.9, 0.1)
        assert.strictEqual(
          stats.a!.reduce((n, s) => n + s.decisions, 0) + stats.b!.reduce((n, s) => n + s.decisions, 0),
          400
        )
      })
    )
  }

  it.scoped("records each decision with its confidence, and reports calibration against observed rewards", () =>
    Effect.gen(function* () {
      const router = yield* makeRouter({ _tag: "Thompson" })
      yield* serve(router, 0, 300)
      const decisions = yield* Events.queryOf(ServicesEvents.RouterDecision)
      const rewards = yield* Events.queryOf(ServicesEvents.RouterRewarded)
      assert.strictEqual(decisions.length, 300)
      assert.strictEqual(rewards.length, 300)
      const first = decisions[0]!.data
      // No rewards yet: the uniform prior's mean.
      assert.strictEqual(first.confidence, 0.5)
      assert.strictEqual(first.decision_id, "qa-router/0")
      const report = yield* router.calibration
      assert.strictEqual(report.n, 300)
      assert.strictEqual(
        report.bins.reduce((n, b) => n + b.n, 0),
        300
      )
      // Confidence is the posterior mean: it tracks the observed success rate.
      assert.isBelow(report.ece!, 0.15)
      const confident = report.bins.filter((b) => b.lower >= 0.8 && b.n > 20)
      assert.isAbove(confident.length, 0)
      for (const bin of confident) assert.isAbove(bin.observed!, 0.7)
    }).pipe(Effect.provide(Events.layerTest))
  )

  it("calibration: bins, ECE and Brier score by hand", () => {
    const bins = Calibration.empty(10)
    Calibration.add(bins, 0.95, 1)
    Calibration.add(bins, 0.95, 0)
    Calibration.add(bins, 0.15, 0)
    Calibration.add(bins, 0.15, 0)
    Calibration.add(bins, 1, 1)
    const report = Calibration.report(bins)
    assert.strictEqual(report.n, 5)
    assert.deepStrictEqual(
      report.bins.filter((b) => b.n > 0).map((b) => [b.lower, b.n]),
      [
        [0.1, 2],
        [0.9, 3]
      ]
    )
    const top = report.bins[9]!
    assert.closeTo(top.confidence!, (0.95 + 0.95 + 1) / 3, 1e-12)
    assert.closeTo(top.observed!, 2 / 3, 1e-12)
    // ECE = 2/5 * |0.15 - 0| + 3/5 * |0.9667 - 0.6667|
    assert.closeTo(report.ece!, 0.4 * 0.15 + 0.6 * 0.3, 1e-12)
    assert.closeTo(report.brier!, (0.05 ** 2 + 0.95 ** 2 + 2 * 0.15 ** 2 + 0) / 5, 1e-12)
    assert.isUndefined(Calibration.report(Calibration.empty(4)).ece)
  })

  it.effect("persists its state in SQLite and resumes it: preferences, pending decisions, ids, calibration", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const filename = path.join(dir, "router.db")
        const algorithm = { _tag: "EpsilonGreedy", epsilon: 0.3, decay: 0.99, floor: 0 } as const
        const before = yield* Effect.scoped(
          Effect.gen(function* () {
            const router = yield* makeRouter(algorithm, filename)
            yield* serve(router, 0, 300)
            const pending = yield* router.decide({ segment: "a", n: 300 })
            return { stats: yield* router.stats, calibration: yield* router.calibration, pending }
          })
        )
        assert.strictEqual(before.pending.id, "qa-router/300")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const router = yield* makeRouter(algorithm, filename)
            const stats = yield* router.stats
            // The pending decision's pull is part of the state.
            assert.deepStrictEqual(stats, before.stats)
            assert.deepStrictEqual(yield* router.calibration, before.calibration)
            // A decision made before the restart takes its reward now.
            yield* router.reward(before.pending.id, 1)
            assert.strictEqual((yield* router.calibration).n, 301)
            // Ids continue; the learned preference holds (the floor is 0 and epsilon has decayed to ~0.01).
            const next = yield* router.route({ segment: "b", n: 301 })
            assert.strictEqual(next.id, "qa-router/301")
            const chosen = yield* serve(router, 302, 60)
            assert.isAbove(shareOfBest(chosen), 0.9)
          })
        )
        // A fresh router on a new file knows nothing.
        const fresh = yield* Effect.scoped(
          Effect.flatMap(makeRouter(algorithm, path.join(dir, "other.db")), (r) => r.stats)
        )
        assert.deepStrictEqual(fresh, {})
      })
    )
  )

  it.effect("migrates a layout-1 file forward (the decisions' feedback links), keeping its state", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const filename = path.join(dir, "v1.db")
        yield* Effect.gen(function* () {
          const sql = yield* SqliteClient.SqliteClient
          yield* sql.unsafe(`CREATE TABLE dspy_router_arms (router TEXT NOT NULL, segment TEXT NOT NULL,
            handler TEXT NOT NULL, pulls INTEGER NOT NULL, reward_n INTEGER NOT NULL, reward_sum REAL NOT NULL,
            reward_sum_sq REAL NOT NULL, PRIMARY KEY (router, segment, handler))`)
          yield* sql.unsafe(`CREATE TABLE dspy_router_decisions (router TEXT NOT NULL, id TEXT NOT NULL,
            seq INTEGER NOT NULL, segment TEXT NOT NULL, handler TEXT NOT NULL, confidence REAL NOT NULL,
            explored INTEGER NOT NULL, created_at INTEGER NOT NULL, reward REAL, PRIMARY KEY (router, id))`)
          yield* sql.unsafe(`CREATE TABLE dspy_router_calibration (router TEXT NOT NULL, bins INTEGER NOT NULL,
            bin INTEGER NOT NULL, n INTEGER NOT NULL, confidence_sum REAL NOT NULL, reward_sum REAL NOT NULL,
            squared_error_sum REAL NOT NULL, PRIMARY KEY (router, bins, bin))`)
          yield* sql.unsafe(
            "INSERT INTO dspy_router_decisions VALUES ('qa-router', 'qa-router/0', 0, 'a', 'x', 0.5, 0, 1, NULL)"
          )
          yield* sql.unsafe("INSERT INTO dspy_router_arms VALUES ('qa-router', 'a', 'x', 1, 0, 0, 0)")
          yield* sql.unsafe("PRAGMA user_version = 1")
        }).pipe(Effect.provide(Layer.orDie(SqliteClient.layer({ filename }))), Effect.scoped)
        assert.strictEqual(Router.LAYOUT_VERSION, 2)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const router = yield* makeRouter({ _tag: "Thompson" }, filename)
            assert.strictEqual((yield* router.stats)["a"]![0]!.decisions, 1)
            yield* router.reward("qa-router/0", 1)
            assert.strictEqual((yield* router.decide({ segment: "a", n: 1 })).id, "qa-router/1")
          })
        )
      })
    )
  )

  it.effect("refuses a file written by a newer layout, saying so", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const filename = path.join(dir, "newer.db")
        yield* Effect.gen(function* () {
          const sql = yield* SqliteClient.SqliteClient
          yield* sql.unsafe(`PRAGMA user_version = ${Router.LAYOUT_VERSION + 1}`)
        }).pipe(Effect.provide(Layer.orDie(SqliteClient.layer({ filename }))), Effect.scoped)
        const error = yield* Effect.flip(Effect.scoped(makeRouter({ _tag: "Thompson" }, filename)))
        assert.strictEqual(error._tag, "RouterStoreError")
        assert.include(error.message, "newer version")
      })
    )
  )

  it.scoped("rejects bad rewards and bad options with typed errors, changing nothing", () =>
    Effect.gen(function* () {
      const router = yield* makeRouter({ _tag: "Thompson" })
      const decision = yield* router.decide({ segment: "a", n: 0 })
      for (const value of [-0.1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(router.reward(decision.id, value))
        assert.strictEqual(error._tag === "RouterRewardRejected" ? error.reason : error._tag, "invalid_value")
      }
      const unknown = yield* Effect.flip(router.reward("qa-router/999", 1))
      assert.strictEqual(unknown._tag === "RouterRewardRejected" ? unknown.reason : unknown._tag, "unknown_decision")
      yield* router.reward(decision.id, 0.25)
      const again = yield* Effect.flip(router.reward(decision.id, 1))
      assert.strictEqual(again._tag === "RouterRewardRejected" ? again.reason : again._tag, "already_rewarded")
      const stats = (yield* router.stats).a!.find((s) => s.handler === decision.handler)!
      assert.strictEqual(stats.rewards, 1)
      assert.strictEqual(stats.meanReward, 0.25)
      const none = yield* Effect.flip(Router.make({ id: "empty", handlers: {}, segment: (_: string) => "s" }))
      assert.strictEqual(none._tag === "RouterConfigError" ? none.option : none._tag, "handlers")
      const badEpsilon = yield* Effect.flip(
        Router.make({
          id: "bad",
          handlers,
          segment: (r: Request) => r.segment,
          algorithm: { _tag: "EpsilonGreedy", epsilon: 2, decay: 0.9, floor: 0 }
        })
      )
      assert.strictEqual(badEpsilon._tag === "RouterConfigError" ? badEpsilon.option : badEpsilon._tag, "algorithm")
    })
  )

  it.scoped("keeps the newest maxDecisions decisions: an older one's reward is unknown_decision", () =>
    Effect.gen(function* () {
      const router = yield* Router.make({
        id: "bounded",
        handlers,
        segment: (r: Request) => r.segment,
        maxDecisions: 100
      })
      const made = yield* Effect.forEach(
        Array.from({ length: 257 }, (_, n) => n),
        (n) => router.decide({ segment: "a", n })
      )
      // Pruned in batches of 256: at decision 256 those up to 156 go.
      const old = yield* Effect.flip(router.reward(made[100]!.id, 1))
      assert.strictEqual(old._tag === "RouterRewardRejected" ? old.reason : old._tag, "unknown_decision")
      assert.include(old.message, "maxDecisions")
      yield* router.reward(made[200]!.id, 1)
      // The statistics keep every decision.
      assert.strictEqual(
        (yield* router.stats).a!.reduce((n, s) => n + s.decisions, 0),
        257
      )
    })
  )

  it.scoped("a segment may come from an effect (a classifier), and a failing handler's error is the route's", () =>
    Effect.gen(function* () {
      const router = yield* Router.make({
        id: "classified",
        handlers: {
          ok: (q: string) => Effect.succeed(q.toUpperCase()),
          broken: (_: string) => Effect.fail("handler down" as const)
        },
        segment: (q: string) => Effect.succeed(q.length > 3 ? "long" : "short"),
        algorithm: { _tag: "EpsilonGreedy", epsilon: 1, decay: 1, floor: 1 },
        seed: 3
      })
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? `q${i}` : `question ${i}`)),
        (q) => Effect.either(router.route(q))
      )
      assert.isTrue(outcomes.some((o) => o._tag === "Left" && o.left === "handler down"))
      assert.isTrue(outcomes.some((o) => o._tag === "Right" && o.right.output === o.right.output.toUpperCase()))
      assert.deepStrictEqual(Object.keys(yield* router.stats), ["long", "short"])
    })
  )
})
