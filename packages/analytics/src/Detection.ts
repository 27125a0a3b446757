/**
 * What the anomaly and change detectors share: an alarm, the streaming contract (`make`, `update`; after an
 * update the state's `signal` is 1 for an alarm upward, -1 downward, 0 for none, and `score` is the statistic
 * behind it), and a batch helper. Every detector has a warm-up: it raises nothing before `warmup` points
 * (after a reset too), so a cold start is not an anomaly.
 *
 * @since 0.1.0
 */

/**
 * What a detector found at `index`: a `spike` (one point far from its neighbours: robust z-score), a `shift`
 * (a change of level: CUSUM or Page-Hinkley, with `since`, the estimated first point of the new level) or an
 * `out_of_control` excursion of the EWMA control chart.
 *
 * @since 0.1.0
 * @category models
 */
export interface Alarm {
  readonly index: number
  readonly kind: "spike" | "shift" | "out_of_control"
  readonly direction: "up" | "down"
  readonly value: number
  readonly score: number
  readonly since: number
}

/**
 * The fields every detector state shows after an update.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signal {
  /** 1: an alarm upward at the last point; -1: downward; 0: none. */
  readonly signal: -1 | 0 | 1
  /** The detector's statistic at the last point (a z-score, a cumulative sum). */
  readonly score: number
  /** Points folded in. */
  readonly n: number
  /** Non-finite points skipped. */
  readonly skipped: number
}

/**
 * A detector as a value, so generic code (the batch helper, the benchmark) runs any of them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Detector<S extends Signal> {
  readonly name: string
  readonly kind: Alarm["kind"]
  readonly make: () => S
  readonly update: (state: S, value: number) => S
  /** The estimated first point of the change behind the last alarm (its index when the detector has none). */
  readonly since?: (state: S) => number
}

/**
 * Streams a series through a detector and collects its alarms.
 *
 * @since 0.1.0
 * @category batch
 */
export const run = <S extends Signal>(detector: Detector<S>, values: ArrayLike<number>): Array<Alarm> => {
  const state = detector.make()
  const alarms: Array<Alarm> = []
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!
    detector.update(state, value)
    if (state.signal !== 0) {
      alarms.push({
        index: i,
        kind: detector.kind,
        direction: state.signal > 0 ? "up" : "down",
        value,
        score: state.score,
        since: detector.since === undefined ? i : detector.since(state)
      })
    }
  }
  return alarms
}
