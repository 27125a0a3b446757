/**
 * An ensemble of the forecasters (naive, SMA, EWMA, Holt, linear trend, and Holt-Winters when a
 * `seasonLength` is given), weighted by their recent accuracy: each member's weight is
 * 1 / (rolling MAE)^power over its one-step errors, so the member that has been right lately dominates (on a
 * random walk the naive member, on a daily season Holt-Winters). The ensemble's interval comes from its own
 * one-step residuals; its h-step widening is the weighted mean of the members' factors.
 *
 * One `update` runs every member and costs O(1) (O(members)) without allocating.
 *
 * @example
 * ```ts
 * import { Ensemble } from "@effect-dspy/analytics"
 *
 * const state = Ensemble.make({ seasonLength: 24 })
 * for (let i = 0; i < 24 * 14; i++) Ensemble.update(state, 100 + i * 0.1 + 20 * Math.sin((2 * Math.PI * i) / 24))
 * const { mean, lower, upper } = Ensemble.forecast(state, 6) // six points ahead, with a 95% interval
 * const weights = Ensemble.weights(state) // Holt-Winters carries most of the weight
 * ```
 *
 * @since 0.1.0
 */
import type * as Types from "effect/Types"
import * as Ewma from "./Ewma.js"
import * as Forecast from "./Forecast.js"
import * as Holt from "./Holt.js"
import * as HoltWinters from "./HoltWinters.js"
import * as check from "./internal/check.js"
import * as factors from "./internal/factors.js"
import * as means from "./internal/means.js"
import * as Spread from "./internal/spread.js"
import * as LinearTrend from "./LinearTrend.js"
import * as Naive from "./Naive.js"
import * as Sma from "./Sma.js"

/**
 * The members, in the order of `weights`.
 *
 * @since 0.1.0
 * @category models
 */
export const members = ["naive", "sma", "ewma", "holt", "linear_trend", "holt_winters"] as const

/**
 * A member's name.
 *
 * @since 0.1.0
 * @category models
 */
export type Member = (typeof members)[number]

/**
 * Options: `seasonLength` adds Holt-Winters; the members' own parameters (`window`: the SMA's, default 20, the
 * linear trend's is 3·window; `ewmaAlpha`, default 0.3; `holt`; `holtWinters`); `errorDecay` (the weight of a new
 * absolute error in each member's rolling MAE, default 0.02, about 50 points); `power` of the inverse MAE
 * (default 8: the recently best member dominates); `warmup` (errors a member needs before it gets a weight,
 * default 5); and the intervals (the members' and the ensemble's).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Forecast.IntervalOptions {
  readonly seasonLength?: number
  readonly window?: number
  readonly ewmaAlpha?: number
  readonly holt?: { readonly alpha?: number; readonly beta?: number }
  readonly holtWinters?: { readonly alpha?: number; readonly beta?: number; readonly gamma?: number }
  readonly errorDecay?: number
  readonly power?: number
  readonly warmup?: number
}

/**
 * The streaming state: the members' states, their rolling MAE and error counts, and the ensemble's residual
 * spread.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly naive: Naive.State
  readonly sma: Sma.State
  readonly ewma: Ewma.State
  readonly holt: Holt.State
  readonly linearTrend: LinearTrend.State
  readonly holtWinters: HoltWinters.State | undefined
  /** Rolling MAE per member (order of `members`). */
  readonly mae: Float64Array
  /** One-step errors seen per member. */
  readonly errors: Float64Array
  readonly errorDecay: number
  readonly power: number
  readonly warmup: number
  readonly n: number
  readonly skipped: number
  /** @internal scratch: the members' one-step means */
  readonly means: Float64Array
  /** @internal */
  readonly spread: Spread.Spread
}

const M = members.length

