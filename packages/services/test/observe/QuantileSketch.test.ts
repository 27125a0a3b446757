/**
 * The quantile sketch: every quantile within the relative accuracy of the true value of its rank, on several
 * distributions; a merge answers like one sketch fed both streams; the stored form round-trips; bad input fails.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { QuantileSketch } from "../../src/index.js"

/** The exact quantile of sorted values at the same rank the sketch uses (lower rank). */
const exact = (sorted: ReadonlyArray<number>, q: number): number => sorted[Math.floor(q * (sorted.length - 1))]!

const withinBound = (sketch: QuantileSketch.QuantileSketch, values: ReadonlyArray<number>, q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  const truth = exact(sorted, q)
  const got = sketch.quantile(q)
  // DDSketch's guarantee: |got - truth| <= alpha |truth| (a little slack for floating point).
  return Math.abs(got - truth) <= sketch.alpha * Math.abs(truth) * (1 + 1e-9) + 1e-12
}

describe("QuantileSketch", () => {
  it("answers p50/p95/p99 within its relative accuracy on skewed data", () => {
    // A log-normal-ish latency distribution with a heavy tail.
    const values: Array<number> = []
    let state = 42
    for (let i = 0; i < 20_000; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31
      const u = (state + 1) / 2 ** 31
      values.push(Math.exp(3 + 1.5 * Math.sqrt(-2 * Math.log(u)) * Math.cos(i)))
    }
    const sketch = QuantileSketch.make(0.01)
    for (const v of values) sketch.add(v)
    for (const q of [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999]) assert.isTrue(withinBound(sketch, values, q), `q=${q}`)
    assert.strictEqual(sketch.count, values.length)
  })

  it("every quantile is within alpha of the exact one (property, with negatives and zeros)", () => {
    const values = fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(0)), {
      minLength: 1,
      maxLength: 300
    })
    fc.assert(
      fc.property(values, fc.double({ min: 0, max: 1, noNaN: true }), (values, q) => {
        const sketch = QuantileSketch.make(0.02)
        for (const v of values) sketch.add(v)
        const sorted = [...values].sort((a, b) => a - b)
        const truth = exact(sorted, q)
        const got = sketch.quantile(q)
        return Math.abs(got - truth) <= 0.02 * Math.abs(truth) * (1 + 1e-9) + 1e-8
      })
    )
  })

  it("merging two sketches answers exactly as one sketch fed both streams (property)", () => {
    const stream = fc.array(fc.double({ min: 0.001, max: 1e5, noNaN: true }), { maxLength: 200 })
    fc.assert(
      fc.property(stream, stream, (a, b) => {
        const left = QuantileSketch.make()
        const right = QuantileSketch.make()
        const both = QuantileSketch.make()
        for (const v of a) {
          left.add(v)
          both.add(v)
        }
        for (const v of b) {
          right.add(v)
          both.add(v)
        }
        left.merge(right)
        return (
          left.count === both.count &&
          [0, 0.1, 0.5, 0.95, 0.99, 1].every((q) => Object.is(left.quantile(q), both.quantile(q)))
        )
      })
    )
  })

  it("round-trips through its stored form and refuses what is not one", () => {
    const sketch = QuantileSketch.make()
    for (let i = 1; i <= 1000; i++) sketch.add(i / 10)
    sketch.add(0)
    sketch.add(-5)
    const back = QuantileSketch.decode(JSON.parse(JSON.stringify(sketch.encode())))
    assert.isDefined(back)
    for (const q of [0, 0.3, 0.5, 0.95, 1]) assert.strictEqual(back!.quantile(q), sketch.quantile(q))
    assert.strictEqual(back!.count, sketch.count)
    assert.isUndefined(QuantileSketch.decode({ a: 2, z: 0, p: [], n: [] }))
    assert.isUndefined(QuantileSketch.decode({ a: 0.01, z: 0, p: [1], n: [] }))
    assert.isUndefined(QuantileSketch.decode("nope"))
    assert.throws(() => QuantileSketch.make(0), /relative accuracy/)
    assert.throws(() => QuantileSketch.make(0.01).merge(QuantileSketch.make(0.02)), /different accuracies/)
  })

  it("keeps its bin bound by collapsing the lowest bins; the tail stays accurate", () => {
    const sketch = QuantileSketch.make(0.01, 64)
    const values: Array<number> = []
    for (let i = 0; i < 5000; i++) values.push(1.01 ** i)
    for (const v of values) sketch.add(v)
    assert.isAtMost(sketch.encode().p.length / 2, 64)
    assert.isTrue(withinBound(sketch, values, 0.99))
    assert.isTrue(withinBound(sketch, values, 0.999))
  })

  it("is empty until fed", () => {
    assert.isNaN(QuantileSketch.make().quantile(0.5))
  })
})
