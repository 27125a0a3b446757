/**
 * The real-time loop's policy, as plain data and pure functions the loop's process runs: per module, a
 * {@link Watch} of the serving version (a frozen baseline of its first rewards, a sliding window of recent
 * rewards, errors and latencies, the labelled experiences since the last job), the rules that fire on it, the
 * guard rails that may hold a fired rule, and the adaptive thresholds.
 *
 * Rules (in order): `degradation` (at least `minSamples` rewards in the window and the window's mean below the
 * baseline by the rule's threshold, relative, and by `absoluteDrop`; it re-arms only once quality is back above
 * the threshold by `hysteresis`), `errors` (the window's error rate above `maxErrorRate`), `latency` (the
 * window's p95 above `maxLatencyP95Ms`, when set), `interval` (`reoptimizeIntervalMs` since the last job and
 * `minNewLabelled` new labelled experiences). Guard rails: a job or canary of the module in progress, the
 * cooldown after the module's last job, `maxConcurrentJobs`, the daily LM-call and cost budgets per module and
 * overall. Adaptive threshold: after `adapt.k` rejected jobs in a row a rule's relative threshold rises by
 * `adapt.step`, after an accepted one it falls by a step, clamped to `[adapt.min, adapt.max]`.
 *
 * @example
 * ```ts
 * import { LoopPolicy } from "@effect-dspy/services"
 *
 * const settings = LoopPolicy.settings({ enabled: true, minSamples: 50 })
 * const watch = LoopPolicy.watch("qa", 1, settings)
 * for (let i = 0; i < 200; i++) LoopPolicy.observe(watch, settings, { reward: i < 100 ? 1 : 0, ok: true, latencyMs: 10 })
 * LoopPolicy.fire(watch, settings, 0) // { rule: "degradation", reason: "..." }
 * ```
 *
 * @since 0.1.0
 */
import { LoopSettingsInvalid } from "../ServicesError.js"

/**
 * The policy's settings (see the module documentation); {@link defaults} for each.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Whether the policy acts (default false: experiences and feedback are recorded, no job starts by itself). */
  readonly enabled: boolean
  /** Rewards in the sliding window (default 200). */
  readonly window: number
  /** Rewards the window needs before the degradation rule may fire (default 100). */
  readonly minSamples: number
  /** The first rewards of a version that make its baseline (default 300). */
  readonly baselineSamples: number
  /** The degradation rule's initial relative threshold (default 0.15: 15% below the baseline). */
  readonly relativeDrop: number
  /** The least absolute drop that fires (default 0.05). */
  readonly absoluteDrop: number
  /** How far above the threshold quality must come back to re-arm a rule (default 0.03). */
  readonly hysteresis: number
  /** The error rate that fires the `errors` rule (default 0.25). */
  readonly maxErrorRate: number
  /** The latency p95 that fires the `latency` rule (default none). */
  readonly maxLatencyP95Ms: number | undefined
  /** Time since the last job after which enough new data fires the `interval` rule (default 24 h). */
  readonly reoptimizeIntervalMs: number
  /** New labelled experiences the `interval` rule needs (default 200). */
  readonly minNewLabelled: number
  /** No job for a module within this time after its last one (default 10 minutes). */
  readonly cooldownMs: number
  /** Automatic jobs at once, overall (default 1). */
  readonly maxConcurrentJobs: number
  /** LM calls a day, per module and overall (defaults 20,000 and 50,000). */
  readonly dailyLmCalls: { readonly perModule: number; readonly overall: number }
  /** Cost a day in US dollars, per module and overall (defaults 5 and 20). */
  readonly dailyCostUsd: { readonly perModule: number; readonly overall: number }
  /** Threshold adaptation: `k` rejections in a row raise by `step`; an acceptance lowers; clamped to [min, max]. */
  readonly adapt: { readonly k: number; readonly step: number; readonly min: number; readonly max: number }
  /** The most recent labelled experiences a job trains on (default 160; a quarter is held out as its valset). */
  readonly trainSize: number
  /** The least labelled experiences a job needs (default 40). */
  readonly minTrainSize: number
  /** The optimizer registry's name run by jobs (default `adaptive`: the AdaptiveOptimizer picks). */
  readonly optimizer: string
  /** The canary: its traffic share, the rewards per arm before a decision, the most before deciding anyway. */
  readonly canary: { readonly fraction: number; readonly minRewards: number; readonly maxRewards: number }
}

