/**
 * The synthetic suite: seeded series with a known structure, one generator per family, and the target each
 * family must meet. The families: `trend_noise` (a line plus Gaussian noise), `trend_season` (plus a daily
 * season of `seasonLength` points, two harmonics), `level_shifts` (a level that jumps by 2-4 sigma at known
 * points, at least 100 apart), `random_walk` (Gaussian steps), `spikes` (a stationary level with single points
 * 4-8 sigma off) and `stationary` (noise around a level: nothing to find). The same seed gives the same
 * series (effect's PCG generator); the events record where the shifts and spikes are.
 *
 * @example
 * ```ts
 * import { Synthetic } from "@effect-dspy/analytics"
 *
 * const series = Synthetic.generate("level_shifts", { seed: 7, length: 1000 })
 * const shifts = series.events.map((e) => e.index) // where the level jumps
 * ```
 *
 * @since 0.1.0
 */
import { PCGRandom } from "effect/Utils"
import * as check from "./internal/check.js"

/**
 * The families of the suite.
 *
 * @since 0.1.0
 * @category models
 */
export const families = ["trend_noise", "trend_season", "level_shifts", "random_walk", "spikes", "stationary"] as const

/**
 * A family's name.
 *
 * @since 0.1.0
 * @category models
 */
export type Family = (typeof families)[number]

/**
 * A known event of a series: a level `shift` (first point of the new level) or a `spike`, with its size in
 * noise standard deviations (signed).
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly index: number
  readonly kind: "shift" | "spike"
  readonly sigmas: number
}

/**
 * A generated series: its values, the noise standard deviation, and its events.
 *
 * @since 0.1.0
 * @category models
 */
export interface Series {
  readonly family: Family
  readonly seed: number
  readonly seasonLength: number
  readonly values: Array<number>
  readonly noiseSd: number
  readonly events: ReadonlyArray<Event>
}

/**
 * Options: `seed` (default 1), `length` (points, default 1000), `seasonLength` (points per day, default 24).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed?: number
  readonly length?: number
  readonly seasonLength?: number
}

/**
 * What a family must meet: the 95% interval `coverage` range, the forecasts' MASE bound against naive, and the
 * detectors' precision and recall within `within` points of an event.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly coverage: readonly [number, number]
  readonly mase?: number
  readonly detection?: { readonly precision: number; readonly recall: number; readonly within: number }
  /** The most alarms allowed on the series (stationary: none during the warm-up, few after). */
  readonly falseAlarmsPer1000?: number
}

/**
 * The target per family, fixed before the forecasters and detectors were tuned.
 *
 * @since 0.1.0
 * @category models
 */
export const targets: Record<Family, Target> = {
  trend_noise: { coverage: [0.93, 0.97], mase: 0.8 },
  trend_season: { coverage: [0.93, 0.97], mase: 0.8 },
  level_shifts: { coverage: [0.93, 0.97], detection: { precision: 0.9, recall: 0.9, within: 20 } },
  random_walk: { coverage: [0.93, 0.97], mase: 1.05 },
  spikes: { coverage: [0.93, 0.97], detection: { precision: 0.9, recall: 0.9, within: 20 } },
  stationary: { coverage: [0.93, 0.97], falseAlarmsPer1000: 1 }
}

/** A seeded source of uniform and Gaussian numbers. */
const source = (seed: number, family: Family) => {
  const rng = new PCGRandom(seed >>> 0, families.indexOf(family) + 1, 0x2545f491)
  const uniform = (lo = 0, hi = 1) => lo + (hi - lo) * rng.number()
  let spare = Number.NaN
  const gaussian = (): number => {
    if (!Number.isNaN(spare)) {
      const s = spare
      spare = Number.NaN
      return s
    }
    let u = 0
    while (u === 0) u = rng.number()
    const v = rng.number()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
  return { uniform, gaussian }
}

/** Event positions at least `gap` apart, starting after `start`, leaving `tail` points at the end. */
const positions = (
  u: (lo?: number, hi?: number) => number,
  length: number,
  start: number,
  gap: number,
  tail: number
) => {
  const out: Array<number> = []
  let at = start + Math.floor(u(0, gap))
  while (at < length - tail) {
    out.push(at)
    at += gap + Math.floor(u(0, gap))
  }
  return out
}

/**
 * Generates one series of a family (throws InvalidOptions on a bad length or season).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (family: Family, options?: Options): Series => {
  const seed = options?.seed ?? 1
  const length = check.integerAtLeast("Synthetic", "length", options?.length ?? 1000, 1)
  const m = check.integerAtLeast("Synthetic", "seasonLength", options?.seasonLength ?? 24, 2)
  const { uniform, gaussian } = source(seed, family)
  const level = uniform(50, 150)
  const sd = uniform(0.5, 3)
  const values = new Array<number>(length)
  const events: Array<Event> = []
  switch (family) {
    case "trend_noise":
    case "trend_season": {
      const slope = (uniform() < 0.5 ? -1 : 1) * uniform(0.02, 0.2) * sd
      const amplitude = family === "trend_season" ? uniform(2, 6) * sd : 0
      const second = amplitude * uniform(0.1, 0.4)
      const phase = uniform(0, 2 * Math.PI)
      for (let t = 0; t < length; t++) {
        const angle = (2 * Math.PI * t) / m + phase
        values[t] = level + slope * t + amplitude * Math.sin(angle) + second * Math.cos(2 * angle) + sd * gaussian()
      }
      break
    }
    case "level_shifts": {
      const at = new Set(positions(uniform, length, 100, 100, 40))
      let current = level
      for (let t = 0; t < length; t++) {
        if (at.has(t)) {
          const sigmas = (uniform() < 0.5 ? -1 : 1) * uniform(2, 4)
          current += sigmas * sd
          events.push({ index: t, kind: "shift", sigmas })
        }
        values[t] = current + sd * gaussian()
      }
      break
    }
    case "random_walk": {
      let current = level
      for (let t = 0; t < length; t++) {
        current += sd * gaussian()
        values[t] = current
      }
      break
    }
    case "spikes": {
      const at = new Set(positions(uniform, length, 60, 30, 0))
      for (let t = 0; t < length; t++) {
        if (at.has(t)) {
          const sigmas = (uniform() < 0.5 ? -1 : 1) * uniform(4, 8)
          values[t] = level + sigmas * sd
          events.push({ index: t, kind: "spike", sigmas })
        } else values[t] = level + sd * gaussian()
      }
      break
    }
    case "stationary": {
      for (let t = 0; t < length; t++) values[t] = level + sd * gaussian()
      break
    }
  }
  return { family, seed, seasonLength: m, values, noiseSd: sd, events }
}

/**
 * The suite: every family for each seed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const suite = (seeds: ReadonlyArray<number>, options?: Omit<Options, "seed">): Array<Series> =>
  seeds.flatMap((seed) => families.map((family) => generate(family, { ...options, seed })))
