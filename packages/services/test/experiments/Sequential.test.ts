import { Random } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import { Sequential } from "../../src/index.js"

// A simulated experiment: requests split 50/50 between two arms, quality Bernoulli(quality[arm]), errors
// Bernoulli(errors[arm]), checked every 100 requests. Pure arithmetic, so hundreds of seeds run in well under a
// second.
interface Arm {
  n: number
  sum: number
  errors: number
}

const sample = (arm: Arm): Sequential.Sample => ({
  n: arm.n,
  mean: arm.sum / arm.n,
  variance: arm.n < 2 ? 0 : (arm.sum - (arm.sum * arm.sum) / arm.n) / (arm.n - 1)
})

const run = (
  seed: number,
  quality: readonly [number, number],
  errors: readonly [number, number],
  horizon: number
): { quality: Sequential.Result; errors: Sequential.Result; detectedAt?: number } => {
  const rng = Random.make(seed, "sequential-test")
  const arms: [Arm, Arm] = [
    { n: 0, sum: 0, errors: 0 },
    { n: 0, sum: 0, errors: 0 }
  ]
  let q = Sequential.initial
  let e = Sequential.initial
  let detectedAt: number | undefined
  for (let t = 1; t <= horizon; t++) {
    const i = rng.int(2)
    const arm = arms[i]!
    arm.n++
    if (rng.chance(quality[i]!)) arm.sum++
    if (rng.chance(errors[i]!)) arm.errors++
    if (t % 100 === 0) {
      q = Sequential.meanDifference(sample(arms[0]), sample(arms[1]), Sequential.defaults, q)
      e = Sequential.proportionDifference(
        { n: arms[0].n, successes: arms[0].errors },
        { n: arms[1].n, successes: arms[1].errors },
        { alpha: 0.05, tau2: 0.0025 },
        e
      )
      if (detectedAt === undefined && (q.significant || e.significant)) detectedAt = t
    }
  }
  return { quality: q, errors: e, ...(detectedAt === undefined ? {} : { detectedAt }) }
}

describe("Sequential (mSPRT)", () => {
  it("A/A experiments checked every 100 requests raise false alarms at <= alpha + 0.01 over 500 seeds", () => {
    const seeds = 500
    let quality = 0
    let errors = 0
    for (let seed = 0; seed < seeds; seed++) {
      const r = run(seed, [0.7, 0.7], [0.05, 0.05], 5000)
      if (r.quality.significant) quality++
      if (r.errors.significant) errors++
    }
    assert.isAtMost(quality / seeds, 0.05 + 0.01, `quality false alarms ${quality}/${seeds}`)
    assert.isAtMost(errors / seeds, 0.05 + 0.01, `error-rate false alarms ${errors}/${seeds}`)
  })

  it("a real difference is detected (quality 0.6 vs 0.75; error rate 2% vs 10%)", () => {
    let quality = 0
    let errors = 0
    for (let seed = 0; seed < 40; seed++) {
      const q = run(seed, [0.6, 0.75], [0.05, 0.05], 3000).quality
      if (q.significant && q.estimate > 0 && (q.lower ?? 0) > 0) quality++
      const e = run(seed, [0.7, 0.7], [0.02, 0.1], 3000).errors
      if (e.significant && e.estimate > 0) errors++
    }
    assert.isAtLeast(quality, 38)
    assert.isAtLeast(errors, 38)
  })

  it("the confidence sequence covers the true difference and narrows", () => {
    let covered = 0
    for (let seed = 0; seed < 200; seed++) {
      const q = run(seed, [0.6, 0.7], [0, 0], 4000).quality
      if ((q.lower ?? Number.NEGATIVE_INFINITY) <= 0.1 && 0.1 <= (q.upper ?? Number.POSITIVE_INFINITY)) covered++
    }
    assert.isAtLeast(covered / 200, 0.94)
    const early = run(1, [0.6, 0.7], [0, 0], 500).quality
    const late = run(1, [0.6, 0.7], [0, 0], 5000).quality
    assert.isBelow(late.upper! - late.lower!, early.upper! - early.lower!)
  })

  it("the p-value is a running minimum: once significant, it stays so", () => {
    let r = Sequential.meanDifference({ n: 500, mean: 0.5, variance: 0.25 }, { n: 500, mean: 0.7, variance: 0.21 })
    assert.isTrue(r.significant)
    const p = r.pValue
    r = Sequential.meanDifference(
      { n: 600, mean: 0.6, variance: 0.24 },
      { n: 600, mean: 0.6, variance: 0.24 },
      Sequential.defaults,
      r
    )
    assert.strictEqual(r.pValue, p)
    assert.isTrue(r.significant)
    assert.strictEqual(r.checks, 2)
  })

  it("the likelihood ratio matches the closed form and is 1/alpha at the interval's edge", () => {
    const v = 0.001
    const w = Sequential.halfWidth(v, { alpha: 0.05, tau2: 0.01 })
    assert.closeTo(Sequential.likelihoodRatio(0.3 + w, v, 0.01, 0.3), 20, 1e-9)
    assert.closeTo(Sequential.likelihoodRatio(0, v, 0.01), Math.sqrt(v / (v + 0.01)), 1e-15)
  })

  it("waits for two samples per arm", () => {
    const r = Sequential.meanDifference({ n: 1, mean: 0, variance: 0 }, { n: 1, mean: 1, variance: 0 })
    assert.strictEqual(r.pValue, 1)
    assert.isFalse(r.significant)
    assert.isUndefined(r.lower)
    assert.isUndefined(Sequential.meanInterval({ n: 1, mean: 1, variance: 0 }))
  })
})