/**
 * The default settings.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Settings = {
  enabled: false,
  window: 200,
  minSamples: 100,
  baselineSamples: 300,
  relativeDrop: 0.15,
  absoluteDrop: 0.05,
  hysteresis: 0.03,
  maxErrorRate: 0.25,
  maxLatencyP95Ms: undefined,
  reoptimizeIntervalMs: 24 * 60 * 60 * 1000,
  minNewLabelled: 200,
  cooldownMs: 10 * 60 * 1000,
  maxConcurrentJobs: 1,
  dailyLmCalls: { perModule: 20_000, overall: 50_000 },
  dailyCostUsd: { perModule: 5, overall: 20 },
  adapt: { k: 2, step: 0.05, min: 0.05, max: 0.5 },
  trainSize: 160,
  minTrainSize: 40,
  optimizer: "adaptive",
  canary: { fraction: 0.5, minRewards: 30, maxRewards: 1500 }
}

/**
 * Settings over the defaults, checked: a bad value is a `LoopSettingsInvalid` naming the field (thrown; the
 * application turns it into its start failure).
 *
 * @since 0.1.0
 * @category constructors
 */
export const settings = (
  patch: Partial<Omit<Settings, "dailyLmCalls" | "dailyCostUsd" | "adapt" | "canary">> & {
    readonly dailyLmCalls?: Partial<Settings["dailyLmCalls"]>
    readonly dailyCostUsd?: Partial<Settings["dailyCostUsd"]>
    readonly adapt?: Partial<Settings["adapt"]>
    readonly canary?: Partial<Settings["canary"]>
  } = {}
): Settings => {
  const s: Settings = {
    ...defaults,
    ...patch,
    dailyLmCalls: { ...defaults.dailyLmCalls, ...patch.dailyLmCalls },
    dailyCostUsd: { ...defaults.dailyCostUsd, ...patch.dailyCostUsd },
    adapt: { ...defaults.adapt, ...patch.adapt },
    canary: { ...defaults.canary, ...patch.canary }
  }
  const bad = (field: string, what: string) => new LoopSettingsInvalid({ field, message: `loop.${field} ${what}` })
  const positiveInt = (field: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw bad(field, `must be a positive integer, got ${v}`)
  }
  const unit = (field: string, v: number) => {
    if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw bad(field, `must be in [0, 1], got ${v}`)
  }
  positiveInt("window", s.window)
  positiveInt("minSamples", s.minSamples)
  positiveInt("baselineSamples", s.baselineSamples)
  positiveInt("maxConcurrentJobs", s.maxConcurrentJobs)
  positiveInt("adapt.k", s.adapt.k)
  positiveInt("trainSize", s.trainSize)
  positiveInt("minTrainSize", s.minTrainSize)
  positiveInt("canary.minRewards", s.canary.minRewards)
  if (s.minSamples > s.window) throw bad("minSamples", `must be at most window (${s.window}), got ${s.minSamples}`)
  if (s.minTrainSize > s.trainSize) throw bad("minTrainSize", `must be at most trainSize (${s.trainSize})`)
  if (s.canary.maxRewards < s.canary.minRewards) throw bad("canary.maxRewards", "must be at least canary.minRewards")
  for (const [f, v] of [
    ["relativeDrop", s.relativeDrop],
    ["absoluteDrop", s.absoluteDrop],
    ["hysteresis", s.hysteresis],
    ["maxErrorRate", s.maxErrorRate],
    ["adapt.step", s.adapt.step],
    ["adapt.min", s.adapt.min],
    ["adapt.max", s.adapt.max]
  ] as const)
    unit(f, v)
  if (!(s.canary.fraction > 0 && s.canary.fraction < 1)) throw bad("canary.fraction", "must be in (0, 1)")
  if (s.adapt.min > s.adapt.max) throw bad("adapt.min", "must be at most adapt.max")
  if (s.relativeDrop < s.adapt.min || s.relativeDrop > s.adapt.max)
    throw bad("relativeDrop", `must be within [adapt.min, adapt.max] = [${s.adapt.min}, ${s.adapt.max}]`)
  for (const [f, v] of [
    ["cooldownMs", s.cooldownMs],
    ["reoptimizeIntervalMs", s.reoptimizeIntervalMs],
    ["minNewLabelled", s.minNewLabelled],
    ["dailyLmCalls.perModule", s.dailyLmCalls.perModule],
    ["dailyLmCalls.overall", s.dailyLmCalls.overall],
    ["dailyCostUsd.perModule", s.dailyCostUsd.perModule],
    ["dailyCostUsd.overall", s.dailyCostUsd.overall]
  ] as const)
    if (!(Number.isFinite(v) && v >= 0)) throw bad(f, `must be a non-negative number, got ${v}`)
  return s
}

