/**
 * Ready-made alert rules over the history feed's metrics: seed 000's performance monitor (slow optimization,
 * error rate, cache miss rate), seed 004's (p95 latency over a limit, LM failure rate, optimization stagnation)
 * and two forecasts (the daily LM budget running out, a provider pool saturating). Each takes its limits, with the
 * seeds' defaults.
 *
 * @since 0.1.0
 */
import * as AlertRule from "./AlertRule.js"
import { metrics } from "./HistoryFeed.js"

/**
 * Seed 000: an optimization run slower than `maxMs` (default 10 minutes).
 *
 * @since 0.1.0
 * @category presets
 */
export const slowOptimization = (maxMs = 600_000): AlertRule.Rule =>
  AlertRule.make({
    name: "slow_optimization",
    description: `an optimization run took longer than ${maxMs / 1000} s`,
    selector: { metric: metrics.optimizationDuration },
    statistic: "max",
    windowMs: 3_600_000,
    condition: AlertRule.threshold(">", maxMs),
    cooldownMs: 3_600_000
  })

/**
 * Seed 000: a module's error rate over `maxRate` (default 5%) over a minute, for 10 s, with at least 10 calls.
 *
 * @since 0.1.0
 * @category presets
 */
export const errorRate = (maxRate = 0.05, options?: { readonly windowMs?: number; readonly forMs?: number }) =>
  AlertRule.make({
    name: "error_rate",
    description: `a module's error rate is over ${maxRate * 100}%`,
    severity: "critical",
    selector: { metric: metrics.moduleErrors },
    statistic: "mean",
    windowMs: options?.windowMs ?? 60_000,
    condition: AlertRule.threshold(">", maxRate),
    forMs: options?.forMs ?? 10_000,
    cooldownMs: 60_000,
    minCount: 10
  })

/**
 * Seed 000: an LM cache miss rate over `maxMissRate` (default 80%) over 10 minutes, with at least 50 calls.
 *
 * @since 0.1.0
 * @category presets
 */
export const cacheMissRate = (maxMissRate = 0.8): AlertRule.Rule =>
  AlertRule.make({
    name: "cache_miss_rate",
    description: `the LM cache misses more than ${maxMissRate * 100}% of calls`,
    severity: "info",
    selector: { metric: metrics.lmCacheHit },
    statistic: "mean",
    windowMs: 600_000,
    condition: AlertRule.threshold("<", 1 - maxMissRate),
    forMs: 60_000,
    minCount: 50
  })

/**
 * Seed 004: a module's p95 latency over `maxMs` (default 2 s) over a minute, for 10 s.
 *
 * @since 0.1.0
 * @category presets
 */
export const p95Latency = (maxMs = 2_000, options?: { readonly windowMs?: number; readonly forMs?: number }) =>
  AlertRule.make({
    name: "p95_latency",
    description: `a module's p95 latency is over ${maxMs} ms`,
    selector: { metric: metrics.moduleLatency },
    statistic: "p95",
    windowMs: options?.windowMs ?? 60_000,
    condition: AlertRule.threshold(">", maxMs),
    forMs: options?.forMs ?? 10_000,
    cooldownMs: 60_000,
    minCount: 5
  })

/**
 * Seed 004: an LM provider's failure rate over `maxRate` (default 10%) over a minute, for 10 s.
 *
 * @since 0.1.0
 * @category presets
 */
export const lmFailureRate = (maxRate = 0.1, options?: { readonly windowMs?: number; readonly forMs?: number }) =>
  AlertRule.make({
    name: "lm_failure_rate",
    description: `an LM provider fails more than ${maxRate * 100}% of calls`,
    severity: "critical",
    selector: { metric: metrics.lmErrors },
    statistic: "mean",
    windowMs: options?.windowMs ?? 60_000,
    condition: AlertRule.threshold(">", maxRate),
    forMs: options?.forMs ?? 10_000,
    cooldownMs: 60_000,
    minCount: 10
  })

/**
 * Seed 004: an optimization job's trial scores no longer improving: the slope of the best trial score per
 * interval stays under `minGainPerMinute` (default 0.1 points) over 10 minutes, with at least 5 trials.
 *
 * @since 0.1.0
 * @category presets
 */
export const optimizationStagnation = (minGainPerMinute = 0.1): AlertRule.Rule =>
  AlertRule.make({
    name: "optimization_stagnation",
    description: `an optimization job gains less than ${minGainPerMinute} points a minute`,
    severity: "info",
    selector: { metric: metrics.optimizationScore },
    statistic: "max",
    windowMs: 600_000,
    condition: AlertRule.rateOfChange("<", minGainPerMinute),
    forMs: 120_000,
    minCount: 5
  })

/**
 * Forecast: the LM spend since midnight (UTC) reaches `dailyBudgetUsd` within `horizonMs` at the forecast rate.
 *
 * @since 0.1.0
 * @category presets
 */
export const lmBudget = (
  dailyBudgetUsd: number,
  options?: { readonly horizonMs?: number; readonly windowMs?: number }
) =>
  AlertRule.make({
    name: "lm_budget",
    description: `the daily LM budget of $${dailyBudgetUsd} runs out at this rate`,
    severity: "warning",
    selector: { metric: metrics.lmCost },
    statistic: "sum",
    windowMs: options?.windowMs ?? 1_800_000,
    condition: AlertRule.forecastCrossing(dailyBudgetUsd, options?.horizonMs ?? 3_600_000, {
      cumulative: { resetEveryMs: 86_400_000 }
    }),
    cooldownMs: 600_000,
    minCount: 5
  })

/**
 * Forecast: a provider's pool use (in-use over size) reaches 1 within `horizonMs` (default 10 minutes).
 *
 * @since 0.1.0
 * @category presets
 */
export const poolSaturation = (options?: { readonly horizonMs?: number; readonly windowMs?: number }) =>
  AlertRule.make({
    name: "pool_saturation",
    description: "a provider's pool saturates soon at this trend",
    selector: { metric: metrics.poolUtilization },
    statistic: "mean",
    windowMs: options?.windowMs ?? 600_000,
    condition: AlertRule.forecastCrossing(1, options?.horizonMs ?? 600_000),
    cooldownMs: 300_000,
    minCount: 10
  })

/**
 * Seed 000's rules with their defaults.
 *
 * @since 0.1.0
 * @category presets
 */
export const seed000 = (): ReadonlyArray<AlertRule.Rule> => [slowOptimization(), errorRate(), cacheMissRate()]

/**
 * Seed 004's rules with their defaults.
 *
 * @since 0.1.0
 * @category presets
 */
export const seed004 = (): ReadonlyArray<AlertRule.Rule> => [p95Latency(), lmFailureRate(), optimizationStagnation()]
