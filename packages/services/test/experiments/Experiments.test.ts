import { Events, Random } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Experiments, ExperimentStore, ServicesEvents, TrafficPolicy } from "../../src/index.js"

const TestLayer = Experiments.layer.pipe(
  Layer.provideMerge(ExperimentStore.layerMemory),
  Layer.provideMerge(Events.layerMemory)
)

/** Feeds `n` outcomes routed by a router over the experiment's arms; `quality` and `error` by arm. */
const feed = (
  id: string,
  router: TrafficPolicy.Router,
  n: number,
  world: Record<string, { quality: number; error: number; latency: number }>,
  seed = 1
) =>
  Effect.gen(function* () {
    const experiments = yield* Experiments.Experiments
    const rng = Random.make(seed, "experiments-test", id)
    for (let i = 0; i < n; i++) {
      const d = router.route()
      const w = world[d.arm]!
      const error = rng.chance(w.error)
      yield* experiments.observe(id, d.arm, {
        latencyMs: w.latency * (0.5 + rng.next()),
        error,
        costUsd: 0.001,
        ...(error ? {} : { reward: rng.chance(w.quality) ? 1 : 0 })
      })
    }
  })

const weighted = (a: string, b: string): TrafficPolicy.Policy => ({
  _tag: "Weighted",
  weights: [
    { version: a, weight: 0.5 },
    { version: b, weight: 0.5 }
  ]
})

