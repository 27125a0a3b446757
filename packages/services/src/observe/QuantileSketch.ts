/**
 * A mergeable quantile sketch (DDSketch, Masson, Rim and Lee, VLDB 2019): every quantile it answers is within a
 * relative error `alpha` of a true value of the same rank, whatever the distribution, and two sketches of the same
 * `alpha` merge exactly (the merge answers as if one sketch had seen both streams). Latencies, costs and sizes are
 * folded into one per rollup; p50/p95/p99 are read from it.
 *
 * Values are binned on a logarithmic scale: bin `k` holds the values in `(gamma^(k-1), gamma^k]` with
 * `gamma = (1 + alpha) / (1 - alpha)` and answers `2 gamma^k / (gamma + 1)`, within `alpha` of both ends.
 * Negative values use a mirrored set of bins; values of magnitude below `minIndexable` count as zero. At most
 * `maxBins` bins are kept per sign: past that the lowest bins are collapsed into the next (the low quantiles lose
 * accuracy first, the tail never does).
 *
 * Written here rather than taken from `@datadog/sketches-js`: that library's only serialisation needs
 * `protobufjs`, which it does not declare, and its decoder drops min and max; rollups persist a sketch per row.
 *
 * @example
 * ```ts
 * import { QuantileSketch } from "@effect-dspy/services"
 *
 * const sketch = QuantileSketch.make()
 * for (let i = 1; i <= 1000; i++) sketch.add(i)
 * sketch.quantile(0.95) // within 1% of 950
 * ```
 *
 * @since 0.1.0
 */

/**
 * The default relative accuracy (1%).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultAlpha = 0.01

/**
 * The default bound on bins per sign.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBins = 2048

const minIndexable = 1e-9

/**
 * The stored form of a sketch (JSON): `a` alpha, `z` the zero count, `p` / `n` the positive and negative bins as
 * flat `[key, count, key, count, ...]` arrays.
 *
 * @since 0.1.0
 * @category models
 */
export interface Encoded {
  readonly a: number
  readonly z: number
  readonly p: ReadonlyArray<number>
  readonly n: ReadonlyArray<number>
}

/**
 * A DDSketch. Mutable: `add` and `merge` change it in place (it lives inside one rollup).
 *
 * @since 0.1.0
 * @category models
 */
export class QuantileSketch {
  /** The relative accuracy. */
  readonly alpha: number
  readonly maxBins: number
  private readonly gamma: number
  private readonly logGamma: number
  private readonly positive = new Map<number, number>()
  private readonly negative = new Map<number, number>()
  private zeros = 0
  private total = 0

  constructor(alpha: number = defaultAlpha, maxBins: number = defaultMaxBins) {
    if (!(alpha > 0 && alpha < 1)) {
      throw new RangeError(`A sketch's relative accuracy is in (0, 1) (0.01 is 1%), got ${alpha}`)
    }
    if (!Number.isInteger(maxBins) || maxBins < 16) {
      throw new RangeError(`A sketch keeps at least 16 bins per sign, got ${maxBins}`)
    }
    this.alpha = alpha
    this.maxBins = maxBins
    this.gamma = (1 + alpha) / (1 - alpha)
    this.logGamma = Math.log(this.gamma)
  }

  /** How many values it has seen. */
  get count(): number {
    return this.total
  }

  /** Folds a value in (`weight` times). Non-finite values are ignored: they have no rank. */
  add(value: number, weight = 1): void {
    if (!Number.isFinite(value) || !(weight > 0)) return
    this.total += weight
    if (value > minIndexable) this.bump(this.positive, this.key(value), weight)
    else if (value < -minIndexable) this.bump(this.negative, this.key(-value), weight)
    else this.zeros += weight
  }

  /** Folds another sketch of the same accuracy in. */
  merge(other: QuantileSketch): void {
    if (other.alpha !== this.alpha) {
      throw new RangeError(`Sketches of different accuracies do not merge (${this.alpha} and ${other.alpha})`)
    }
    for (const [k, c] of other.positive) this.bump(this.positive, k, c)
    for (const [k, c] of other.negative) this.bump(this.negative, k, c)
    this.zeros += other.zeros
    this.total += other.total
  }

