import { Random } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import * as TPE from "../../src/instruction-search/TPE.js"

const space: TPE.Space = { a: 6, b: 6, c: 6 }
const optimum = { a: 4, b: 1, c: 5 }

/** A synthetic objective: each parameter contributes by its distance to the optimum, plus an interaction. */
const objective = (p: TPE.Params): number =>
  -Math.abs(p.a! - optimum.a) -
  Math.abs(p.b! - optimum.b) -
  Math.abs(p.c! - optimum.c) +
  (p.a === optimum.a && p.c === optimum.c ? 2 : 0)
const best = objective(optimum)

/** Trials until the optimum is first tried (budget + 1 when never). */
const trialsToOptimum = (next: (trials: ReadonlyArray<TPE.Trial>) => TPE.Params, budget: number): number => {
  const trials: Array<TPE.Trial> = []
  for (let i = 1; i <= budget; i++) {
    const params = next(trials)
    const value = objective(params)
    if (value === best) return i
    trials.push({ params, value })
  }
  return budget + 1
}

describe("TPE", () => {
  it("finds the best categorical combination faster than uniform random search, on average over seeds", () => {
    const budget = 80
    let tpe = 0
    let random = 0
    const seeds = 20
    for (let seed = 0; seed < seeds; seed++) {
      const r1 = Random.make(seed, "test-tpe")
      tpe += trialsToOptimum((trials) => TPE.suggest(space, trials, r1), budget)
      const r2 = Random.make(seed, "test-random")
      random += trialsToOptimum(() => ({ a: r2.between(0, 5), b: r2.between(0, 5), c: r2.between(0, 5) }), budget)
    }
    // 216 combinations: random search needs ~216 trials on average, so within 80 it mostly fails.
    assert.isBelow(tpe / seeds, (random / seeds) * 0.6, `tpe ${tpe / seeds} vs random ${random / seeds}`)
  })

  it("is deterministic for a seed and differs across seeds", () => {
    const run = (seed: number) => {
      const sampler = Either.getOrThrow(TPE.make(space, { seed, nStartupTrials: 3 }))
      const out: Array<TPE.Params> = []
      for (let i = 0; i < 15; i++) {
        const p = sampler.ask()
        out.push(p)
        Either.getOrThrow(sampler.tell(p, objective(p)))
      }
      return out
    }
    assert.deepStrictEqual(run(9), run(9))
    assert.notDeepEqual(run(9), run(10))
  })

  it("samples uniformly during startup, then concentrates on the good trials' choices", () => {
    // A told trial history where a=2 is always good: after startup, suggestions favour a=2.
    const trials: Array<TPE.Trial> = []
    const r = Random.make(1, "history")
    for (let i = 0; i < 40; i++) {
      const params = { a: r.between(0, 5), b: r.between(0, 5), c: r.between(0, 5) }
      trials.push({ params, value: params.a === 2 ? 10 + r.next() : r.next() })
    }
    const draws = Random.make(2, "draws")
    let hits = 0
    for (let i = 0; i < 50; i++) if (TPE.suggest(space, trials, draws).a === 2) hits++
    assert.isAbove(hits, 35)
    // With fewer trials than nStartupTrials the draws ignore the history (about 1 in 6 hit a=2).
    let startupHits = 0
    for (let i = 0; i < 300; i++) if (TPE.suggest(space, trials, draws, { nStartupTrials: 100 }).a === 2) startupHits++
    assert.isBelow(startupHits, 90)
  })

  it("splits by the gamma quantile and weights kernels like Optuna", () => {
    const trials: Array<TPE.Trial> = [0.1, 0.9, 0.5, 0.9, 0.3].map((value, i) => ({ params: { a: i }, value }))
    const { good, bad } = TPE.split(trials, () => 2)
    assert.deepStrictEqual(
      good.map((t) => t.params.a),
      [1, 3]
    )
    assert.deepStrictEqual(
      bad.map((t) => t.params.a),
      [0, 2, 4]
    )
    assert.strictEqual(TPE.defaultGamma(10), 1)
    assert.strictEqual(TPE.defaultGamma(11), 2)
    assert.strictEqual(TPE.defaultGamma(1000), 25)
    assert.deepStrictEqual(TPE.defaultWeights(3), [1, 1, 1])
    const w = TPE.defaultWeights(30)
    assert.strictEqual(w.length, 30)
    assert.closeTo(w[0]!, 1 / 30, 1e-12)
    assert.strictEqual(w[29], 1)
    assert.isTrue(w.slice(0, 5).every((x, i) => i === 0 || x > w[i - 1]!))
  })

  it("rejects an empty space, a parameter without choices and out-of-range trials with a typed error", () => {
    assert.isTrue(Either.isLeft(TPE.make({})))
    const bad = TPE.make({ a: 0 })
    assert.isTrue(Either.isLeft(bad) && bad.left._tag === "TPEError" && bad.left.message.includes('"a"'))
    const sampler = Either.getOrThrow(TPE.make({ a: 3 }))
    assert.isTrue(Either.isLeft(sampler.tell({ a: 3 }, 1)))
    assert.isTrue(Either.isLeft(sampler.tell({ a: 1 }, Number.NaN)))
    assert.isTrue(Either.isRight(sampler.tell({ a: 1 }, 1)))
    assert.deepStrictEqual(sampler.best()?.params, { a: 1 })
  })

  it("suggests in-range parameters for any space and history, the same for the same draws (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.tuple(fc.array(fc.nat(), { minLength: 4, maxLength: 4 }), fc.double({ min: -10, max: 10, noNaN: true })),
          {
            maxLength: 30
          }
        ),
        fc.integer(),
        (sizes, history, seed) => {
          const space: TPE.Space = Object.fromEntries(sizes.map((k, i) => [`p${i}`, k]))
          const trials: Array<TPE.Trial> = history.map(([xs, value]) => ({
            params: Object.fromEntries(sizes.map((k, i) => [`p${i}`, xs[i]! % k])),
            value
          }))
          const a = TPE.suggest(space, trials, Random.make(seed), { nStartupTrials: 3 })
          const b = TPE.suggest(space, trials, Random.make(seed), { nStartupTrials: 3 })
          assert.deepStrictEqual(a, b)
          for (const [name, k] of Object.entries(space)) {
            const v = a[name]!
            assert.isTrue(Number.isInteger(v) && v >= 0 && v < k)
          }
        }
      ),
      { numRuns: 100 }
    )
  })

  it("asks for batches with the constant liar: no trials are kept, one is the same as ask, same for a seed", () => {
    const make = () => Either.getOrThrow(TPE.make(space, { seed: 4, nStartupTrials: 2 }))
    const a = make()
    const b = make()
    for (const s of [a, b]) {
      Either.getOrThrow(s.tell({ a: 1, b: 1, c: 1 }, 1))
      Either.getOrThrow(s.tell({ a: 4, b: 1, c: 5 }, 5))
      Either.getOrThrow(s.tell({ a: 0, b: 0, c: 0 }, 0))
    }
    assert.deepStrictEqual(a.askBatch(1), [b.ask()])
    const batch = a.askBatch(4)
    assert.strictEqual(batch.length, 4)
    assert.strictEqual(a.trials.length, 3)
    const c = make()
    Either.getOrThrow(c.tell({ a: 1, b: 1, c: 1 }, 1))
    Either.getOrThrow(c.tell({ a: 4, b: 1, c: 5 }, 5))
    Either.getOrThrow(c.tell({ a: 0, b: 0, c: 0 }, 0))
    c.ask()
    assert.deepStrictEqual(c.askBatch(4), batch)
  })
})
