/**
 * The two-sided tabular CUSUM change-point test, self-starting. The first `warmup` points (after every alarm
 * too) estimate the level and standard deviation; then each point's z-score against the points before it
 * (clipped to +/-`clip` so one spike cannot fake a shift; the point then joins the estimate) feeds S+ = max(0, S+ + z - k) and S- = max(0, S- - z - k); a sum above `h` is a level shift, dated
 * from the last point its sum was zero. The defaults (k = 0.5, h = 8) find a 2-sigma shift in about 6 points
 * and raise a false alarm about once in 10,000 points of a stationary series.
 *
 * @example
 * ```ts
 * import { Cusum } from "@effect-dspy/analytics"
 *
 * const state = Cusum.make()
 * const series = Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : 3) + Math.sin(i * 7.3))
 * const alarms = series.flatMap((x, i) => (Cusum.update(state, x).signal !== 0 ? [i] : [])) // one, just after 60
 * ```
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import type * as Detection from "./Detection.js"
import * as check from "./internal/check.js"

/**
 * Options in units of the warm-up standard deviation: `k` (allowance, default 0.5), `h` (decision interval,
 * default 8), `clip` (largest |z| a point contributes, default 3); `warmup` points (>= 5, default 30).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly k?: number
  readonly h?: number
  readonly clip?: number
  readonly warmup?: number
}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State extends Detection.Signal {
  readonly k: number
  readonly h: number
  readonly clip: number
  readonly warmup: number
  /** Points since the last reset, and their mean and sum of squared deviations (Welford) during the warm-up. */
  readonly count: number
  readonly mean: number
  readonly m2: number
  readonly sd: number
  readonly up: number
  readonly down: number
  /** Index (in points folded) where each sum last left zero. */
  readonly upSince: number
  readonly downSince: number
  /** The estimated first point of the shift behind the last alarm. */
  readonly since: number
  /**
   * Squared deviations and degrees of freedom of the warm-ups before the last reset: a shift moves the level,
   * not the noise, so the standard deviation is pooled over every segment (a new warm-up alone is short).
   */
  readonly pooledM2: number
  readonly pooledDf: number
}

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => ({
  k: check.positive("Cusum", "k", options?.k ?? 0.5),
  h: check.positive("Cusum", "h", options?.h ?? 8),
  clip: check.positive("Cusum", "clip", options?.clip ?? 3),
  warmup: check.integerAtLeast("Cusum", "warmup", options?.warmup ?? 30, 5),
  count: 0,
  mean: 0,
  m2: 0,
  sd: Number.NaN,
  up: 0,
  down: 0,
  upSince: 0,
  downSince: 0,
  since: -1,
  pooledM2: 0,
  pooledDf: 0,
  signal: 0,
  score: 0,
  n: 0,
  skipped: 0
})

/**
 * Folds one point, in place; returns the state (`signal` set on a shift, after which a new warm-up starts).
 *
 * @since 0.1.0
 * @category streaming
 */
export const update = (state: State, value: number): State => {
  const s = state as Types.Mutable<State>
  s.signal = 0
  if (!Number.isFinite(value)) {
    s.skipped++
    return state
  }
  const index = s.n
  s.n++
  if (s.count < s.warmup) {
    fold(s, value)
    s.score = 0
    return state
  }
  const sd = Math.max(Math.sqrt((s.m2 + s.pooledM2) / (s.count - 1 + s.pooledDf)), Math.abs(s.mean) * 1e-9, 1e-12)
  s.sd = sd
  // Self-starting: the point is scored against the mean of the points before it (a predictive z-score), and
  // then joins them (winsorized), so the reference level sharpens while the series stays in control.
  const scale = sd * Math.sqrt(1 + 1 / s.count)
  let z = (value - s.mean) / scale
  if (z > s.clip) z = s.clip
  else if (z < -s.clip) z = -s.clip
  if (s.up === 0) s.upSince = index
  if (s.down === 0) s.downSince = index
  s.up = Math.max(0, s.up + z - s.k)
  s.down = Math.max(0, s.down - z - s.k)
  s.score = s.up >= s.down ? s.up : -s.down
  if (s.up > s.h || s.down > s.h) {
    s.signal = s.up > s.h ? 1 : -1
    s.since = s.up > s.h ? s.upSince : s.downSince
    reset(s)
  } else fold(s, s.mean + z * scale)
  return state
}

/** Welford's update of the segment's mean and squared deviations. */
const fold = (s: Types.Mutable<State>, value: number): void => {
  s.count++
  const d = value - s.mean
  s.mean += d / s.count
  s.m2 += d * (value - s.mean)
}

/**
 * Starts a new warm-up (forgets the level and the sums; the noise estimate is pooled into the next), keeping
 * the options and the last alarm's `since`.
 *
 * @since 0.1.0
 * @category streaming
 */
export const reset = (state: State): State => {
  const s = state as Types.Mutable<State>
  if (s.count >= s.warmup) {
    s.pooledM2 += s.m2
    s.pooledDf += s.count - 1
  }
  s.count = 0
  s.mean = 0
  s.m2 = 0
  s.sd = Number.NaN
  s.up = 0
  s.down = 0
  return state
}

/**
 * CUSUM as a detector value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const detector = (options?: Options): Detection.Detector<State> => {
  make(options)
  return { name: "cusum", kind: "shift", make: () => make(options), update, since: (s) => s.since }
}

/**
 * The level shifts of a whole series (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const detect = (values: ArrayLike<number>, options?: Options): Array<Detection.Alarm> => {
  const { k, h, clip, warmup } = make(options)
  const xs = check.series("Cusum", values)
  const alarms: Array<Detection.Alarm> = []
  let start = 0
  let pooledM2 = 0
  let pooledDf = 0
  while (start + warmup < xs.length) {
    // The segment's points as the detector saw them (in-control points winsorized), to recompute its statistics.
    const seen = Array.from({ length: warmup }, (_, i) => xs[start + i]!)
    let up = 0
    let down = 0
    let upSince = 0
    let downSince = 0
    let next = xs.length
    for (let i = start + warmup; i < xs.length; i++) {
      const mean = seen.reduce((a, b) => a + b, 0) / seen.length
      const m2 = seen.reduce((a, b) => a + (b - mean) ** 2, 0)
      const sd = Math.max(Math.sqrt((m2 + pooledM2) / (seen.length - 1 + pooledDf)), Math.abs(mean) * 1e-9, 1e-12)
      const scale = sd * Math.sqrt(1 + 1 / seen.length)
      const z = Math.min(clip, Math.max(-clip, (xs[i]! - mean) / scale))
      if (up === 0) upSince = i
      if (down === 0) downSince = i
      up = Math.max(0, up + z - k)
      down = Math.max(0, down - z - k)
      if (up > h || down > h) {
        const isUp = up > h
        alarms.push({
          index: i,
          kind: "shift",
          direction: isUp ? "up" : "down",
          value: xs[i]!,
          score: isUp ? up : -down,
          since: isUp ? upSince : downSince
        })
        pooledM2 += m2
        pooledDf += seen.length - 1
        next = i + 1
        break
      }
      seen.push(mean + z * scale)
    }
    start = next
  }
  return alarms
}
