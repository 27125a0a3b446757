import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { ServicesError, TrafficPolicy } from "../../src/index.js"

const versions = ["1", "2", "3"]

const decodeError = (input: unknown) =>
  TrafficPolicy.decode(input, versions).pipe(
    Effect.flip,
    Effect.map((e) => {
      assert.isTrue(ServicesError.isServicesError(e))
      assert.strictEqual(e._tag, "PolicyInvalid")
      return e
    })
  )

describe("TrafficPolicy.decode", () => {
  it.effect("accepts each policy kind", () =>
    Effect.gen(function* () {
      const policies: ReadonlyArray<unknown> = [
        { _tag: "Pinned", version: "1" },
        {
          _tag: "Weighted",
          weights: [
            { version: "1", weight: 0.3 },
            { version: "2", weight: 0.7 }
          ]
        },
        { _tag: "Canary", stable: "1", candidate: "2", fraction: 0.05, guardRails: { minSamples: 50 } },
        { _tag: "Shadow", serving: "1", candidate: "3", sample: 0.1, maxExtraCallsPerMinute: 60 },
        { _tag: "Bandit", versions: ["1", "2"], algorithm: { _tag: "Thompson" } }
      ]
      for (const input of policies) {
        const policy = yield* TrafficPolicy.decode(input, versions)
        assert.deepStrictEqual(policy, input)
      }
    })
  )

  it.effect("rejects weights that do not sum to 1, naming the field", () =>
    Effect.gen(function* () {
      const e = yield* decodeError({
        _tag: "Weighted",
        weights: [
          { version: "1", weight: 0.5 },
          { version: "2", weight: 0.4 }
        ]
      })
      assert.strictEqual(e.field, "weights")
      assert.include(e.reason, "sum to 1")
      // within 1e-9 is accepted
      const ok = yield* TrafficPolicy.decode(
        {
          _tag: "Weighted",
          weights: [
            { version: "1", weight: 0.1 + 0.2 },
            { version: "2", weight: 0.7 }
          ]
        },
        versions
      ).pipe(Effect.either)
      assert.isTrue(Either.isRight(ok))
    })
  )

  it.effect("rejects an unknown version, a fraction out of range, a repeated version, bad bandit settings", () =>
    Effect.gen(function* () {
      const unknown = yield* decodeError({ _tag: "Pinned", version: "9" })
      assert.strictEqual(unknown.field, "version")
      assert.include(unknown.reason, "unknown version")
      const fraction = yield* decodeError({
        _tag: "Canary",
        stable: "1",
        candidate: "2",
        fraction: 1.5,
        guardRails: { minSamples: 10 }
      })
      assert.strictEqual(fraction.field, "fraction")
      const repeated = yield* decodeError({
        _tag: "Weighted",
        weights: [
          { version: "1", weight: 0.5 },
          { version: "1", weight: 0.5 }
        ]
      })
      assert.strictEqual(repeated.field, "weights[1].version")
      const floor = yield* decodeError({
        _tag: "Bandit",
        versions: ["1", "2"],
        algorithm: { _tag: "EpsilonGreedy", epsilon: 0.1, decay: 0.99, floor: 0.5 }
      })
      assert.strictEqual(floor.field, "algorithm.floor")
      const sample = yield* decodeError({ _tag: "Shadow", serving: "1", candidate: "2", sample: -0.1 })
      assert.strictEqual(sample.field, "sample")
    })
  )

  it.effect("names the path of a malformed shape", () =>
    Effect.gen(function* () {
      const e = yield* decodeError({ _tag: "Weighted", weights: [{ version: "1", weight: "half" }] })
      assert.include(e.field, "weight")
      const tag = yield* decodeError({ _tag: "Random" })
      assert.include(tag.field, "_tag")
    })
  )
})

