/**
 * The robust z-score: how far a point lies from the median of the previous `window` points, in units of their
 * median absolute deviation (scaled by 1.4826 to estimate a normal standard deviation). A point whose |z|
 * exceeds `threshold` is a spike. Median and MAD ignore the spikes themselves, so one outlier does not hide
 * the next. The window is kept sorted (binary search and a typed-array shift: O(window) per point, a memmove).
 *
 * @example
 * ```ts
 * import { RobustZ } from "@effect-dspy/analytics"
 *
 * const state = RobustZ.make({ window: 30, threshold: 3.5 })
 * for (let i = 0; i < 40; i++) RobustZ.update(state, 10 + (i % 3))
 * RobustZ.update(state, 30)
 * const spike = state.signal === 1 // true
 * ```
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import type * as Detection from "./Detection.js"
import * as check from "./internal/check.js"
import { sortedInsert, sortedMedian, sortedRemove } from "./internal/stats.js"

/**
 * Options: `window` (points, >= 5, default 200), `threshold` (|z| of a spike, default 3.75) and `warmup`
 * (points before the first alarm, >= 5, default 20, at most `window`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly window?: number
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
  readonly window: number
  readonly threshold: number
  readonly warmup: number
  readonly buffer: Float64Array
  readonly sorted: Float64Array
  readonly position: number
  readonly count: number
  /** The median and MAD-based scale behind the last score. */
  readonly median: number
  readonly scale: number
  /**
   * The scale of the window `keepLast` trimmed (NaN when none): a level shift moves the median, not the noise,
   * so until the window refills its scale is blended with this one (a short window's MAD is noisy).
   */
  readonly priorScale: number
}

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => {
  const window = check.integerAtLeast("RobustZ", "window", options?.window ?? 200, 5)
  const warmup = check.integerAtLeast("RobustZ", "warmup", options?.warmup ?? Math.min(20, window), 5)
  if (warmup > window) check.integerAtLeast("RobustZ", "window", window, warmup)
  return {
    window,
    threshold: check.positive("RobustZ", "threshold", options?.threshold ?? 3.75),
    warmup,
    buffer: new Float64Array(window),
    sorted: new Float64Array(window),
    position: 0,
    count: 0,
    median: Number.NaN,
    scale: Number.NaN,
    priorScale: Number.NaN,
    signal: 0,
    score: 0,
    n: 0,
    skipped: 0
  }
}

/** The MAD of the ascending `sorted[0..n)` around `median`: merge the deviations of both halves. */
const madOf = (sorted: Float64Array, n: number, median: number): number => {
  let lo = (n - 1) >> 1
  let hi = lo + 1
  const target = n >> 1
  let last = 0
  let prev = 0
  for (let k = 0; k <= target; k++) {
    const dl = lo >= 0 ? median - sorted[lo]! : Number.POSITIVE_INFINITY
    const dh = hi < n ? sorted[hi]! - median : Number.POSITIVE_INFINITY
    prev = last
    if (dl <= dh) {
      last = dl
      lo--
    } else {
      last = dh
      hi++
    }
  }
  return n % 2 === 1 ? last : (prev + last) / 2
}

/** Smallest scale a window can have (a constant window): relative to the median's magnitude. */
const floorOf = (median: number): number => Math.max(Math.abs(median) * 1e-9, 1e-12)

/**
 * Scores one point against the window, then adds it to the window; in place, returns the state.
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
  if (s.count >= s.warmup) {
    const median = sortedMedian(s.sorted, s.count)
    const own = Math.max(1.4826 * madOf(s.sorted, s.count, median), floorOf(median))
    const scale =
      Number.isNaN(s.priorScale) || s.count >= s.window
        ? own
        : (s.count * own + (s.window - s.count) * s.priorScale) / s.window
    const z = (value - median) / scale
    s.median = median
    s.scale = scale
    s.score = z
    if (z > s.threshold) s.signal = 1
    else if (z < -s.threshold) s.signal = -1
  } else s.score = 0
  if (s.count === s.window) {
    s.count = sortedRemove(s.sorted, s.count, s.buffer[s.position]!)
  }
  s.count = sortedInsert(s.sorted, s.count, value)
  s.buffer[s.position] = value
  s.position = s.position + 1 === s.window ? 0 : s.position + 1
  s.n++
  return state
}

/**
 * Empties the window (a new warm-up), keeping the options; in place, returns the state.
 *
 * @since 0.1.0
 * @category streaming
 */
export const reset = (state: State): State => {
  const s = state as Types.Mutable<State>
  s.count = 0
  s.position = 0
  s.signal = 0
  s.score = 0
  s.priorScale = Number.NaN
  return state
}

/**
 * The robust z-score as a detector value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const detector = (options?: Options): Detection.Detector<State> => {
  make(options)
  return { name: "robust_z", kind: "spike", make: () => make(options), update }
}

/**
 * The spikes of a whole series: each point scored against the median and MAD of a freshly sorted copy of its
 * window (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const detect = (values: ArrayLike<number>, options?: Options): Array<Detection.Alarm> => {
  const { window, warmup, threshold } = make(options)
  const xs = check.series("RobustZ", values)
  const alarms: Array<Detection.Alarm> = []
  const med = (a: Array<number>) => {
    const h = a.length >> 1
    return a.length % 2 === 1 ? a[h]! : (a[h - 1]! + a[h]!) / 2
  }
  for (let i = warmup; i < xs.length; i++) {
    const win = Array.from({ length: Math.min(i, window) }, (_, k) => xs[i - Math.min(i, window) + k]!)
    win.sort((a, b) => a - b)
    const median = med(win)
    const deviations = win.map((x) => Math.abs(x - median)).sort((a, b) => a - b)
    const scale = Math.max(1.4826 * med(deviations), floorOf(median))
    const z = (xs[i]! - median) / scale
    if (Math.abs(z) > threshold) {
      alarms.push({ index: i, kind: "spike", direction: z > 0 ? "up" : "down", value: xs[i]!, score: z, since: i })
    }
  }
  return alarms
}

/**
 * Keeps only the `keep` most recent points of the window (e.g. those after a level shift), so the median and
 * MAD describe the new level; a new warm-up applies when fewer than `warmup` remain. In place, returns the state.
 *
 * @since 0.1.0
 * @category streaming
 */
export const keepLast = (state: State, keep: number): State => {
  const s = state as Types.Mutable<State>
  if (s.count >= s.warmup) {
    const median = sortedMedian(s.sorted, s.count)
    s.priorScale = Math.max(1.4826 * madOf(s.sorted, s.count, median), floorOf(median))
  }
  const k = Math.max(0, Math.min(s.count, Math.floor(keep)))
  const recent = new Float64Array(k)
  for (let i = 0; i < k; i++) recent[i] = s.buffer[(s.position - k + i + 2 * s.window) % s.window]!
  s.count = 0
  s.position = 0
  for (let i = 0; i < k; i++) {
    s.count = sortedInsert(s.sorted, s.count, recent[i]!)
    s.buffer[i] = recent[i]!
  }
  s.position = k === s.window ? 0 : k
  return state
}
