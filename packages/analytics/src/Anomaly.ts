/**
 * The anomaly detector a metric series wants: the robust z-score for spikes and CUSUM for level shifts, run
 * together. A shift re-bases the spike detector on the points since the shift, so a new level is not a run of
 * spikes (though the first points of a large shift are reported as spikes until CUSUM confirms it, one to three
 * points later). Both have warm-ups: nothing is raised before `warmup` points (default 30).
 *
 * @example
 * ```ts
 * import { Anomaly } from "@effect-dspy/analytics"
 *
 * const series = Array.from({ length: 200 }, (_, i) => 100 + Math.sin(i * 1.7) + (i === 120 ? 12 : 0))
 * const alarms = Anomaly.detect(series) // one spike at index 120
 * ```
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import * as Cusum from "./Cusum.js"
import type * as Detection from "./Detection.js"
import * as check from "./internal/check.js"
import * as RobustZ from "./RobustZ.js"

/**
 * Options: each detector's, and one `warmup` for both (default 30; overrides theirs).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly spikes?: RobustZ.Options
  readonly shifts?: Cusum.Options
  readonly warmup?: number
}

/**
 * The streaming state: both detectors, and what the last point raised.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly spikes: RobustZ.State
  readonly shifts: Cusum.State
  /** The alarms of the last point (a spike, or a shift), empty when none. */
  readonly alarms: ReadonlyArray<Detection.Alarm>
  readonly n: number
  readonly skipped: number
}

const none: ReadonlyArray<Detection.Alarm> = []

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => {
  const warmup = check.integerAtLeast("Anomaly", "warmup", options?.warmup ?? 30, 5)
  return {
    spikes: RobustZ.make({ ...options?.spikes, warmup: Math.min(warmup, options?.spikes?.window ?? 200) }),
    shifts: Cusum.make({ ...options?.shifts, warmup }),
    alarms: none,
    n: 0,
    skipped: 0
  }
}

/**
 * Folds one point into both detectors, in place; returns the state (its `alarms` are the last point's).
 *
 * @since 0.1.0
 * @category streaming
 */
export const update = (state: State, value: number): State => {
  const s = state as Types.Mutable<State>
  s.alarms = none
  if (!Number.isFinite(value)) {
    s.skipped++
    return state
  }
  const index = s.n
  s.n++
  RobustZ.update(s.spikes, value)
  Cusum.update(s.shifts, value)
  const spike = s.spikes.signal
  const shift = s.shifts.signal
  if (spike === 0 && shift === 0) return state
  const alarms: Array<Detection.Alarm> = []
  if (shift !== 0) {
    alarms.push({
      index,
      kind: "shift",
      direction: shift > 0 ? "up" : "down",
      value,
      score: s.shifts.score,
      since: s.shifts.since
    })
    RobustZ.keepLast(s.spikes, index + 1 - s.shifts.since)
  }
  // A spike at the very point that confirms a shift is the shift itself.
  if (spike !== 0 && shift === 0) {
    alarms.push({
      index,
      kind: "spike",
      direction: spike > 0 ? "up" : "down",
      value,
      score: s.spikes.score,
      since: index
    })
  }
  s.alarms = alarms
  return state
}

/**
 * The alarms of a whole series, streamed through a fresh detector (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const detect = (values: ArrayLike<number>, options?: Options): Array<Detection.Alarm> => {
  const xs = check.series("Anomaly", values)
  const state = make(options)
  const out: Array<Detection.Alarm> = []
  for (let i = 0; i < xs.length; i++) out.push(...update(state, xs[i]!).alarms)
  return out
}
