/**
 * Weighted load balancing across healthy providers, by latency and cost: a group names a primary provider and its
 * peers; a request for the primary goes to a member drawn with weight proportional to
 * `1 / (latency^latencyExponent * costPerCall^costExponent)` among the healthy members (an unhealthy one, with an
 * open circuit or no transport, gets none). A member with no figures yet gets the median of the others', so a new
 * provider gets traffic and figures. Weights are recomputed by the observability loop from the metric history;
 * the router asks {@link Balancer.choose} once per request (one map lookup and one draw).
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"

/**
 * A member's figures.
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly name: string
  readonly healthy: boolean
  /** Its recent latency (p95, ms); NaN when unknown. */
  readonly latencyMs: number
  /** Its recent cost per call (USD); NaN when unknown. */
  readonly costPerCall: number
}

/**
 * A member's share of the traffic (the shares of a group sum to 1, or all are 0 when none is healthy).
 *
 * @since 0.1.0
 * @category models
 */
export interface Weight {
  readonly name: string
  readonly weight: number
}

/**
 * How latency and cost count.
 *
 * @since 0.1.0
 * @category models
 */
export interface WeightOptions {
  /** Default 1: twice as slow, half the traffic. */
  readonly latencyExponent?: number
  /** Default 0.5. */
  readonly costExponent?: number
}

const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/**
 * The weights of a group's members.
 *
 * @since 0.1.0
 * @category constructors
 */
export const weights = (candidates: ReadonlyArray<Candidate>, options: WeightOptions = {}): ReadonlyArray<Weight> => {
  const a = options.latencyExponent ?? 1
  const b = options.costExponent ?? 0.5
  const healthy = candidates.filter((c) => c.healthy)
  const known = (f: (c: Candidate) => number) => healthy.map(f).filter((x) => Number.isFinite(x) && x > 0)
  const latencyFill = median(known((c) => c.latencyMs))
  const costFill = median(known((c) => c.costPerCall))
  const raw = candidates.map((c) => {
    if (!c.healthy) return 0
    const latency = Number.isFinite(c.latencyMs) && c.latencyMs > 0 ? c.latencyMs : latencyFill
    const cost = Number.isFinite(c.costPerCall) && c.costPerCall > 0 ? c.costPerCall : costFill
    const l = Number.isFinite(latency) ? latency ** a : 1
    const k = Number.isFinite(cost) ? cost ** b : 1
    return 1 / Math.max(1e-12, l * k)
  })
  const total = raw.reduce((s, w) => s + w, 0)
  return candidates.map((c, i) => ({ name: c.name, weight: total > 0 ? raw[i]! / total : 0 }))
}

/**
 * The member a draw `u` in [0, 1) lands on (undefined when every weight is 0).
 *
 * @since 0.1.0
 * @category constructors
 */
export const pick = (group: ReadonlyArray<Weight>, u: number): string | undefined => {
  let acc = 0
  let last: string | undefined
  for (const w of group) {
    if (w.weight <= 0) continue
    acc += w.weight
    last = w.name
    if (u < acc) return w.name
  }
  return last
}

/**
 * The balancer the router asks.
 *
 * @since 0.1.0
 * @category models
 */
export interface Balancer {
  /** The provider to send a request for `name` to (`name` itself when it leads no group or none is healthy). */
  readonly choose: (name: string) => string
  /** Sets a group's weights (its primary's name, then the weights). */
  readonly set: (primary: string, group: ReadonlyArray<Weight>) => void
  /** The weights in force, by primary. */
  readonly current: () => ReadonlyMap<string, ReadonlyArray<Weight>>
}

/**
 * A balancer with seeded draws (the same seed, the same sequence of choices for the same weights).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (seed = 0): Balancer => {
  const groups = new Map<string, ReadonlyArray<Weight>>()
  const rng = Random.make(seed, "provider-balancer")
  return {
    choose: (name) => {
      const group = groups.get(name)
      if (group === undefined) return name
      return pick(group, rng.next()) ?? name
    },
    set: (primary, group) => {
      groups.set(primary, group)
    },
    current: () => groups
  }
}
