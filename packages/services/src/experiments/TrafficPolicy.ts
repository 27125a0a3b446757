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
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { PolicyInvalid } from "../ServicesError.js"
import * as ArmStats from "./ArmStats.js"
import * as Bandits from "./Bandit.js"
import * as RouterImpl from "./internal/router.js"
import * as Validate from "./internal/validate.js"

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
      return Effect.fail(Validate.invalid(field, issue?.message ?? "not a traffic policy"))
    }
    const bad = Validate.check(decoded.right, new Set(knownVersions))
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
export const checkGuardRails: (rails: GuardRails, stats: typeof ArmStats.ArmStats.Type) => Breach | undefined =
  RouterImpl.checkGuardRails

// ---------------------------------------------------------------------------------------------------------
// The router
// ---------------------------------------------------------------------------------------------------------

/**
 * The schema version of {@link RouterState}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const STATE_VERSION: 1 = RouterImpl.STATE_VERSION

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
  return RouterImpl.build(policy, versionsOf(policy), options.seed ?? 0, 0, 0, arms, undefined, options.now ?? Date.now)
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
        return Validate.invalid(
          `state.${issue?.path.map(String).join(".") ?? ""}`,
          issue?.message ?? "not a router state"
        )
      })
    )
    const policy = yield* decode(state.policy, options.knownVersions ?? versionsOf(state.policy))
    const arms: Record<string, ArmStats.ArmStats> = {}
    for (const [arm, stats] of Object.entries(state.arms)) arms[arm] = ArmStats.copy(stats)
    return RouterImpl.build(
      policy,
      versionsOf(policy),
      state.seed,
      state.generation + 1,
      state.pulls,
      arms,
      state.breach,
      options.now ?? Date.now
    )
  })
