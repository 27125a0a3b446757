/**
 * The Page-Hinkley change-point test, two-sided. After a warm-up that fixes the scale (standard deviation),
 * it accumulates m = sum of (x - running mean - delta) upward and downward (in standard deviations) and
 * alarms when a sum rises more than `threshold` above its minimum. Simpler than CUSUM (no fixed reference
 * level: the running mean since the last reset), slower on small shifts.
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import type * as Detection from "./Detection.js"
import * as check from "./internal/check.js"

/**
 * Options in warm-up standard deviations: `delta` (tolerated drift per point, default 0.5), `threshold`
 * (default 10); `warmup` points (>= 5, default 30).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly delta?: number
  readonly threshold?: number
  readonly warmup?: number
}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State extends Detection.Signal {
  readonly delta: number
  readonly threshold: number
  readonly warmup: number
  readonly count: number
  readonly mean: number
  readonly m2: number
  readonly sd: number
  readonly up: number
  readonly upMin: number
  readonly down: number
  readonly downMin: number
  readonly upSince: number
  readonly downSince: number
  readonly since: number
}

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => ({
  delta: check.positive("PageHinkley", "delta", options?.delta ?? 0.5),
  threshold: check.positive("PageHinkley", "threshold", options?.threshold ?? 10),
  warmup: check.integerAtLeast("PageHinkley", "warmup", options?.warmup ?? 30, 5),
  count: 0,
  mean: 0,
  m2: 0,
  sd: Number.NaN,
  up: 0,
  upMin: 0,
  down: 0,
  downMin: 0,
  upSince: 0,
  downSince: 0,
  since: -1,
  signal: 0,
  score: 0,
  n: 0,
  skipped: 0
})

/**
 * Folds one point, in place; returns the state (`signal` set on a change, after which a new warm-up starts).
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
  s.count++
  const d = value - s.mean
  s.mean += d / s.count
  if (s.count <= s.warmup) {
    s.m2 += d * (value - s.mean)
    if (s.count === s.warmup) s.sd = Math.max(Math.sqrt(s.m2 / (s.count - 1)), Math.abs(s.mean) * 1e-9, 1e-12)
    s.score = 0
    return state
  }
  const z = (value - s.mean) / s.sd
  s.up += z - s.delta
  s.down += -z - s.delta
  if (s.up <= s.upMin) {
    s.upMin = s.up
    s.upSince = index + 1
  }
  if (s.down <= s.downMin) {
    s.downMin = s.down
    s.downSince = index + 1
  }
  const up = s.up - s.upMin
  const down = s.down - s.downMin
  s.score = up >= down ? up : -down
  if (up > s.threshold || down > s.threshold) {
    s.signal = up > s.threshold ? 1 : -1
    s.since = up > s.threshold ? s.upSince : s.downSince
    reset(s)
  }
  return state
}

/**
 * Starts a new warm-up, keeping the options and the last alarm's `since`.
 *
 * @since 0.1.0
 * @category streaming
 */
export const reset = (state: State): State => {
  const s = state as Types.Mutable<State>
  s.count = 0
  s.mean = 0
  s.m2 = 0
  s.sd = Number.NaN
  s.up = 0
  s.upMin = 0
  s.down = 0
  s.downMin = 0
  return state
}

/**
 * Page-Hinkley as a detector value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const detector = (options?: Options): Detection.Detector<State> => {
  make(options)
  return { name: "page_hinkley", kind: "shift", make: () => make(options), update, since: (s) => s.since }
}

/**
 * The changes of a whole series, each segment's statistics recomputed from its points (throws InvalidSeries on
 * a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const detect = (values: ArrayLike<number>, options?: Options): Array<Detection.Alarm> => {
  const { delta, threshold, warmup } = make(options)
  const xs = check.series("PageHinkley", values)
  const alarms: Array<Detection.Alarm> = []
  let start = 0
  while (start + warmup < xs.length) {
    const base = Array.from({ length: warmup }, (_, i) => xs[start + i]!)
    const baseMean = base.reduce((a, b) => a + b, 0) / warmup
    const sd = Math.max(
      Math.sqrt(base.reduce((a, b) => a + (b - baseMean) ** 2, 0) / (warmup - 1)),
      Math.abs(baseMean) * 1e-9,
      1e-12
    )
    let sum = baseMean * warmup
    let up = 0
    let upMin = 0
    let down = 0
    let downMin = 0
    let upSince = 0
    let downSince = 0
    let next = xs.length
    for (let i = start + warmup; i < xs.length; i++) {
      sum += xs[i]!
      const mean = sum / (i - start + 1)
      const z = (xs[i]! - mean) / sd
      up += z - delta
      down += -z - delta
      if (up <= upMin) {
        upMin = up
        upSince = i + 1
      }
      if (down <= downMin) {
        downMin = down
        downSince = i + 1
      }
      if (up - upMin > threshold || down - downMin > threshold) {
        const isUp = up - upMin > threshold
        alarms.push({
          index: i,
          kind: "shift",
          direction: isUp ? "up" : "down",
          value: xs[i]!,
          score: isUp ? up - upMin : -(down - downMin),
          since: isUp ? upSince : downSince
        })
        next = i + 1
        break
      }
    }
    start = next
  }
  return alarms
}
