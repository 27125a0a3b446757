/**
 * The EWMA control chart: after a warm-up that fixes the in-control mean and standard deviation, the
 * statistic z = lambda·x + (1 - lambda)·z leaves the control limits mean +/- width·sd·sqrt(lambda/(2 - lambda)
 * ·(1 - (1 - lambda)^(2t))) on a sustained excursion (small shifts and drifts that a z-score misses). An
 * excursion raises one `out_of_control` alarm and starts a new warm-up.
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import type * as Detection from "./Detection.js"
import * as check from "./internal/check.js"

/**
 * Options: `lambda` (smoothing, in (0, 1], default 0.2), `width` (limits in standard deviations of the
 * statistic, default 3.5), `warmup` points (>= 5, default 30).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly lambda?: number
  readonly width?: number
  readonly warmup?: number
}

/**
 * The streaming state.
 *
 * @since 0.1.0
 * @category models
 */
export interface State extends Detection.Signal {
  readonly lambda: number
  readonly width: number
  readonly warmup: number
  readonly count: number
  readonly mean: number
  readonly m2: number
  readonly sd: number
  /** The EWMA statistic and the current control limits. */
  readonly statistic: number
  readonly lower: number
  readonly upper: number
  /** (1 - lambda)^(2t), for the limits' start-up factor. */
  readonly decay: number
}

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => ({
  lambda: check.unitInterval("EwmaControl", "lambda", options?.lambda ?? 0.2),
  width: check.positive("EwmaControl", "width", options?.width ?? 3.5),
  warmup: check.integerAtLeast("EwmaControl", "warmup", options?.warmup ?? 30, 5),
  count: 0,
  mean: 0,
  m2: 0,
  sd: Number.NaN,
  statistic: Number.NaN,
  lower: Number.NEGATIVE_INFINITY,
  upper: Number.POSITIVE_INFINITY,
  decay: 1,
  signal: 0,
  score: 0,
  n: 0,
  skipped: 0
})

/**
 * Folds one point, in place; returns the state.
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
  s.n++
  if (s.count < s.warmup) {
    s.count++
    const d = value - s.mean
    s.mean += d / s.count
    s.m2 += d * (value - s.mean)
    if (s.count === s.warmup) {
      s.sd = Math.max(Math.sqrt(s.m2 / (s.count - 1)), Math.abs(s.mean) * 1e-9, 1e-12)
      s.statistic = s.mean
      s.decay = 1
    }
    s.score = 0
    return state
  }
  const l = s.lambda
  s.statistic = l * value + (1 - l) * s.statistic
  s.decay *= (1 - l) * (1 - l)
  const sdStat = s.sd * Math.sqrt((l / (2 - l)) * (1 - s.decay))
  s.lower = s.mean - s.width * sdStat
  s.upper = s.mean + s.width * sdStat
  s.score = (s.statistic - s.mean) / sdStat
  if (s.statistic > s.upper || s.statistic < s.lower) {
    s.signal = s.statistic > s.upper ? 1 : -1
    reset(s)
  }
  return state
}

/**
 * Starts a new warm-up, keeping the options.
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
  s.statistic = Number.NaN
  s.lower = Number.NEGATIVE_INFINITY
  s.upper = Number.POSITIVE_INFINITY
  return state
}

/**
 * The EWMA control chart as a detector value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const detector = (options?: Options): Detection.Detector<State> => {
  make(options)
  return { name: "ewma_control", kind: "out_of_control", make: () => make(options), update }
}

/**
 * The excursions of a whole series, each segment's baseline recomputed from its warm-up and the statistic and
 * limits from their closed forms (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const detect = (values: ArrayLike<number>, options?: Options): Array<Detection.Alarm> => {
  const { lambda, width, warmup } = make(options)
  const xs = check.series("EwmaControl", values)
  const alarms: Array<Detection.Alarm> = []
  let start = 0
  while (start + warmup < xs.length) {
    const base = Array.from({ length: warmup }, (_, i) => xs[start + i]!)
    const mean = base.reduce((a, b) => a + b, 0) / warmup
    const sd = Math.max(
      Math.sqrt(base.reduce((a, b) => a + (b - mean) ** 2, 0) / (warmup - 1)),
      Math.abs(mean) * 1e-9,
      1e-12
    )
    let statistic = mean
    let next = xs.length
    for (let i = start + warmup; i < xs.length; i++) {
      const t = i - (start + warmup) + 1
      statistic = lambda * xs[i]! + (1 - lambda) * statistic
      const sdStat = sd * Math.sqrt((lambda / (2 - lambda)) * (1 - (1 - lambda) ** (2 * t)))
      if (Math.abs(statistic - mean) > width * sdStat) {
        alarms.push({
          index: i,
          kind: "out_of_control",
          direction: statistic > mean ? "up" : "down",
          value: xs[i]!,
          score: (statistic - mean) / sdStat,
          since: i
        })
        next = i + 1
        break
      }
    }
    start = next
  }
  return alarms
}
