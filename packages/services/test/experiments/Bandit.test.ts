import { Random } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import { Bandit, TrafficPolicy } from "../../src/index.js"

// Two Bernoulli arms, 0.6 and 0.75: the bandit should put >= 90% of its last 1,000 pulls on the better arm in at
// least 9 of 10 seeds.
const HORIZON = 5000
const LAST = 1000
const means: Record<string, number> = { worse: 0.6, better: 0.75 }

const lastShare = (algorithm: Bandit.Algorithm, seed: number): number => {
  const bandit = Bandit.make({ arms: ["worse", "better"], algorithm, seed })
  const world = Random.make(seed, "bandit-test", "world")
  let better = 0
  for (let t = 0; t < HORIZON; t++) {
    const arm = bandit.pull()
    bandit.reward(arm, world.chance(means[arm]!) ? 1 : 0)
    if (t >= HORIZON - LAST && arm === "better") better++
  }
  return better / LAST
}

const algorithms: ReadonlyArray<Bandit.Algorithm> = [
  { _tag: "EpsilonGreedy", epsilon: 1, decay: 0.998, floor: 0.02 },
  { _tag: "Thompson" }
]

describe("Bandit", () => {
  for (const algorithm of algorithms) {
    it(`${algorithm._tag} puts >= 90% of its last 1,000 pulls on the better arm in >= 9 of 10 seeds`, () => {
      const shares = Array.from({ length: 10 }, (_, seed) => lastShare(algorithm, seed))
      const converged = shares.filter((s) => s >= 0.9).length
      assert.isAtLeast(converged, 9, `shares: ${shares.map((s) => s.toFixed(3)).join(", ")}`)
    })
  }

  it("epsilon decays to its floor", () => {
    const a = { _tag: "EpsilonGreedy" as const, epsilon: 0.5, decay: 0.9, floor: 0.05 }
    assert.strictEqual(Bandit.epsilonAt(a, 0), 0.5)
    assert.closeTo(Bandit.epsilonAt(a, 1), 0.45, 1e-12)
    assert.strictEqual(Bandit.epsilonAt(a, 1000), 0.05)
  })

  it("Beta draws have the right mean", () => {
    const rng = Random.make(1, "beta")
    let sum = 0
    for (let i = 0; i < 20_000; i++) sum += Bandit.sampleBeta(rng, 3, 7)
    assert.closeTo(sum / 20_000, 0.3, 0.01)
    let small = 0
    for (let i = 0; i < 20_000; i++) small += Bandit.sampleBeta(rng, 0.5, 0.5)
    assert.closeTo(small / 20_000, 0.5, 0.01)
  })

  it("the router's Bandit policy converges to the better version", () => {
    for (const algorithm of algorithms) {
      const router = TrafficPolicy.make({ _tag: "Bandit", versions: ["a", "b"], algorithm }, { seed: 21 })
      const world = Random.make(21, "router-world")
      let b = 0
      for (let t = 0; t < HORIZON; t++) {
        const d = router.route()
        assert.strictEqual(d.reason, "bandit")
        router.observe(d.arm, {
          latencyMs: 5,
          error: false,
          costUsd: 0,
          reward: world.chance(d.serve === "b" ? 0.75 : 0.6) ? 1 : 0
        })
        if (t >= HORIZON - LAST && d.serve === "b") b++
      }
      assert.isAtLeast(b / LAST, 0.9, algorithm._tag)
    }
  })
})
