/**
 * Deterministic embeddings: character trigrams (with word-boundary padding) and whole words hashed into a
 * fixed-size vector with signed buckets, then L2-normalised. Texts sharing words and spellings land close,
 * which is all KNNFewShot and retrieval need from them.
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"

/**
 * The default vector size.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultDimensions = 256

/**
 * The embedding of a text: a unit vector of `dimensions` numbers (an empty text gets the first basis
 * vector).
 *
 * @since 0.1.0
 * @category embedding
 */
export const embed = (text: string, dimensions: number = defaultDimensions): Array<number> => {
  const v = new Array<number>(dimensions).fill(0)
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  const add = (feature: string, weight: number) => {
    const h = Random.hash32(feature, 0x5eed)
    v[h % dimensions]! += (h & 0x80000000) !== 0 ? -weight : weight
  }
  for (const w of words) {
    add(`w:${w}`, 1)
    const padded = ` ${w} `
    for (let i = 0; i + 3 <= padded.length; i++) add(padded.slice(i, i + 3), 0.5)
  }
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0))
  if (norm === 0) {
    v[0] = 1
    return v
  }
  return v.map((x) => x / norm)
}

/**
 * Cosine similarity of two vectors of the same size.
 *
 * @since 0.1.0
 * @category embedding
 */
export const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * (b[i] ?? 0)
    na += a[i]! * a[i]!
    nb += (b[i] ?? 0) * (b[i] ?? 0)
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}
