/**
 * The router behind `TrafficPolicy.make`: decisions preallocated in a table, `route` a plain closure picking an
 * index (one draw, or a hash of the caller key), statistics counted in place, a canary's guard rails checked as
 * its candidate's outcomes arrive.
 */
import { Random } from "@effect-dspy/foundation"
import * as ArmStats from "../ArmStats.js"
import * as Bandits from "../Bandit.js"
import type { Breach, Decision, GuardRails, Policy, Reason, Router } from "../TrafficPolicy.js"

/** The schema version of the router's state. */
export const STATE_VERSION = 1

const TWO_32 = 4294967296

const stickyUnit = (seed: number, key: string): number => Random.hashParts("sticky", seed, key) / TWO_32

/** The first guard rail broken, if any (see `TrafficPolicy.checkGuardRails`). */
export const checkGuardRails = (rails: GuardRails, stats: typeof ArmStats.ArmStats.Type): Breach | undefined => {
  if (stats.n < rails.minSamples) return undefined
  const rate = ArmStats.errorRate(stats)
  if (rails.maxErrorRate !== undefined && rate > rails.maxErrorRate)
    return {
      rail: "error_rate",
      observed: rate,
      limit: rails.maxErrorRate,
      samples: stats.n,
      reason: `error rate ${rate.toFixed(4)} over ${stats.n} calls exceeds the limit ${rails.maxErrorRate}`
    }
  if (rails.maxLatencyP95Ms !== undefined) {
    const p95 = ArmStats.latencyQuantile(stats, 0.95) ?? 0
    if (p95 > rails.maxLatencyP95Ms)
      return {
        rail: "latency_p95",
        observed: p95,
        limit: rails.maxLatencyP95Ms,
        samples: stats.n,
        reason: `latency p95 ${p95.toFixed(1)} ms over ${stats.n} calls exceeds the limit ${rails.maxLatencyP95Ms} ms`
      }
  }
  const quality = ArmStats.meanReward(stats)
  if (rails.minQuality !== undefined && quality !== undefined && stats.rewardN >= rails.minSamples)
    if (quality < rails.minQuality)
      return {
        rail: "quality",
        observed: quality,
        limit: rails.minQuality,
        samples: stats.rewardN,
        reason: `quality ${quality.toFixed(4)} over ${stats.rewardN} rewards is below the minimum ${rails.minQuality}`
      }
  return undefined
}

/** Builds a router (state restored from the arguments). */
export const build = (
  policy: Policy,
  names: ReadonlyArray<string>,
  seed: number,
  generation: number,
  initialPulls: number,
  initialArms: Record<string, ArmStats.ArmStats>,
  initialBreach: Breach | undefined,
  now: () => number
): Router => {
  const rng = Random.make(seed, "traffic-policy", generation)
  const arms = new Map<string, ArmStats.ArmStats>()
  for (const name of names) arms.set(name, initialArms[name] ?? ArmStats.empty())
  const armList = names.map((name) => arms.get(name)!)
  let pulls = initialPulls
  let breach = initialBreach

  // Decisions are made once, up front: `route` picks an index into this table (no allocation per request), and
  // the entry's arm statistics are counted without a lookup by name.
  const table: Array<Decision> = []
  const tableStats: Array<ArmStats.ArmStats> = []
  const entry = (serve: string, reason: Reason, shadow?: string): number => {
    table.push(
      Object.freeze(shadow === undefined ? { serve, arm: serve, reason } : { serve, shadow, arm: serve, reason })
    )
    tableStats.push(arms.get(serve)!)
    return table.length - 1
  }
  let route: (callerKey?: string) => number
  let afterObserve: (arm: string, stats: ArmStats.ArmStats) => void = () => {}

  switch (policy._tag) {
    case "Pinned": {
      const only = entry(policy.version, "pinned")
      route = () => only
      break
    }
    case "Weighted": {
      const indices = policy.weights.map((w) => entry(w.version, "weighted"))
      const cumulative: Array<number> = []
      let total = 0
      for (const w of policy.weights) cumulative.push((total += w.weight))
      const sticky = policy.stickyBy === "callerKey"
      const last = indices.length - 1
      route = (callerKey) => {
        const u = (sticky && callerKey !== undefined ? stickyUnit(seed, callerKey) : rng.next()) * total
        for (let i = 0; i < last; i++) if (u < cumulative[i]!) return indices[i]!
        return indices[last]!
      }
      break
    }
    case "Canary": {
      const stable = entry(policy.stable, "canary")
      const candidate = entry(policy.candidate, "canary")
      const sticky = policy.stickyBy === "callerKey"
      const fraction = policy.fraction
      route = (callerKey) => {
        if (breach !== undefined) return stable
        const u = sticky && callerKey !== undefined ? stickyUnit(seed, callerKey) : rng.next()
        return u < fraction ? candidate : stable
      }
      const rails = policy.guardRails
      afterObserve = (arm, stats) => {
        if (breach !== undefined || arm !== policy.candidate || stats.n < rails.minSamples) return
        // The latency quantile walks the histogram: check every outcome up to minSamples + 10, then every 10th.
        if (stats.n > rails.minSamples + 10 && stats.n % 10 !== 0) return
        breach = checkGuardRails(rails, stats)
      }
      break
    }
    case "Shadow": {
      const plain = entry(policy.serving, "shadow")
      const shadowed = entry(policy.serving, "shadow", policy.candidate)
      const sample = policy.sample
      const cap = policy.maxExtraCallsPerMinute
      let windowStart = 0
      let windowCount = 0
      const candidateStats = arms.get(policy.candidate)!
      route = () => {
        if (!(rng.next() < sample)) return plain
        if (cap !== undefined) {
          const t = now()
          if (t - windowStart >= 60_000) {
            windowStart = t
            windowCount = 0
          }
          if (windowCount >= cap) return plain
          windowCount += 1
        }
        ArmStats.pull(candidateStats)
        return shadowed
      }
      break
    }
    case "Bandit": {
      const indices = names.map((name) => entry(name, "bandit"))
      const algorithm = policy.algorithm
      route = () => indices[Bandits.select(algorithm, armList, rng, pulls)]!
      break
    }
  }

  const routeAndCount = (callerKey?: string): Decision => {
    const i = route(callerKey)
    pulls += 1
    tableStats[i]!.pulls += 1
    return table[i]!
  }

  return {
    policy,
    route: routeAndCount,
    observe: (arm, observation) => {
      const stats = arms.get(arm)
      if (stats === undefined) return
      ArmStats.record(
        stats,
        observation.reward === undefined && observation.error ? { ...observation, reward: 0 } : observation
      )
      afterObserve(arm, stats)
    },
    stats: (arm) => {
      const stats = arms.get(arm)
      return stats === undefined ? undefined : ArmStats.copy(stats)
    },
    breach: () => breach,
    state: () => {
      const out: Record<string, ArmStats.ArmStats> = {}
      for (const [name, stats] of arms) out[name] = ArmStats.copy(stats)
      return {
        schemaVersion: STATE_VERSION,
        policy,
        seed,
        generation,
        pulls,
        arms: out,
        ...(breach === undefined ? {} : { breach })
      }
    }
  }
}