/**
 * A fresh state (throws InvalidOptions on bad options).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): State => {
  const window = options?.window ?? 20
  const interval: Forecast.IntervalOptions = {
    ...(options?.confidence === undefined ? {} : { confidence: options.confidence }),
    ...(options?.residualDecay === undefined ? {} : { residualDecay: options.residualDecay }),
    ...(options?.adapt === undefined ? {} : { adapt: options.adapt })
  }
  return {
    naive: Naive.make(interval),
    sma: Sma.make({ ...interval, window }),
    ewma: Ewma.make({ ...interval, alpha: options?.ewmaAlpha ?? 0.3 }),
    holt: Holt.make({ ...interval, ...options?.holt }),
    linearTrend: LinearTrend.make({ ...interval, window: Math.max(2, 3 * window) }),
    holtWinters:
      options?.seasonLength === undefined
        ? undefined
        : HoltWinters.make({ ...interval, ...options.holtWinters, seasonLength: options.seasonLength }),
    mae: new Float64Array(M),
    errors: new Float64Array(M),
    errorDecay: check.unitInterval("Ensemble", "errorDecay", options?.errorDecay ?? 0.02),
    power: check.positive("Ensemble", "power", options?.power ?? 8),
    warmup: check.integerAtLeast("Ensemble", "warmup", options?.warmup ?? 5, 1),
    n: 0,
    skipped: 0,
    means: new Float64Array(M),
    spread: Spread.make(Spread.fromOptions("Ensemble", options))
  }
}

const fillMeans = (s: State): void => {
  const m = s.means
  m[0] = means.naive(s.naive)
  m[1] = means.sma(s.sma)
  m[2] = means.ewma(s.ewma)
  m[3] = means.holt(s.holt)
  m[4] = means.linear(s.linearTrend)
  m[5] = s.holtWinters === undefined ? Number.NaN : means.holtWinters(s.holtWinters)
}

/** x^p, by squaring for a small integer p (the default 8: three multiplications instead of a pow). */
const power = (x: number, p: number): number => {
  if (p === 8) {
    const x2 = x * x
    const x4 = x2 * x2
    return x4 * x4
  }
  return x ** p
}

/** The weight of member i now (0 while it has no mean or too few errors). */
const weightOf = (s: State, i: number, mean: number): number => {
  if (Number.isNaN(mean) || s.errors[i]! < s.warmup) return 0
  return 1 / (power(s.mae[i]!, s.power) + 1e-300)
}

/** The weighted mean of `values` (the first finite value when no member has a weight yet). */
const combine = (s: State, values: Float64Array): number => {
  let total = 0
  let sum = 0
  for (let i = 0; i < M; i++) {
    const w = weightOf(s, i, values[i]!)
    if (w === 0) continue
    total += w
    sum += w * values[i]!
  }
  if (total > 0) return sum / total
  for (let i = 0; i < M; i++) if (!Number.isNaN(values[i]!)) return values[i]!
  return Number.NaN
}

/**
 * Folds one point into every member and the ensemble's errors, in place; returns the state.
 *
 * @since 0.1.0
 * @category streaming
 */
export const update = (state: State, value: number): State => {
  const s = state as Types.Mutable<State>
  if (!Number.isFinite(value)) {
    s.skipped++
    return state
  }
  fillMeans(s)
  const mean = combine(s, s.means)
  if (!Number.isNaN(mean)) Spread.observe(s.spread, value, mean)
  const decay = s.errorDecay
  for (let i = 0; i < M; i++) {
    const f = s.means[i]!
    if (Number.isNaN(f)) continue
    const e = Math.abs(value - f)
    const k = s.errors[i]!
    const w = 1 / (k + 1)
    s.mae[i] = k === 0 ? e : s.mae[i]! + Math.max(w, decay) * (e - s.mae[i]!)
    s.errors[i] = k + 1
  }
  Naive.update(s.naive, value)
  Sma.update(s.sma, value)
  Ewma.update(s.ewma, value)
  Holt.update(s.holt, value)
  LinearTrend.update(s.linearTrend, value)
  if (s.holtWinters !== undefined) HoltWinters.update(s.holtWinters, value)
  s.n++
  return state
}

