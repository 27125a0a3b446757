/**
 * Nesting depth of plain values, measured without recursion, so that input too deep for the recursive
 * code downstream (Schema decoding, printing) is refused with a typed error before it gets there.
 *
 * @internal
 */

/**
 * Whether arrays and objects nest deeper than `limit` in `value` (a scalar is depth 0, `[]` depth 1).
 * Visits each node at most once and stops at the first node past the limit.
 *
 * @internal
 */
export const exceedsDepth = (value: unknown, limit: number): boolean => {
  const stack: Array<readonly [unknown, number]> = [[value, 0]]
  const seen = new Set<object>()
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== "object" || v === null || seen.has(v)) continue
    if (d + 1 > limit) return true
    seen.add(v)
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1])
  }
  return false
}
