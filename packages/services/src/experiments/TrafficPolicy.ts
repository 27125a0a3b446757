/**
 * Traffic policies over a module's versions and the router that applies one. A {@link Policy} says which version
 * serves a request: {@link Pinned} one version; {@link Weighted} a split (sticky by a caller key when asked);
 * {@link Canary} a small fraction to a candidate, under guard rails; {@link Shadow} the serving version, plus the
 * candidate run on a sample and never served; {@link Bandit} a bandit over versions driven by rewards.
 *
 * {@link decode} checks a policy against the module's versions and says what to fix. {@link make} builds a
 * {@link Router}: `route(callerKey?)` gives a {@link Decision} synchronously (a plain closure over a seeded
 * generator, no Effect on the hot path; pinned and weighted decisions are preallocated), and
 * `observe(arm, outcome)` feeds the arm's statistics, the bandit and the canary's guard rails. A canary whose
 * candidate breaches a guard rail stops routing to it at once; `breach()` says why. `state()` is plain JSON with a
 * schema version, so the router can be persisted and resumed with {@link restore}.
 *
 * Versions are strings (the caller's version ids). An observed error without a reward counts as reward 0.
 *
 * @example
 * ```ts
 * import { TrafficPolicy } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const policy = yield* TrafficPolicy.decode(
 *     { _tag: "Weighted", weights: [{ version: "1", weight: 0.9 }, { version: "2", weight: 0.1 }], stickyBy: "callerKey" },
 *     ["1", "2"]
 *   )
 *   const router = TrafficPolicy.make(policy, { seed: 1 })
 *   const decision = router.route("user-42") // the same version for user-42 every time
 *   router.observe(decision.arm, { latencyMs: 80, error: false, costUsd: 0.001, reward: 1 })
 *   return decision.serve
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { PolicyInvalid } from "../ServicesError.js"
import * as ArmStats from "./ArmStats.js"
import * as Bandits from "./Bandit.js"

// ---------------------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------------------

/**
 * One version serves everything.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Pinned = Schema.TaggedStruct("Pinned", { version: Schema.String })

/**
 * A split: each request goes to a version with its weight (the weights sum to 1). With `stickyBy: "callerKey"` a
 * caller key always gets the same version (a stable hash of the key, not a draw).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Weighted = Schema.TaggedStruct("Weighted", {
  weights: Schema.Array(Schema.Struct({ version: Schema.String, weight: Schema.Number })),
  stickyBy: Schema.optional(Schema.Literal("callerKey"))
})

/**
 * A canary's guard rails, checked on the candidate once it has `minSamples` outcomes: its error rate at most
 * `maxErrorRate`, its latency p95 at most `maxLatencyP95Ms`, its mean quality at least `minQuality`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const GuardRails = Schema.Struct({
  maxErrorRate: Schema.optional(Schema.Number),
  maxLatencyP95Ms: Schema.optional(Schema.Number),
  minQuality: Schema.optional(Schema.Number),
  minSamples: Schema.Number
})

/**
 * A guard rail set.
 *
 * @since 0.1.0
 * @category models
 */
export type GuardRails = typeof GuardRails.Type

/**
 * A canary: `fraction` of requests go to `candidate`, the rest to `stable`; a breached guard rail sends everything
 * back to `stable`. Sticky by caller key when asked.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Canary = Schema.TaggedStruct("Canary", {
  stable: Schema.String,
  candidate: Schema.String,
  fraction: Schema.Number,
  guardRails: GuardRails,
  stickyBy: Schema.optional(Schema.Literal("callerKey"))
})

/**
 * A shadow: `serving` serves every request; on a `sample` of them the candidate also runs, its output recorded and
 * never served, at most `maxExtraCallsPerMinute` extra runs a minute when set.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Shadow = Schema.TaggedStruct("Shadow", {
  serving: Schema.String,
  candidate: Schema.String,
  sample: Schema.Number,
  maxExtraCallsPerMinute: Schema.optional(Schema.Number)
})

/**
 * A bandit over versions (epsilon-greedy with decay and a floor, or Thompson sampling), driven by observed rewards.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Bandit = Schema.TaggedStruct("Bandit", {
  versions: Schema.Array(Schema.String),
  algorithm: Bandits.Algorithm
})

/**
 * A traffic policy.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Policy = Schema.Union(Pinned, Weighted, Canary, Shadow, Bandit)

/**
 * A traffic policy.
 *
 * @since 0.1.0
 * @category models
 */
