/**
 * A small seeded uniform generator (splitmix32) and the draws MIPROv2, COPRO and the TPE sampler need:
 * integers, choices, shuffles and samples without replacement. Deterministic for a seed.
 *
 * @since 0.1.0
 */

/**
 * A uniform source of numbers in [0, 1).
 *
 * @since 0.1.0
 * @category models
 */
export type Uniform = () => number

const hashString = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * A seeded generator; the parts (numbers or strings) are hashed into the seed, so `seeded(9, "tpe")` and
 * `seeded(9, "minibatch")` are independent streams.
 *
 * @since 0.1.0
 * @category constructors
 */
export const seeded = (...parts: ReadonlyArray<number | string>): Uniform => {
  let state = hashString(parts.map(String).join("\u0000"))
  return () => {
    state = (state + 0x9e3779b9) | 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    z ^= z >>> 16
    return (z >>> 0) / 4294967296
  }
}

/**
 * An integer in [lo, hi] (both included).
 *
 * @since 0.1.0
 * @category draws
 */
export const int = (random: Uniform, lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))

/**
 * One element of a non-empty array.
 *
 * @since 0.1.0
 * @category draws
 */
export const choice = <A>(random: Uniform, items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!

/**
 * A shuffled copy (Fisher-Yates).
 *
 * @since 0.1.0
 * @category draws
 */
export const shuffle = <A>(random: Uniform, items: ReadonlyArray<A>): Array<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}

/**
 * `k` distinct elements (all of them when `k >= items.length`), in draw order.
 *
 * @since 0.1.0
 * @category draws
 */
export const sample = <A>(random: Uniform, items: ReadonlyArray<A>, k: number): Array<A> =>
  shuffle(random, items).slice(0, Math.max(0, Math.min(k, items.length)))

/**
 * An index drawn with probability proportional to its (non-negative) weight.
 *
 * @since 0.1.0
 * @category draws
 */
export const weighted = (random: Uniform, weights: ReadonlyArray<number>): number => {
  let total = 0
  for (const w of weights) total += w
  let r = random() * total
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!
    if (r < 0) return i
  }
  return weights.length - 1
}