  /** The value at quantile `q` (0 to 1), `NaN` when empty. */
  quantile(q: number): number {
    if (this.total === 0 || !(q >= 0 && q <= 1)) return Number.NaN
    const rank = q * (this.total - 1)
    let seen = 0
    if (this.negative.size > 0) {
      // The most negative values first: the highest keys of the mirrored bins.
      for (const k of [...this.negative.keys()].sort((a, b) => b - a)) {
        seen += this.negative.get(k)!
        if (seen > rank) return -this.value(k)
      }
    }
    seen += this.zeros
    if (seen > rank) return 0
    let last = 0
    for (const k of [...this.positive.keys()].sort((a, b) => a - b)) {
      seen += this.positive.get(k)!
      last = k
      if (seen > rank) return this.value(k)
    }
    return this.value(last)
  }

  /** A copy. */
  copy(): QuantileSketch {
    const out = new QuantileSketch(this.alpha, this.maxBins)
    out.merge(this)
    return out
  }

  /** The stored form. */
  encode(): Encoded {
    const flat = (bins: Map<number, number>) => {
      const out: Array<number> = []
      for (const [k, c] of bins) out.push(k, c)
      return out
    }
    return { a: this.alpha, z: this.zeros, p: flat(this.positive), n: flat(this.negative) }
  }

  private key(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) / this.logGamma)
  }

  private value(key: number): number {
    return (2 * this.gamma ** key) / (this.gamma + 1)
  }

  private bump(bins: Map<number, number>, key: number, weight: number): void {
    bins.set(key, (bins.get(key) ?? 0) + weight)
    if (bins.size > this.maxBins) collapseLowest(bins, this.maxBins)
  }
}

/** Collapses the lowest bins into the lowest kept one, leaving `maxBins` bins. */
const collapseLowest = (bins: Map<number, number>, maxBins: number): void => {
  const keys = [...bins.keys()].sort((a, b) => a - b)
  const drop = keys.length - maxBins
  const into = keys[drop]!
  let moved = 0
  for (let i = 0; i < drop; i++) {
    moved += bins.get(keys[i]!)!
    bins.delete(keys[i]!)
  }
  bins.set(into, bins.get(into)! + moved)
}

/**
 * An empty sketch (relative accuracy `alpha`, default 1%).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (alpha: number = defaultAlpha, maxBins: number = defaultMaxBins): QuantileSketch =>
  new QuantileSketch(alpha, maxBins)

const isCounts = (u: unknown): u is ReadonlyArray<number> =>
  Array.isArray(u) && u.length % 2 === 0 && u.every((x) => typeof x === "number" && Number.isFinite(x))

/**
 * A sketch back from its stored form; `undefined` when the value is not one (the caller says where it came from).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (u: unknown): QuantileSketch | undefined => {
  if (typeof u !== "object" || u === null) return undefined
  const e = u as Partial<Record<keyof Encoded, unknown>>
  if (typeof e.a !== "number" || !(e.a > 0 && e.a < 1) || typeof e.z !== "number" || !(e.z >= 0)) return undefined
  if (!isCounts(e.p) || !isCounts(e.n)) return undefined
  const sketch = new QuantileSketch(e.a)
  const gamma = (1 + e.a) / (1 - e.a)
  const load = (flat: ReadonlyArray<number>, sign: number) => {
    for (let i = 0; i < flat.length; i += 2) {
      const key = flat[i]!
      const count = flat[i + 1]!
      if (!Number.isInteger(key) || !(count > 0)) return false
      // Through `add` at the bin's representative value, which lies inside the bin, far from both of its ends.
      sketch.add((sign * 2 * gamma ** key) / (gamma + 1), count)
    }
    return true
  }
  if (!load(e.p, 1) || !load(e.n, -1)) return undefined
  if (e.z > 0) sketch.add(0, e.z)
  return sketch
}
