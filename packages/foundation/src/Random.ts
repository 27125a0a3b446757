/**
 * The one seeded random module of the system. A generator is made from a seed and a key naming the choice
 * (`Random.make(seed, "bootstrap", "shuffle", round)`): every random choice draws from its own stream, never
 * from one shared sequential one, so concurrent work can draw in any order and the same seed still gives the
 * same choices. {@link Random.fork} derives a further independent stream by extending the key.
 *
 * The generator is sfc32 seeded from four salted 32-bit hashes of the seed and key; it passes the usual
 * statistical batteries, is fast in JavaScript (32-bit integer arithmetic only), and gives the same sequence on
 * every platform and run. Where a generator is built per item on a hot path (the simulated LM builds one per
 * example and per sampled answer), {@link fromState} gives the same interface over a one-word mulberry32 state
 * derived with {@link hashParts}, cheaper to build.
 *
 * @example
 * ```ts
 * import { Random } from "@effect-dspy/foundation"
 *
 * const rng = Random.make(7, "labeled", "sample")
 * rng.sample(["a", "b", "c", "d"], 2) // the same 2 for seed 7, whatever else ran before
 * rng.fork("round", 2).int(10) // an independent stream
 * ```
 *
 * @since 0.1.0
 */

/**
 * A seeded generator.
 *
 * @since 0.1.0
 * @category models
 */
export interface Random {
  /** The seed it was made from. */
  readonly seed: number
  /** The key it was made with. */
  readonly key: ReadonlyArray<KeyPart>
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [0, n). */
  readonly int: (n: number) => number
  /** An integer in [lo, hi] (both included). */
  readonly between: (lo: number, hi: number) => number
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
  /** A standard normal sample (Box-Muller). */
  readonly normal: () => number
  /** A shuffled copy (Fisher-Yates). */
  readonly shuffle: <A>(items: ReadonlyArray<A>) => Array<A>
  /** `k` distinct items in a random order (all of them when `k >= items.length`). */
  readonly sample: <A>(items: ReadonlyArray<A>, k: number) => Array<A>
  /** One item (undefined for an empty list). */
  readonly pick: <A>(items: ReadonlyArray<A>) => A | undefined
  /** An index drawn with probability proportional to its non-negative weight (the last when all are zero). */
  readonly weighted: (weights: ReadonlyArray<number>) => number
  /** An independent generator for the same seed and this key extended by `key`; draws made here do not matter. */
  readonly fork: (...key: ReadonlyArray<KeyPart>) => Random
}

/**
 * A key part: strings and numbers.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyPart = string | number

/**
 * A 32-bit hash of a string (FNV-1a, then a murmur3 avalanche step), with a salt.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hash32 = (text: string, salt = 0): number => {
  let h = (0x811c9dc5 ^ salt) >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The generator for a seed and key. The same (seed, key) always gives the same sequence.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (seed: number, ...key: ReadonlyArray<KeyPart>): Random => {
  const text = `${seed}\u0000${key.map(String).join("\u0000")}`
  let a = hash32(text, 1)
  let b = hash32(text, 2)
  let c = hash32(text, 3)
  let d = hash32(text, 4)
  const next32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + t) >>> 0
    return t
  }
  for (let i = 0; i < 12; i++) next32()
  const next = () => next32() / 4294967296
  const int = (n: number) => Math.floor(next() * n)
  const shuffle = <A>(items: ReadonlyArray<A>): Array<A> => {
    const out = items.slice()
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1)
      const tmp = out[i]!
      out[i] = out[j]!
      out[j] = tmp
    }
    return out
  }
  return {
    seed,
    key,
    next,
    int,
    between: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => next() < p,
    normal: () => {
      const u = Math.max(next(), 1e-12)
      const v = next()
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
    },
    shuffle,
    sample: (items, k) => shuffle(items).slice(0, Math.max(0, k)),
    pick: (items) => (items.length === 0 ? undefined : items[int(items.length)]),
    weighted: (weights) => {
      let total = 0
      for (const w of weights) total += w
      let r = next() * total
      for (let i = 0; i < weights.length; i++) {
        r -= weights[i]!
        if (r < 0) return i
      }
      return weights.length - 1
    },
    fork: (...more) => make(seed, ...key, ...more)
  }
}

/**
 * Hashes several parts (strings and numbers) into one 32-bit value: each part is folded in with
 * {@link hash32}, salted by the hash so far; a number `n` is hashed as the text `#n`, so `1` and `"1"` differ.
 * Use it to derive a seed for {@link fromState} from the things a choice depends on.
 *
 * @example
 * ```ts
 * import { Random } from "@effect-dspy/foundation"
 *
 * const state = Random.hashParts("draw", 7, "question text")
 * Random.fromState(state).between(1, 6) // the same roll for the same parts
 * ```
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashParts = (...parts: ReadonlyArray<KeyPart>): number => {
  let h = 0x9e3779b9
  for (const part of parts) h = hash32(typeof part === "number" ? `#${part}` : part, h)
  return h
}

const NO_KEY: ReadonlyArray<KeyPart> = []

// mulberry32: one 32-bit word of state, methods on the prototype, so a generator costs one small allocation.
class Mulberry32 implements Random {
  private state: number
  constructor(
    readonly seed: number,
    readonly key: ReadonlyArray<KeyPart>,
    state: number
  ) {
    this.state = state >>> 0
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-12)
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
  shuffle<A>(items: ReadonlyArray<A>): Array<A> {
    const out = items.slice()
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const tmp = out[i]!
      out[i] = out[j]!
      out[j] = tmp
    }
    return out
  }
  sample<A>(items: ReadonlyArray<A>, k: number): Array<A> {
    return this.shuffle(items).slice(0, Math.max(0, k))
  }
  pick<A>(items: ReadonlyArray<A>): A | undefined {
    return items[Math.floor(this.next() * items.length)]
  }
  weighted(weights: ReadonlyArray<number>): number {
    let total = 0
    for (const w of weights) total += w
    let r = this.next() * total
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!
      if (r < 0) return i
    }
    return weights.length - 1
  }
  fork(...more: ReadonlyArray<KeyPart>): Random {
    const key = [...this.key, ...more]
    return new Mulberry32(this.seed, key, hashParts("fork", this.seed, ...key))
  }
}

/**
 * A light generator from one 32-bit state word (mulberry32), with the same {@link Random} interface as
 * {@link make}. Building one is a single small allocation with no hashing or warm-up, so it suits hot paths that
 * make a generator per item: the simulated LM builds one per example and per sampled answer, and its server's
 * throughput depends on that. Prefer {@link make} elsewhere (a longer period and keyed seeding); derive the
 * state with {@link hashParts}.
 *
 * Its methods are on the prototype: call them on the generator (`rng.next()`), do not detach them. `pick`
 * draws once even for an empty list (and gives `undefined`). `seed` is the state given and `key` is empty;
 * `fork` hashes the state and the extended key into a new state, so forks do not depend on draws made.
 *
 * @example
 * ```ts
 * import { Random } from "@effect-dspy/foundation"
 *
 * const rng = Random.fromState(Random.hashParts("example", 3))
 * rng.pick(["a", "b", "c"]) // the same item every run
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromState = (state: number): Random => new Mulberry32(state >>> 0, NO_KEY, state)