const memberFactors = (s: State, h: number): Float64Array => {
  const out = new Float64Array(M)
  out[0] = factors.naive(h)
  out[1] = 1
  out[2] = factors.ewma(s.ewma.alpha, h)
  out[3] = factors.holt(s.holt.alpha, s.holt.beta, h)
  out[4] = factors.linear(s.linearTrend.count, h)
  const hw = s.holtWinters
  out[5] = hw === undefined ? 1 : factors.holtWinters(hw.alpha, hw.beta, hw.gamma, hw.seasonLength, h)
  return out
}

const memberMeans = (s: State, h: number): Float64Array => {
  const out = new Float64Array(M)
  out[0] = Naive.forecast(s.naive, h).mean
  out[1] = Sma.forecast(s.sma, h).mean
  out[2] = Ewma.forecast(s.ewma, h).mean
  out[3] = Holt.forecast(s.holt, h).mean
  out[4] = LinearTrend.forecast(s.linearTrend, h).mean
  out[5] =
    s.holtWinters === undefined || s.holtWinters.n < s.holtWinters.seasonLength
      ? Number.NaN
      : HoltWinters.forecast(s.holtWinters, h).mean
  return out
}

/**
 * The forecast `horizon` steps after the last point.
 *
 * @since 0.1.0
 * @category streaming
 */
export const forecast = (state: State, horizon: number): Forecast.Forecast => {
  const h = check.horizon("Ensemble", horizon)
  fillMeans(state)
  const current = state.means
  const values = memberMeans(state, h)
  const fs = memberFactors(state, h)
  let total = 0
  let factor = 0
  for (let i = 0; i < M; i++) {
    const w = weightOf(state, i, current[i]!)
    total += w
    factor += w * fs[i]!
  }
  const mean = combineWith(state, current, values)
  return Forecast.make(h, mean, Spread.halfWidth(state.spread, total > 0 ? factor / total : Math.sqrt(h)))
}

/** Combines the h-step `values` with the weights the one-step means `current` give. */
const combineWith = (s: State, current: Float64Array, values: Float64Array): number => {
  let total = 0
  let sum = 0
  for (let i = 0; i < M; i++) {
    const w = weightOf(s, i, current[i]!)
    if (w === 0 || Number.isNaN(values[i]!)) continue
    total += w
    sum += w * values[i]!
  }
  if (total > 0) return sum / total
  for (let i = 0; i < M; i++) if (!Number.isNaN(values[i]!)) return values[i]!
  return Number.NaN
}

/**
 * Each member's current weight (summing to 1 once a member has one; all 0 before).
 *
 * @since 0.1.0
 * @category streaming
 */
export const weights = (state: State): Record<Member, number> => {
  fillMeans(state)
  const ws = members.map((_, i) => weightOf(state, i, state.means[i]!))
  const total = ws.reduce((a, b) => a + b, 0)
  return Object.fromEntries(members.map((name, i) => [name, total > 0 ? ws[i]! / total : 0])) as Record<Member, number>
}

/**
 * A copy of the state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clone = (state: State): State => ({
  ...state,
  naive: Naive.clone(state.naive),
  sma: Sma.clone(state.sma),
  ewma: Ewma.clone(state.ewma),
  holt: Holt.clone(state.holt),
  linearTrend: LinearTrend.clone(state.linearTrend),
  holtWinters: state.holtWinters === undefined ? undefined : HoltWinters.clone(state.holtWinters),
  mae: Float64Array.from(state.mae),
  errors: Float64Array.from(state.errors),
  means: Float64Array.from(state.means),
  spread: Spread.clone(state.spread)
})

/**
 * The ensemble as a forecaster value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecaster = (options?: Options): Forecast.Forecaster<State> => {
  make(options)
  return { name: "ensemble", make: () => make(options), update, forecast }
}

/**
 * The ensemble's forecasts of a whole series, from the members' batch paths: the rolling MAE and the weights
 * are recomputed over those arrays (throws InvalidSeries on a non-finite value).
 *
 * @since 0.1.0
 * @category batch
 */