describe("TrafficPolicy.make", () => {
  it("a pinned policy always serves its version", () => {
    const router = TrafficPolicy.make({ _tag: "Pinned", version: "2" })
    for (let i = 0; i < 100; i++) assert.deepStrictEqual(router.route(), { serve: "2", arm: "2", reason: "pinned" })
    assert.strictEqual(router.stats("2")?.pulls, 100)
  })

  it("a weighted split serves within a binomial bound of its weights over 10,000 calls", () => {
    const weights = [
      { version: "1", weight: 0.7 },
      { version: "2", weight: 0.2 },
      { version: "3", weight: 0.1 }
    ]
    const router = TrafficPolicy.make({ _tag: "Weighted", weights }, { seed: 11 })
    const n = 10_000
    const counts = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      const d = router.route()
      assert.strictEqual(d.reason, "weighted")
      counts.set(d.serve, (counts.get(d.serve) ?? 0) + 1)
    }
    for (const { version, weight } of weights) {
      const bound = 4 * Math.sqrt(n * weight * (1 - weight)) // 4 standard deviations
      assert.isAtMost(Math.abs((counts.get(version) ?? 0) - n * weight), bound, `version ${version}`)
    }
  })

  it("sticky keys stay sticky and still split by weight", () => {
    const policy: TrafficPolicy.Policy = {
      _tag: "Weighted",
      weights: [
        { version: "1", weight: 0.5 },
        { version: "2", weight: 0.5 }
      ],
      stickyBy: "callerKey"
    }
    const router = TrafficPolicy.make(policy, { seed: 3 })
    const first = new Map<string, string>()
    for (let k = 0; k < 2000; k++) first.set(`user-${k}`, router.route(`user-${k}`).serve)
    for (let round = 0; round < 3; round++)
      for (let k = 0; k < 2000; k++) assert.strictEqual(router.route(`user-${k}`).serve, first.get(`user-${k}`))
    const ones = [...first.values()].filter((v) => v === "1").length
    assert.isAtMost(Math.abs(ones - 1000), 4 * Math.sqrt(2000 * 0.25))
    // a resumed router keeps the keys where they were
    const resumed = Effect.runSync(TrafficPolicy.restore(router.state()))
    for (let k = 0; k < 200; k++) assert.strictEqual(resumed.route(`user-${k}`).serve, first.get(`user-${k}`))
  })

  it("a shadow never serves the candidate, shadows about its sample, and respects its per-minute cap", () => {
    let now = 0
    const router = TrafficPolicy.make(
      { _tag: "Shadow", serving: "1", candidate: "2", sample: 0.1 },
      { seed: 5, now: () => now }
    )
    let shadowed = 0
    for (let i = 0; i < 10_000; i++) {
      const d = router.route()
      assert.strictEqual(d.serve, "1")
      assert.strictEqual(d.arm, "1")
      if (d.shadow !== undefined) {
        assert.strictEqual(d.shadow, "2")
        shadowed++
      }
    }
    assert.isAtMost(Math.abs(shadowed - 1000), 4 * Math.sqrt(10_000 * 0.09))
    assert.strictEqual(router.stats("2")?.pulls, shadowed)

    const capped = TrafficPolicy.make(
      { _tag: "Shadow", serving: "1", candidate: "2", sample: 1, maxExtraCallsPerMinute: 30 },
      { seed: 5, now: () => now }
    )
    const countShadows = (calls: number) => {
      let s = 0
      for (let i = 0; i < calls; i++) if (capped.route().shadow !== undefined) s++
      return s
    }
    assert.strictEqual(countShadows(100), 30)
    now += 59_000
    assert.strictEqual(countShadows(100), 0)
    now += 1_000
    assert.strictEqual(countShadows(100), 30)
  })

  it("a canary with an injected regression stops serving its candidate and says why", () => {
    const router = TrafficPolicy.make(
      {
        _tag: "Canary",
        stable: "1",
        candidate: "2",
        fraction: 0.2,
        guardRails: { maxErrorRate: 0.05, minSamples: 50 }
      },
      { seed: 9 }
    )
    let candidateServed = 0
    for (let i = 0; i < 2000; i++) {
      const d = router.route()
      assert.strictEqual(d.reason, "canary")
      // the candidate fails 30% of the time
      const error = d.serve === "2" && i % 10 < 3
      if (d.serve === "2") candidateServed++
      router.observe(d.arm, { latencyMs: 50, error, costUsd: 0.001 })
    }
    const breach = router.breach()
    assert.isDefined(breach)
    assert.strictEqual(breach?.rail, "error_rate")
    assert.isAtLeast(breach?.samples ?? 0, 50)
    assert.include(breach?.reason ?? "", "error rate")
    // it stopped serving the candidate shortly after minSamples outcomes
    assert.isBelow(candidateServed, 100)
    for (let i = 0; i < 500; i++) assert.strictEqual(router.route().serve, "1")
  })

  it("a healthy canary keeps its fraction and raises no breach", () => {
    const router = TrafficPolicy.make(
      {
        _tag: "Canary",
        stable: "1",
        candidate: "2",
        fraction: 0.1,
        guardRails: { maxErrorRate: 0.05, maxLatencyP95Ms: 200, minQuality: 0.5, minSamples: 50 }
      },
      { seed: 2 }
    )
    let candidate = 0
    for (let i = 0; i < 5000; i++) {
      const d = router.route()
      if (d.serve === "2") candidate++
      router.observe(d.arm, { latencyMs: 40 + (i % 50), error: false, costUsd: 0.001, reward: 0.8 })
    }
    assert.isUndefined(router.breach())
    assert.isAtMost(Math.abs(candidate - 500), 4 * Math.sqrt(5000 * 0.09))
  })

  it("a canary breaches on latency p95", () => {
    const router = TrafficPolicy.make(
      {
        _tag: "Canary",
        stable: "1",
        candidate: "2",
        fraction: 1,
        guardRails: { maxLatencyP95Ms: 200, minSamples: 20 }
      },
      { seed: 2 }
    )
    for (let i = 0; i < 40; i++)
      router.observe(router.route().arm, { latencyMs: i % 4 === 0 ? 900 : 100, error: false, costUsd: 0 })
    assert.strictEqual(router.breach()?.rail, "latency_p95")
  })

  it("state is JSON with a schema version and resumes statistics and breach", () => {
    const router = TrafficPolicy.make(
      { _tag: "Bandit", versions: ["1", "2"], algorithm: { _tag: "Thompson" } },
      { seed: 4 }
    )
    for (let i = 0; i < 300; i++) {
      const d = router.route()
      router.observe(d.arm, { latencyMs: 10, error: false, costUsd: 0.01, reward: d.serve === "2" ? 1 : 0 })
    }
    const json = JSON.parse(JSON.stringify(router.state()))
    assert.strictEqual(json.schemaVersion, TrafficPolicy.STATE_VERSION)
    const resumed = Effect.runSync(TrafficPolicy.restore(json, { knownVersions: ["1", "2"] }))
    assert.deepStrictEqual(resumed.stats("2"), router.stats("2"))
    assert.strictEqual(resumed.state().generation, 1)
    assert.strictEqual(resumed.state().pulls, 300)
    // a resumed state naming a version the module lost is refused
    const lost = Effect.runSync(TrafficPolicy.restore(json, { knownVersions: ["1"] }).pipe(Effect.flip))
    assert.strictEqual(lost.field, "versions[1]")
    const bad = Effect.runSync(TrafficPolicy.restore({ ...json, schemaVersion: 99 }).pipe(Effect.flip))
    assert.include(bad.field, "schemaVersion")
  })

  it("a new policy can start from the statistics of the router it replaces", () => {
    const first = TrafficPolicy.make({ _tag: "Pinned", version: "1" })
    for (let i = 0; i < 10; i++) first.observe(first.route().arm, { latencyMs: 5, error: false, costUsd: 0, reward: 1 })
    const next = TrafficPolicy.make(
      { _tag: "Bandit", versions: ["1", "2"], algorithm: { _tag: "Thompson" } },
      { seed: 1, stats: first.state().arms }
    )
    assert.strictEqual(next.stats("1")?.rewardN, 10)
    assert.strictEqual(next.stats("2")?.n, 0)
    // a copy: the old router's later outcomes do not leak in
    first.observe("1", { latencyMs: 5, error: false, costUsd: 0, reward: 1 })
    assert.strictEqual(next.stats("1")?.rewardN, 10)
  })
})
