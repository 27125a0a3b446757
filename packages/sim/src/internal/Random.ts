/**
 * Seeded hashing and pseudo-random numbers for the simulated LM. Everything SimLM decides is a pure function
 * of its inputs, so answers never depend on `Math.random` or on the order of calls.
 *
 * @since 0.1.0
 */

/**
 * 32-bit FNV-1a hash of a string, mixed with a seed.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashString = (text: string, seed = 0): number => {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return avalanche(h)
}

/**
 * A final avalanche step (from murmur3) so that nearby inputs land far apart.
 *
 * @since 0.1.0
 * @category hashing
 */
export const avalanche = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Hashes several parts (strings or numbers) into one 32-bit seed.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashParts = (...parts: ReadonlyArray<string | number>): number => {
  let h = 0x9e3779b9
  for (const part of parts) {
    h = hashString(typeof part === "number" ? `#${part}` : part, h)
  }
  return h
}

/**
 * A small deterministic generator (mulberry32) with the helpers the simulator needs.
 *
 * @since 0.1.0
 * @category models
 */
export class Rng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** An integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  /** One element of a non-empty array. */
  pick<A>(items: ReadonlyArray<A>): A {
    return items[Math.floor(this.next() * items.length)]!
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p
  }
  /** A standard normal sample (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12)
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
  /** A shuffled copy. */
  shuffle<A>(items: ReadonlyArray<A>): Array<A> {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const tmp = out[i]!
      out[i] = out[j]!
      out[j] = tmp
    }
    return out
  }
  /** An index drawn with the given non-negative weights (the last index when all are zero). */
  weighted(weights: ReadonlyArray<number>): number {
    const total = weights.reduce((a, b) => a + b, 0)
    let r = this.next() * total
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!
      if (r < 0) return i
    }
    return weights.length - 1
  }
}

/**
 * A generator seeded from the hash of the given parts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rngOf = (...parts: ReadonlyArray<string | number>): Rng => new Rng(hashParts(...parts))