/**
 * What one module may set over the loop's settings (its triggers, e.g. a workflow step's
 * `optimization.triggers`): when its rules fire and what its jobs train on. The rest (whether the loop acts, the
 * window and baseline sizes, concurrency, budgets, threshold adaptation, the canary) is the loop's.
 *
 * @since 0.1.0
 * @category models
 */
export type Overrides = {
  readonly [K in
    | "minSamples"
    | "relativeDrop"
    | "absoluteDrop"
    | "maxErrorRate"
    | "maxLatencyP95Ms"
    | "reoptimizeIntervalMs"
    | "minNewLabelled"
    | "cooldownMs"
    | "trainSize"
    | "minTrainSize"
    | "optimizer"]?: Settings[K] | undefined
}

const overridable: ReadonlySet<string> = new Set<keyof Overrides>([
  "minSamples",
  "relativeDrop",
  "absoluteDrop",
  "maxErrorRate",
  "maxLatencyP95Ms",
  "reoptimizeIntervalMs",
  "minNewLabelled",
  "cooldownMs",
  "trainSize",
  "minTrainSize",
  "optimizer"
])

/**
 * A module's settings: its overrides over the loop's, checked as {@link settings} checks (a bad value, or a key
 * a module cannot set, is a `LoopSettingsInvalid` naming the field; thrown).
 *
 * @since 0.1.0
 * @category constructors
 */
export const override = (base: Settings, overrides: Overrides): Settings => {
  for (const key of Object.keys(overrides)) {
    if (!overridable.has(key))
      throw new LoopSettingsInvalid({
        field: key,
        message: `loop.${key} cannot be set per module (a module sets: ${[...overridable].join(", ")})`
      })
  }
  // An absent key and a key set to `undefined` both keep the loop's value.
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined))
  return settings({ ...base, ...defined })
}

/**
 * The rules.
 *
 * @since 0.1.0
 * @category models
 */
export type Rule = "degradation" | "errors" | "latency" | "interval"

/**
 * What one module's serving version has shown. Mutable: {@link observe} updates it in O(1).
 *
 * @since 0.1.0
 * @category models
 */
export interface Watch {
  readonly moduleId: string
  version: number
  /** The baseline: the mean of the version's first `baselineSamples` rewards (frozen once complete). */
  baselineSum: number
  baselineN: number
  /** The sliding window (ring buffers of the last `window` outcomes). */
  readonly rewards: Array<number>
  readonly errors: Array<number>
  readonly latencies: Array<number>
  next: number
  filled: number
  rewardSum: number
  errorSum: number
  /** Labelled experiences since the last job. */
  newLabelled: number
  /** When the module's last job started (undefined: never). */
  lastJobAt: number | undefined
  /** Per rule: armed (may fire), the relative threshold, the last outcomes of its jobs (true: accepted). */
  readonly rules: Record<Rule, { armed: boolean; threshold: number; rejectedInARow: number }>
}

/**
 * A fresh watch of a module's serving version.
 *
 * @since 0.1.0
 * @category constructors
 */
export const watch = (moduleId: string, version: number, s: Settings): Watch => ({
  moduleId,
  version,
  baselineSum: 0,
  baselineN: 0,
  rewards: new Array<number>(s.window).fill(0),
  errors: new Array<number>(s.window).fill(0),
  latencies: new Array<number>(s.window).fill(0),
  next: 0,
  filled: 0,
  rewardSum: 0,
  errorSum: 0,
  newLabelled: 0,
  lastJobAt: undefined,
  rules: {
    degradation: { armed: true, threshold: s.relativeDrop, rejectedInARow: 0 },
    errors: { armed: true, threshold: s.maxErrorRate, rejectedInARow: 0 },
    latency: { armed: true, threshold: 0, rejectedInARow: 0 },
    interval: { armed: true, threshold: 0, rejectedInARow: 0 }
  }
})

/**
 * Starts watching a new serving version: a fresh baseline and window; the rules' thresholds and history stay.
 *
 * @since 0.1.0
 * @category mutations
 */
export const rebase = (w: Watch, version: number): void => {
  w.version = version
  w.baselineSum = 0
  w.baselineN = 0
  w.next = 0
  w.filled = 0
  w.rewardSum = 0
  w.errorSum = 0
  w.rewards.fill(0)
  w.errors.fill(0)
  w.latencies.fill(0)
  for (const r of Object.values(w.rules)) r.armed = true
}

