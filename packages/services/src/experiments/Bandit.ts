/**
 * Multi-armed bandits over versions: epsilon-greedy with a decaying exploration rate and a floor, and Thompson
 * sampling with Beta posteriors (a reward in [0, 1] is a fractional Bernoulli outcome: it adds `reward` to the
 * successes and `1 - reward` to the failures). Choosing is a plain function over the arms' statistics and a
 * seeded generator (foundation `Random`), cheap enough for every request; the traffic router uses it for its
 * `Bandit` policy, and {@link make} gives a standalone bandit to other callers (the real-time loop, workflows).
 *
 * @example
 * ```ts
 * import { Bandit } from "@effect-dspy/services"
 *
 * const bandit = Bandit.make({ arms: ["v1", "v2"], algorithm: { _tag: "Thompson" }, seed: 7 })
 * const arm = bandit.pull()
 * bandit.reward(arm, 1)
 * ```
 *
 * @since 0.1.0
 */
import { Random } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"
import * as ArmStats from "./ArmStats.js"

/**
 * Epsilon-greedy: explore a uniformly random arm with probability `max(floor, epsilon * decay^t)` at pull `t`,
 * otherwise serve the arm with the best mean reward (an arm without rewards first).
 *
 * @since 0.1.0
 * @category schemas
 */
export const EpsilonGreedy = Schema.TaggedStruct("EpsilonGreedy", {
  epsilon: Schema.Number,
  decay: Schema.Number,
  floor: Schema.Number
})

/**
 * Thompson sampling: draw each arm's mean from its Beta(1 + successes, 1 + failures) posterior, serve the best draw.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Thompson = Schema.TaggedStruct("Thompson", {})

/**
 * A bandit algorithm.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Algorithm = Schema.Union(EpsilonGreedy, Thompson)

/**
 * A bandit algorithm.
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = typeof Algorithm.Type

/**
 * The exploration rate of epsilon-greedy at pull `t` (0-based): `max(floor, epsilon * decay^t)`.
 *
 * @since 0.1.0
 * @category algorithms
 */
export const epsilonAt = (algorithm: typeof EpsilonGreedy.Type, t: number): number =>
  Math.max(algorithm.floor, algorithm.epsilon * algorithm.decay ** t)

// Marsaglia and Tsang's method; shape < 1 is boosted by U^(1/shape).
const sampleGamma = (rng: Random.Random, shape: number): number => {
  if (shape < 1) return sampleGamma(rng, shape + 1) * rng.next() ** (1 / shape)
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (;;) {
    let x: number
    let v: number
    do {
      x = rng.normal()
      v = 1 + c * x
    } while (v <= 0)
    v = v * v * v
    const u = rng.next()
    if (u < 1 - 0.0331 * x * x * x * x) return d * v
    if (Math.log(Math.max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v
  }
}

/**
 * A draw from Beta(a, b) (a, b > 0), through two Gamma draws.
 *
 * @since 0.1.0
 * @category algorithms
 */
export const sampleBeta = (rng: Random.Random, a: number, b: number): number => {
  const x = sampleGamma(rng, a)
  const y = sampleGamma(rng, b)
  return x + y === 0 ? 0.5 : x / (x + y)
}

/**
 * Chooses an arm (its index) given the arms' statistics, a generator and the number of pulls made so far.
 * Rewards are read from `rewardN` and `rewardSum` (rewards are clamped to [0, 1] for Thompson's posterior).
 *
 * @since 0.1.0
 * @category algorithms
 */
export const select = (
  algorithm: Algorithm,
  arms: ReadonlyArray<typeof ArmStats.ArmStats.Type>,
  rng: Random.Random,
  pulls: number
): number => {
  const k = arms.length
  if (k <= 1) return 0
  if (algorithm._tag === "EpsilonGreedy") {
    if (rng.next() < epsilonAt(algorithm, pulls)) return rng.int(k)
    let best = 0
    let bestMean = Number.NEGATIVE_INFINITY
    for (let i = 0; i < k; i++) {
      const arm = arms[i]!
      const mean = arm.rewardN === 0 ? Number.POSITIVE_INFINITY : arm.rewardSum / arm.rewardN
      if (mean > bestMean) {
        bestMean = mean
        best = i
      }
    }
    return best
  }
  let best = 0
  let bestDraw = Number.NEGATIVE_INFINITY
  for (let i = 0; i < k; i++) {
    const arm = arms[i]!
    const successes = Math.min(Math.max(arm.rewardSum, 0), arm.rewardN)
    const draw = sampleBeta(rng, 1 + successes, 1 + arm.rewardN - successes)
    if (draw > bestDraw) {
      bestDraw = draw
      best = i
    }
  }
  return best
}

/**
 * A standalone bandit: `pull` chooses an arm and counts the pull; `reward` records an outcome in [0, 1].
 *
 * @since 0.1.0
 * @category models
 */
export interface Bandit {
  readonly arms: ReadonlyArray<string>
  readonly pull: () => string
  readonly reward: (arm: string, reward: number) => void
  /** The arms' statistics (live; copy before keeping). */
  readonly stats: (arm: string) => typeof ArmStats.ArmStats.Type | undefined
}

/**
 * A standalone bandit over named arms, seeded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly arms: ReadonlyArray<string>
  readonly algorithm: Algorithm
  readonly seed: number
}): Bandit => {
  const rng = Random.make(options.seed, "bandit")
  const stats = options.arms.map(() => ArmStats.empty())
  const index = new Map(options.arms.map((arm, i) => [arm, i]))
  let pulls = 0
  return {
    arms: options.arms,
    pull: () => {
      const i = select(options.algorithm, stats, rng, pulls)
      pulls += 1
      ArmStats.pull(stats[i]!)
      return options.arms[i]!
    },
    reward: (arm, reward) => {
      const i = index.get(arm)
      if (i === undefined) return
      const s = stats[i]!
      s.rewardN += 1
      s.rewardSum += reward
      s.rewardSumSq += reward * reward
    },
    stats: (arm) => {
      const i = index.get(arm)
      return i === undefined ? undefined : stats[i]
    }
  }
}