describe("Experiments", () => {
  it.effect("runs the lifecycle: running -> promoted, and refuses what does not fit the status", () =>
    Effect.gen(function* () {
      const experiments = yield* Experiments.Experiments
      const started = yield* experiments.start({ moduleId: "qa", baseline: "1", arms: ["2"] })
      assert.strictEqual(started.id, "qa-1")
      assert.strictEqual(started.status, "running")
      assert.deepStrictEqual(started.arms, ["1", "2"])
      yield* feed(started.id, TrafficPolicy.make(weighted("1", "2"), { seed: 1 }), 250, {
        "1": { quality: 0.7, error: 0, latency: 100 },
        "2": { quality: 0.7, error: 0, latency: 100 }
      })
      const record = yield* experiments.get(started.id)
      assert.strictEqual(record.stats["1"]!.n + record.stats["2"]!.n, 250)
      assert.strictEqual(record.analysis?.recommendation._tag, "KeepTesting") // checked at 100 and 200
      assert.strictEqual(record.analysis?.comparisons[0]?.quality.checks, 2)
      const promoted = yield* experiments.promote(started.id, { arm: "2", reason: "cheaper" })
      assert.strictEqual(promoted.status, "promoted")
      assert.deepStrictEqual(promoted.outcome?.automatic, false)
      const late = yield* Effect.flip(experiments.observe(started.id, "2", { latencyMs: 1, error: false, costUsd: 0 }))
      assert.strictEqual(late._tag, "ExperimentStatusConflict")
      const again = yield* Effect.flip(experiments.rollBack(started.id, { arm: "2", reason: "no" }))
      assert.strictEqual(again._tag, "ExperimentStatusConflict")
      const missing = yield* Effect.flip(experiments.get("nope"))
      assert.strictEqual(missing._tag, "ExperimentNotFound")
      const [event] = yield* Events.queryOf(ServicesEvents.ExperimentPromoted)
      assert.strictEqual(event?.data.arm, "2")
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect("refuses bad requests with what to fix, changing nothing", () =>
    Effect.gen(function* () {
      const experiments = yield* Experiments.Experiments
      const oneArm = yield* Effect.flip(experiments.start({ moduleId: "qa", baseline: "1", arms: ["1"] }))
      assert.strictEqual(oneArm._tag, "ExperimentInvalid")
      const alpha = yield* Effect.flip(
        experiments.start({ moduleId: "qa", baseline: "1", arms: ["2"], settings: { alpha: 2 } })
      )
      assert.strictEqual(alpha._tag === "ExperimentInvalid" ? alpha.field : "", "settings.alpha")
      const rails = yield* Effect.flip(
        experiments.start({
          moduleId: "qa",
          baseline: "1",
          arms: ["2"],
          settings: { guardRails: { minSamples: 0, maxErrorRate: 0.1 } }
        })
      )
      assert.strictEqual(rails._tag === "ExperimentInvalid" ? rails.field : "", "settings.guardRails.minSamples")
      const policy = yield* Effect.flip(
        experiments.start({ moduleId: "qa", baseline: "1", arms: ["2"], policy: weighted("1", "3") })
      )
      assert.strictEqual(policy._tag, "PolicyInvalid")
      assert.deepStrictEqual(yield* experiments.list(), [])
      yield* experiments.start({ moduleId: "qa", baseline: "1", arms: ["2"] })
      const second = yield* Effect.flip(experiments.start({ moduleId: "qa", baseline: "1", arms: ["3"] }))
      assert.include(second.message, "conclude it first")
      const arm = yield* Effect.flip(experiments.observe("qa-1", "9", { latencyMs: 1, error: false, costUsd: 0 }))
      assert.strictEqual(arm._tag, "ExperimentInvalid")
      const reward = yield* Effect.flip(
        experiments.observe("qa-1", "2", { latencyMs: 1, error: false, costUsd: 0, reward: 7 })
      )
      assert.strictEqual(reward._tag === "ExperimentInvalid" ? reward.field : "", "observation.reward")
      const latency = yield* Effect.flip(
        experiments.observe("qa-1", "2", { latencyMs: Number.NaN, error: false, costUsd: 0 })
      )
      assert.strictEqual(latency._tag === "ExperimentInvalid" ? latency.field : "", "observation.latencyMs")
      assert.strictEqual((yield* experiments.get("qa-1")).stats["2"]!.n, 0)
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect("a canary with an injected regression rolls back by itself, with an event saying why", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const experiments = yield* Experiments.Experiments
        const applied: Array<Experiments.Action> = []
        yield* experiments.registerApplier("qa", (action) => Effect.sync(() => void applied.push(action)))
        const policy: TrafficPolicy.Policy = {
          _tag: "Canary",
          stable: "1",
          candidate: "2",
          fraction: 0.2,
          guardRails: { maxErrorRate: 0.05, maxLatencyP95Ms: 250, minSamples: 40 }
        }
        const started = yield* experiments.start({
          moduleId: "qa",
          baseline: "1",
          arms: ["2"],
          policy,
          settings: { autoApply: true, guardRails: policy.guardRails, checkEvery: 50 }
        })
        yield* feed(started.id, TrafficPolicy.make(policy, { seed: 3 }), 1000, {
          "1": { quality: 0.7, error: 0.01, latency: 100 },
          "2": { quality: 0.7, error: 0.01, latency: 400 } // the injected regression: 4x slower
        }).pipe(Effect.catchTag("ExperimentStatusConflict", () => Effect.void))
        const record = yield* experiments.get(started.id)
        assert.strictEqual(record.status, "rolled_back")
        assert.strictEqual(record.outcome?.automatic, true)
        assert.strictEqual(record.outcome?.breach?.rail, "latency_p95")
        assert.strictEqual(applied.length, 1)
        assert.strictEqual(applied[0]?._tag, "RollBack")
        assert.strictEqual(applied[0]?._tag === "RollBack" ? applied[0].baseline : "", "1")
        const [event] = yield* Events.queryOf(ServicesEvents.ExperimentRolledBack)
        assert.strictEqual(event?.data.rail, "latency_p95")
        assert.include(event?.data.reason ?? "", "latency p95")
        assert.isTrue(event?.data.automatic)
      })
    ).pipe(Effect.provide(TestLayer))
  )

  it.effect("auto-apply promotes a better arm through the applier; without one it stays concluded", () =>
    Effect.gen(function* () {
      const experiments = yield* Experiments.Experiments
      const world = {
        "1": { quality: 0.55, error: 0, latency: 100 },
        "2": { quality: 0.8, error: 0, latency: 100 }
      }
      const applied: Array<Experiments.Action> = []
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* experiments.registerApplier("qa", (action) => Effect.sync(() => void applied.push(action)))
          const a = yield* experiments.start({
            moduleId: "qa",
            baseline: "1",
            arms: ["2"],
            settings: { autoApply: true }
          })
          yield* feed(a.id, TrafficPolicy.make(weighted("1", "2"), { seed: 2 }), 3000, world).pipe(
            Effect.catchTag("ExperimentStatusConflict", () => Effect.void)
          )
          const record = yield* experiments.get(a.id)
          assert.strictEqual(record.status, "promoted")
          assert.strictEqual(record.outcome?.arm, "2")
          assert.deepStrictEqual(
            applied.map((x) => [x._tag, x.arm]),
            [["Promote", "2"]]
          )
        })
      )
      // the applier was unregistered with its scope: the next experiment concludes and waits
      const b = yield* experiments.start({ moduleId: "qa", baseline: "2", arms: ["1"], settings: { autoApply: true } })
      yield* feed(b.id, TrafficPolicy.make(weighted("2", "1"), { seed: 4 }), 3000, world).pipe(
        Effect.catchTag("ExperimentStatusConflict", () => Effect.void)
      )
      const record = yield* experiments.get(b.id)
      assert.strictEqual(record.status, "concluded")
      const failures = yield* Events.queryOf(ServicesEvents.ExperimentApplyFailed)
      assert.strictEqual(failures.length, 1)
      assert.include(failures[0]?.data.error ?? "", "no applier")
      assert.strictEqual(failures[0]?.data.action, "roll_back")
      const recommended = yield* Events.queryOf(ServicesEvents.ExperimentRecommended)
      assert.deepStrictEqual(
        recommended.map((e) => e.data.recommendation),
        ["promote", "roll_back"]
      )
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect("an applier that fails leaves the experiment concluded, with the error in an event", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const experiments = yield* Experiments.Experiments
        yield* experiments.registerApplier("qa", () => Effect.fail(new Error("version conflict: expected 3, found 4")))
        const a = yield* experiments.start({
          moduleId: "qa",
          baseline: "1",
          arms: ["2"],
          settings: { autoApply: true, guardRails: { maxLatencyP95Ms: 150, minSamples: 30 }, checkEvery: 50 }
        })
        yield* feed(a.id, TrafficPolicy.make(weighted("1", "2"), { seed: 5 }), 400, {
          "1": { quality: 0.7, error: 0, latency: 100 },
          "2": { quality: 0.7, error: 0, latency: 300 }
        }).pipe(Effect.catchTag("ExperimentStatusConflict", () => Effect.void))
        assert.strictEqual((yield* experiments.get(a.id)).status, "concluded")
        const [failure] = yield* Events.queryOf(ServicesEvents.ExperimentApplyFailed)
        assert.include(failure?.data.error ?? "", "version conflict")
        // a person decides
        const done = yield* experiments.rollBack(a.id, { arm: "2", reason: "slow" })
        assert.strictEqual(done.status, "rolled_back")
      })
    ).pipe(Effect.provide(TestLayer))
  )

  it.effect("sync takes a router's statistics", () =>
    Effect.gen(function* () {
      const experiments = yield* Experiments.Experiments
      const a = yield* experiments.start({ moduleId: "qa", baseline: "1", arms: ["2"] })
      const router = TrafficPolicy.make(weighted("1", "2"), { seed: 6 })
      for (let i = 0; i < 500; i++) {
        const d = router.route()
        router.observe(d.arm, { latencyMs: 10, error: false, costUsd: 0, reward: d.arm === "2" ? 1 : i % 2 })
      }
      const analysis = yield* experiments.sync(a.id, router.state().arms)
      assert.strictEqual(
        analysis.arms.reduce((n, arm) => n + arm.requests, 0),
        500
      )
      assert.strictEqual(analysis.recommendation._tag, "Promote")
    }).pipe(Effect.provide(TestLayer))
  )
})