/**
 * Adds one rewarded outcome of the serving version.
 *
 * @since 0.1.0
 * @category mutations
 */
export const observe = (
  w: Watch,
  s: Settings,
  outcome: { readonly reward: number; readonly ok: boolean; readonly latencyMs: number; readonly labelled?: boolean }
): void => {
  if (w.baselineN < s.baselineSamples) {
    w.baselineSum += outcome.reward
    w.baselineN++
  }
  const i = w.next
  if (w.filled === s.window) {
    w.rewardSum -= w.rewards[i]!
    w.errorSum -= w.errors[i]!
  } else w.filled++
  w.rewards[i] = outcome.reward
  w.errors[i] = outcome.ok ? 0 : 1
  w.latencies[i] = outcome.latencyMs
  w.rewardSum += outcome.reward
  w.errorSum += outcome.ok ? 0 : 1
  w.next = (i + 1) % s.window
  if (outcome.labelled === true) w.newLabelled++
}

/**
 * The window's mean reward (undefined while empty).
 *
 * @since 0.1.0
 * @category reads
 */
export const quality = (w: Watch): number | undefined => (w.filled === 0 ? undefined : w.rewardSum / w.filled)

/**
 * The baseline's mean reward, once it is complete (undefined before).
 *
 * @since 0.1.0
 * @category reads
 */
export const baseline = (w: Watch, s: Settings): number | undefined =>
  w.baselineN < s.baselineSamples ? undefined : w.baselineSum / w.baselineN

const p95 = (w: Watch): number => {
  const xs = w.latencies.slice(0, w.filled).sort((a, b) => a - b)
  return xs[Math.min(xs.length - 1, Math.floor(0.95 * xs.length))] ?? 0
}

/**
 * A rule that fired, with why.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fired {
  readonly rule: Rule
  readonly reason: string
  readonly quality: number | undefined
  readonly baseline: number | undefined
  readonly threshold: number
}

/**
 * The first rule that fires on the watch now (and disarms it until it re-arms), or undefined. Re-arms rules
 * whose signal came back past their threshold by the hysteresis.
 *
 * @since 0.1.0
 * @category rules
 */
export const fire = (w: Watch, s: Settings, now: number): Fired | undefined => {
  const q = quality(w)
  const b = baseline(w, s)
  const deg = w.rules.degradation
  if (q !== undefined && b !== undefined) {
    const limit = b * (1 - deg.threshold)
    if (!deg.armed && q >= limit + s.hysteresis) deg.armed = true
    if (deg.armed && w.filled >= s.minSamples && q < limit && b - q >= s.absoluteDrop) {
      deg.armed = false
      return {
        rule: "degradation",
        reason: `quality ${q.toFixed(3)} over the last ${w.filled} rewards of v${w.version} is below its baseline ${b.toFixed(3)} by more than ${(100 * deg.threshold).toFixed(1)}% (and ${s.absoluteDrop})`,
        quality: q,
        baseline: b,
        threshold: deg.threshold
      }
    }
  }
  const err = w.rules.errors
  if (w.filled >= s.minSamples) {
    const rate = w.errorSum / w.filled
    if (!err.armed && rate <= s.maxErrorRate - s.hysteresis) err.armed = true
    if (err.armed && rate > s.maxErrorRate) {
      err.armed = false
      return {
        rule: "errors",
        reason: `error rate ${rate.toFixed(3)} over the last ${w.filled} executions of v${w.version} is above ${s.maxErrorRate}`,
        quality: q,
        baseline: b,
        threshold: s.maxErrorRate
      }
    }
    const lat = w.rules.latency
    if (s.maxLatencyP95Ms !== undefined) {
      const p = p95(w)
      if (!lat.armed && p <= s.maxLatencyP95Ms * (1 - s.hysteresis)) lat.armed = true
      if (lat.armed && p > s.maxLatencyP95Ms) {
        lat.armed = false
        return {
          rule: "latency",
          reason: `latency p95 ${p.toFixed(1)} ms over the last ${w.filled} executions of v${w.version} is above ${s.maxLatencyP95Ms} ms`,
          quality: q,
          baseline: b,
          threshold: s.maxLatencyP95Ms
        }
      }
    }
  }
  const since = w.lastJobAt === undefined ? undefined : now - w.lastJobAt
  if (since !== undefined && since >= s.reoptimizeIntervalMs && w.newLabelled >= s.minNewLabelled) {
    return {
      rule: "interval",
      reason: `${Math.round(since / 60000)} minutes since the last job and ${w.newLabelled} new labelled experiences`,
      quality: q,
      baseline: b,
      threshold: s.minNewLabelled
    }
  }
  return undefined
}

