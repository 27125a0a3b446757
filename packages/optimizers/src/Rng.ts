/**
 * Keyed, seeded random numbers. Every random choice of an optimizer is drawn from a generator made from the
 * run's seed and a stable key naming the choice (`Rng.make(seed, "bootstrap", "shuffle", round)`), never from
 * one shared sequential stream: concurrent work can draw in any order and the same seed still gives the same
 * choices.
 *
 * ```ts
 * const rng = Rng.make(7, "labeled", "sample")
 * rng.sample(trainset, 4) // the same 4 for seed 7, whatever else ran before
 * ```
 *
 * @since 0.1.0
 */

/**
 * A seeded generator (sfc32 seeded from a hash of the seed and key).
 *
 * @since 0.1.0
 * @category models
 */
export interface Rng {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [0, n). */
  readonly int: (n: number) => number
  /** An integer in [lo, hi] (both included). */
  readonly between: (lo: number, hi: number) => number
  /** A shuffled copy (Fisher-Yates). */
  readonly shuffle: <A>(items: ReadonlyArray<A>) => Array<A>
  /** `k` distinct items in a random order (all of them when `k >= items.length`). */
  readonly sample: <A>(items: ReadonlyArray<A>, k: number) => Array<A>
  /** One item (undefined for an empty list). */
  readonly pick: <A>(items: ReadonlyArray<A>) => A | undefined
}

/**
 * A key part: strings and numbers.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyPart = string | number

/**
 * A 32-bit hash of a string (FNV-1a, then an avalanche step), with a salt.
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
export const make = (seed: number, ...key: ReadonlyArray<KeyPart>): Rng => {
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
    next,
    int,
    between: (lo, hi) => lo + int(hi - lo + 1),
    shuffle,
    sample: (items, k) => shuffle(items).slice(0, Math.max(0, k)),
    pick: (items) => (items.length === 0 ? undefined : items[int(items.length)])
  }
}