export const batch = (values: ArrayLike<number>, options?: Options, horizon = 1): Forecast.Batch => {
  const template = make(options)
  const o = Spread.fromOptions("Ensemble", options)
  const xs = check.series("Ensemble", values)
  const n = xs.length
  const H = check.horizon("Ensemble", horizon)
  const hw = template.holtWinters
  const runs: Array<Forecast.Batch | undefined> = [
    Naive.batch(xs, {}, H),
    Sma.batch(xs, { window: template.sma.window }, H),
    Ewma.batch(xs, { alpha: template.ewma.alpha }, H),
    Holt.batch(xs, { alpha: template.holt.alpha, beta: template.holt.beta }, H),
    LinearTrend.batch(xs, { window: template.linearTrend.window }, H),
    hw === undefined
      ? undefined
      : HoltWinters.batch(xs, { seasonLength: hw.seasonLength, alpha: hw.alpha, beta: hw.beta, gamma: hw.gamma }, H)
  ]
  const memberMean = (i: number, t: number): number => {
    const run = runs[i]
    if (run === undefined) return Number.NaN
    // Holt-Winters has no mean of its own until its first season is in.
    if (i === 5 && t < hw!.seasonLength) return Number.NaN
    return run.oneStep.mean[t]!
  }
  const mae = new Float64Array(M)
  const counts = new Float64Array(M)
  const weight = (i: number, f: number): number =>
    Number.isNaN(f) || counts[i]! < template.warmup ? 0 : 1 / (power(mae[i]!, template.power) + 1e-300)
  const mean = new Float64Array(n)
  const current = new Float64Array(M)
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < M; i++) current[i] = memberMean(i, t)
    mean[t] = combineArrays(current, current, weight)
    for (let i = 0; i < M; i++) {
      const f = current[i]!
      if (Number.isNaN(f)) continue
      const e = Math.abs(xs[t]! - f)
      const k = counts[i]!
      mae[i] = k === 0 ? e : mae[i]! + Math.max(1 / (k + 1), template.errorDecay) * (e - mae[i]!)
      counts[i] = k + 1
    }
  }
  const { path, half } = Spread.pathOf(xs, mean, o)
  // The one-step means after the last point decide the weights of the h-step forecasts.
  const last = new Float64Array(M)
  for (let i = 0; i < M; i++) {
    const run = runs[i]
    last[i] = run === undefined || (i === 5 && n < hw!.seasonLength) ? Number.NaN : run.ahead[0]!.mean
  }
  const ahead = Array.from({ length: H }, (_, k) => {
    const h = k + 1
    const values = new Float64Array(M)
    for (let i = 0; i < M; i++) values[i] = Number.isNaN(last[i]!) ? Number.NaN : runs[i]!.ahead[k]!.mean
    const fs = memberFactors(template, h)
    if (hw !== undefined) fs[5] = factors.holtWinters(hw.alpha, hw.beta, hw.gamma, hw.seasonLength, h)
    fs[4] = factors.linear(Math.min(n, template.linearTrend.window), h)
    let total = 0
    let factor = 0
    for (let i = 0; i < M; i++) {
      const w = weight(i, last[i]!)
      total += w
      factor += w * fs[i]!
    }
    return Forecast.make(h, combineArrays(last, values, weight), half * (total > 0 ? factor / total : Math.sqrt(h)))
  })
  return { oneStep: path, ahead }
}

const combineArrays = (
  current: Float64Array,
  values: Float64Array,
  weight: (i: number, current: number) => number
): number => {
  let total = 0
  let sum = 0
  for (let i = 0; i < M; i++) {
    const w = weight(i, current[i]!)
    if (w === 0 || Number.isNaN(values[i]!)) continue
    total += w
    sum += w * values[i]!
  }
  if (total > 0) return sum / total
  for (let i = 0; i < M; i++) if (!Number.isNaN(values[i]!)) return values[i]!
  return Number.NaN
}