/**
 * The spend of one day (UTC), per module and overall.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spend {
  day: number
  readonly lmCalls: Map<string, number>
  readonly costUsd: Map<string, number>
  overallCalls: number
  overallCost: number
}

/**
 * An empty spend record.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptySpend = (): Spend => ({
  day: -1,
  lmCalls: new Map(),
  costUsd: new Map(),
  overallCalls: 0,
  overallCost: 0
})

const dayOf = (now: number) => Math.floor(now / (24 * 60 * 60 * 1000))

/** Starts a new day's spend when the day changed. */
const roll = (spend: Spend, now: number) => {
  const day = dayOf(now)
  if (spend.day === day) return
  spend.day = day
  spend.lmCalls.clear()
  spend.costUsd.clear()
  spend.overallCalls = 0
  spend.overallCost = 0
}

/**
 * Adds what a job spent to the day's record.
 *
 * @since 0.1.0
 * @category mutations
 */
export const spent = (spend: Spend, moduleId: string, lmCalls: number, costUsd: number, now: number): void => {
  roll(spend, now)
  spend.lmCalls.set(moduleId, (spend.lmCalls.get(moduleId) ?? 0) + lmCalls)
  spend.costUsd.set(moduleId, (spend.costUsd.get(moduleId) ?? 0) + costUsd)
  spend.overallCalls += lmCalls
  spend.overallCost += costUsd
}

/**
 * What is left of the day's budgets for a module (the smaller of its own and the overall one).
 *
 * @since 0.1.0
 * @category reads
 */
export const remaining = (
  spend: Spend,
  s: Settings,
  moduleId: string,
  now: number
): { readonly lmCalls: number; readonly costUsd: number } => {
  roll(spend, now)
  return {
    lmCalls: Math.max(
      0,
      Math.min(
        s.dailyLmCalls.perModule - (spend.lmCalls.get(moduleId) ?? 0),
        s.dailyLmCalls.overall - spend.overallCalls
      )
    ),
    costUsd: Math.max(
      0,
      Math.min(
        s.dailyCostUsd.perModule - (spend.costUsd.get(moduleId) ?? 0),
        s.dailyCostUsd.overall - spend.overallCost
      )
    )
  }
}

/**
 * Why a fired rule must not start a job now (the first guard rail that holds), or undefined.
 *
 * @since 0.1.0
 * @category rules
 */
export const hold = (input: {
  readonly watch: Watch
  readonly settings: Settings
  readonly spend: Spend
  readonly busy: string | undefined
  readonly runningJobs: number
  readonly now: number
}): string | undefined => {
  const { watch: w, settings: s, now } = input
  if (input.busy !== undefined) return input.busy
  if (w.lastJobAt !== undefined && now - w.lastJobAt < s.cooldownMs)
    return `cooldown: the module's last job started ${Math.round((now - w.lastJobAt) / 1000)} s ago (cooldown ${Math.round(s.cooldownMs / 1000)} s)`
  if (input.runningJobs >= s.maxConcurrentJobs)
    return `${input.runningJobs} automatic jobs are running (at most ${s.maxConcurrentJobs})`
  const left = remaining(input.spend, s, w.moduleId, now)
  if (left.lmCalls <= 0) return "the daily LM-call budget (module or overall) is spent"
  if (left.costUsd <= 0) return "the daily cost budget (module or overall) is spent"
  return undefined
}

/**
 * Adapts a rule's threshold after a job it started ended: accepted lowers it by a step, `k` rejections in a row
 * raise it by a step, clamped to the bounds. Returns the change, if any.
 *
 * @since 0.1.0
 * @category rules
 */
export const adapt = (
  w: Watch,
  s: Settings,
  rule: Rule,
  accepted: boolean
): { readonly from: number; readonly to: number } | undefined => {
  if (rule !== "degradation") return undefined
  const r = w.rules[rule]
  const from = r.threshold
  if (accepted) {
    r.rejectedInARow = 0
    r.threshold = Math.max(s.adapt.min, from - s.adapt.step)
  } else {
    r.rejectedInARow++
    if (r.rejectedInARow >= s.adapt.k) {
      r.rejectedInARow = 0
      r.threshold = Math.min(s.adapt.max, from + s.adapt.step)
    }
  }
  return r.threshold === from ? undefined : { from, to: r.threshold }
}