export type Policy = typeof Policy.Type

/**
 * The versions a policy names (serving, candidates, arms), without duplicates.
 *
 * @since 0.1.0
 * @category getters
 */
export const versionsOf = (policy: Policy): ReadonlyArray<string> => {
  switch (policy._tag) {
    case "Pinned":
      return [policy.version]
    case "Weighted":
      return [...new Set(policy.weights.map((w) => w.version))]
    case "Canary":
      return [policy.stable, policy.candidate]
    case "Shadow":
      return [policy.serving, policy.candidate]
    case "Bandit":
      return [...new Set(policy.versions)]
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------

const invalid = (field: string, reason: string) =>
  new PolicyInvalid({ message: `traffic policy: ${field}: ${reason}`, field, reason })

const inUnit = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1

const check = (policy: Policy, known: ReadonlySet<string>): PolicyInvalid | undefined => {
  const version = (field: string, v: string) =>
    known.has(v)
      ? undefined
      : invalid(field, `unknown version "${v}"; the module has ${[...known].join(", ") || "none"}`)
  switch (policy._tag) {
    case "Pinned":
      return version("version", policy.version)
    case "Weighted": {
      if (policy.weights.length === 0) return invalid("weights", "give at least one version with a weight")
      const seen = new Set<string>()
      let sum = 0
      for (let i = 0; i < policy.weights.length; i++) {
        const w = policy.weights[i]!
        const bad = version(`weights[${i}].version`, w.version)
        if (bad) return bad
        if (seen.has(w.version)) return invalid(`weights[${i}].version`, `version "${w.version}" appears twice`)
        seen.add(w.version)
        if (!inUnit(w.weight)) return invalid(`weights[${i}].weight`, `must be in [0, 1], got ${w.weight}`)
        sum += w.weight
      }
      if (Math.abs(sum - 1) > 1e-9) return invalid("weights", `must sum to 1 (within 1e-9), they sum to ${sum}`)
      return undefined
    }
    case "Canary": {
      const bad = version("stable", policy.stable) ?? version("candidate", policy.candidate)
      if (bad) return bad
      if (policy.stable === policy.candidate) return invalid("candidate", "must differ from stable")
      if (!inUnit(policy.fraction)) return invalid("fraction", `must be in [0, 1], got ${policy.fraction}`)
      const rails = policy.guardRails
      if (!Number.isInteger(rails.minSamples) || rails.minSamples < 1)
        return invalid("guardRails.minSamples", `must be an integer >= 1, got ${rails.minSamples}`)
      if (rails.maxErrorRate !== undefined && !inUnit(rails.maxErrorRate))
        return invalid("guardRails.maxErrorRate", `must be in [0, 1], got ${rails.maxErrorRate}`)
      if (rails.minQuality !== undefined && !inUnit(rails.minQuality))
        return invalid("guardRails.minQuality", `must be in [0, 1], got ${rails.minQuality}`)
      if (rails.maxLatencyP95Ms !== undefined && !(Number.isFinite(rails.maxLatencyP95Ms) && rails.maxLatencyP95Ms > 0))
        return invalid("guardRails.maxLatencyP95Ms", `must be a positive number, got ${rails.maxLatencyP95Ms}`)
      return undefined
    }
    case "Shadow": {
      const bad = version("serving", policy.serving) ?? version("candidate", policy.candidate)
      if (bad) return bad
      if (policy.serving === policy.candidate) return invalid("candidate", "must differ from serving")
      if (!inUnit(policy.sample)) return invalid("sample", `must be in [0, 1], got ${policy.sample}`)
      const max = policy.maxExtraCallsPerMinute
      if (max !== undefined && !(Number.isInteger(max) && max >= 0))
        return invalid("maxExtraCallsPerMinute", `must be an integer >= 0, got ${max}`)
      return undefined
    }
    case "Bandit": {
      if (policy.versions.length < 2) return invalid("versions", "a bandit needs at least two versions")
      const seen = new Set<string>()
      for (let i = 0; i < policy.versions.length; i++) {
        const v = policy.versions[i]!
        const bad = version(`versions[${i}]`, v)
        if (bad) return bad
        if (seen.has(v)) return invalid(`versions[${i}]`, `version "${v}" appears twice`)
        seen.add(v)
      }
      const a = policy.algorithm
      if (a._tag === "EpsilonGreedy") {
        if (!inUnit(a.epsilon)) return invalid("algorithm.epsilon", `must be in [0, 1], got ${a.epsilon}`)
        if (!(Number.isFinite(a.decay) && a.decay > 0 && a.decay <= 1))
          return invalid("algorithm.decay", `must be in (0, 1], got ${a.decay}`)
        if (!(inUnit(a.floor) && a.floor <= a.epsilon))
          return invalid("algorithm.floor", `must be in [0, epsilon], got ${a.floor}`)
      }
      return undefined
    }
  }
}

const decodePolicy = Schema.decodeUnknownEither(Policy, { errors: "first", onExcessProperty: "error" })

/**
 * Decodes and checks a policy against the module's versions. Fails with `PolicyInvalid` naming the field at fault
 * and what to fix: a malformed shape, an unknown or repeated version, weights outside [0, 1] or not summing to 1
 * (within 1e-9), a fraction or sample outside [0, 1], bad guard rails or bandit settings.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (input: unknown, knownVersions: ReadonlyArray<string>): Effect.Effect<Policy, PolicyInvalid> =>
  Effect.suspend(() => {
    const decoded = decodePolicy(input)
    if (Either.isLeft(decoded)) {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
      const field = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "policy"
      return Effect.fail(invalid(field, issue?.message ?? "not a traffic policy"))
    }
    const bad = check(decoded.right, new Set(knownVersions))
    return bad ? Effect.fail(bad) : Effect.succeed(decoded.right)
  })

// ---------------------------------------------------------------------------------------------------------
// Decisions, guard rails
// ---------------------------------------------------------------------------------------------------------

/**
 * Why a version serves.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = "pinned" | "weighted" | "canary" | "shadow" | "bandit"

/**
 * A routing decision: the version that serves, the version shadowed (run, recorded, never served) if any, the arm
 * to report the outcome under (`observe(arm, ...)`; it is the served version) and why.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision {
  readonly serve: string
  readonly shadow?: string
  readonly arm: string
  readonly reason: Reason
}

/**
 * A guard rail the canary's candidate broke: which, the value seen, the limit, over how many outcomes, and a
 * sentence for the event.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Breach = Schema.Struct({
  rail: Schema.Literal("error_rate", "latency_p95", "quality"),
  observed: Schema.Number,
  limit: Schema.Number,
  samples: Schema.Number,
  reason: Schema.String
})

/**
 * A broken guard rail.
 *
 * @since 0.1.0
 * @category models
 */
export type Breach = typeof Breach.Type

/**
 * Checks guard rails against an arm's statistics: the first rail broken (error rate, then latency p95, then
 * quality), or `undefined` when all hold or fewer than `minSamples` outcomes were seen.
 *
 * @since 0.1.0
 * @category guard rails
 */
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

// ---------------------------------------------------------------------------------------------------------
// The router
// ---------------------------------------------------------------------------------------------------------

/**
 * The schema version of {@link RouterState}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const STATE_VERSION = 1

/**
 * A router's persisted state: the policy, the seed, how many times it was resumed (each resume draws from a fresh
 * stream of the seed), every arm's statistics and the canary's breach if any.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RouterState = Schema.Struct({
  schemaVersion: Schema.Literal(STATE_VERSION),
  policy: Policy,
  seed: Schema.Number,
  generation: Schema.Number,
  pulls: Schema.Number,
  arms: Schema.Record({ key: Schema.String, value: ArmStats.ArmStats }),
  breach: Schema.optional(Breach)
})

/**
 * A router's persisted state.
 *
 * @since 0.1.0
 * @category models
 */
export type RouterState = typeof RouterState.Type

/**
 * A router applying one policy. `route` and `observe` are synchronous and cheap: call them on every request.
 *
 * @since 0.1.0
 * @category models
 */
export interface Router {
  readonly policy: Policy
  /** The decision for a request; `callerKey` makes sticky policies sticky (ignored by the others). */
  readonly route: (callerKey?: string) => Decision
  /** Records the outcome of a call routed to `arm` (served or shadowed). */
  readonly observe: (arm: string, observation: ArmStats.Observation) => void
  /** An arm's statistics (a copy), `undefined` for an arm the policy does not name. */
  readonly stats: (arm: string) => ArmStats.ArmStats | undefined
  /** The canary's broken guard rail, once one broke (the candidate no longer serves). */
  readonly breach: () => Breach | undefined
  /** The state as plain JSON (see {@link RouterState}). */
  readonly state: () => RouterState
}

/**
 * Options of {@link make}: the seed (default 0) and the clock for the shadow's per-minute cap (default
 * `Date.now`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed?: number
  readonly now?: () => number
  /**
   * Statistics to start from, by arm (e.g. `router.state().arms` of the router this one replaces when a policy
   * changes at run time); arms the policy does not name are ignored.
   */
  readonly stats?: Readonly<Record<string, typeof ArmStats.ArmStats.Type>>
}

const TWO_32 = 4294967296

const stickyUnit = (seed: number, key: string): number => Random.hashParts("sticky", seed, key) / TWO_32

/**
 * A router for a policy (assumed checked by {@link decode}), with empty statistics unless `options.stats` gives
 * some.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (policy: Policy, options: Options = {}): Router => {
  const arms: Record<string, ArmStats.ArmStats> = {}
  for (const [arm, stats] of Object.entries(options.stats ?? {})) arms[arm] = ArmStats.copy(stats)
  return build(policy, options.seed ?? 0, 0, 0, arms, undefined, options.now ?? Date.now)
}

/**
 * Resumes a router from its persisted state, checking the policy against the module's versions (when given).
 * The generator continues from a fresh stream of the same seed (`generation` counts resumes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const restore = (
  input: unknown,
  options: { readonly knownVersions?: ReadonlyArray<string>; readonly now?: () => number } = {}
): Effect.Effect<Router, PolicyInvalid> =>
  Effect.gen(function* () {
    const state = yield* Schema.decodeUnknown(RouterState)(input).pipe(
      Effect.mapError((e) => {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
        return invalid(`state.${issue?.path.map(String).join(".") ?? ""}`, issue?.message ?? "not a router state")
      })
    )
    const policy = yield* decode(state.policy, options.knownVersions ?? versionsOf(state.policy))
    const arms: Record<string, ArmStats.ArmStats> = {}
    for (const [arm, stats] of Object.entries(state.arms)) arms[arm] = ArmStats.copy(stats)
    return build(policy, state.seed, state.generation + 1, state.pulls, arms, state.breach, options.now ?? Date.now)
  })

const build = (
  policy: Policy,
  seed: number,
  generation: number,
  initialPulls: number,
  initialArms: Record<string, ArmStats.ArmStats>,
  initialBreach: Breach | undefined,
  now: () => number
): Router => {
  const rng = Random.make(seed, "traffic-policy", generation)
  const names = versionsOf(policy)
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
