/**
 * Alert rules over metric series: which series (a selector), which figure of a window of their rollups (a
 * statistic), and a condition on it: a threshold, a rate of change, an anomaly (a detector over the recent
 * points) or a forecast crossing a limit within a horizon ("the daily LM budget runs out at this rate by 15:40").
 * The condition must hold for `forMs` before the alert fires; after it resolves, the same alert does not fire
 * again for `cooldownMs`.
 *
 * @example
 * ```ts
 * import { AlertRule } from "@effect-dspy/services"
 *
 * const slow = AlertRule.make({
 *   name: "p95_latency",
 *   selector: { metric: "module.latency_ms" },
 *   statistic: "p95",
 *   windowMs: 60_000,
 *   condition: AlertRule.threshold(">", 2_000),
 *   forMs: 30_000
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { ObserveInvalidInput } from "../ServicesError.js"
import type * as Series from "./Series.js"

/**
 * The figure of a window a rule looks at: a quantile, the mean, min, max, sum, count, or the count per second.
 *
 * @since 0.1.0
 * @category models
 */
export type Statistic = "mean" | "p50" | "p95" | "p99" | "min" | "max" | "sum" | "count" | "per_second"

/**
 * How severe an alert is.
 *
 * @since 0.1.0
 * @category models
 */
export type Severity = "info" | "warning" | "critical"

/**
 * A comparison.
 *
 * @since 0.1.0
 * @category models
 */
export type Comparison = ">" | ">=" | "<" | "<="

/**
 * The condition of a rule.
 *
 * - `Threshold`: the window's statistic compared with `value`.
 * - `RateOfChange`: the slope of the statistic per interval over the window, per minute, compared with
 *   `perMinute` (its magnitude with `absolute`: a stagnation rule is `absolute`, `<`).
 * - `Anomaly`: the newest interval's statistic is an anomaly for the detector run over the window's intervals
 *   (the detectors' warm-up applies: a short history is never anomalous).
 * - `ForecastCrossing`: the statistic forecast over the next `horizonMs` reaches `limit` (with `cumulative`, the
 *   running total since the last multiple of `resetEveryMs`, such as a daily budget).
 *
 * @since 0.1.0
 * @category models
 */
export type Condition =
  | { readonly _tag: "Threshold"; readonly op: Comparison; readonly value: number }
  | {
      readonly _tag: "RateOfChange"
      readonly op: Comparison
      readonly perMinute: number
      readonly absolute: boolean
    }
  | { readonly _tag: "Anomaly"; readonly detector: Detector }
  | {
      readonly _tag: "ForecastCrossing"
      readonly limit: number
      readonly horizonMs: number
      readonly cumulative: { readonly resetEveryMs: number } | undefined
    }

/**
 * The anomaly detectors a rule may use (from `@effect-dspy/analytics`).
 *
 * @since 0.1.0
 * @category models
 */
export type Detector = "ewma" | "robust_z" | "page_hinkley"

/**
 * A rule.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rule {
  /** A unique name (snake_case), the alert's identity with the series. */
  readonly name: string
  readonly description: string
  readonly severity: Severity
  readonly selector: Series.Selector
  readonly statistic: Statistic
  /** The window the statistic is computed over (for anomalies and forecasts: the history they read). */
  readonly windowMs: number
  readonly condition: Condition
  /** How long the condition must hold before the alert fires. */
  readonly forMs: number
  /** After a resolution, how long before the same alert may fire again. */
  readonly cooldownMs: number
  /** Fewer values than this in the window: the rule does not judge (a cold start is not an alert). */
  readonly minCount: number
}

/**
 * What {@link make} takes (defaults: warning, `forMs` 0, `cooldownMs` 5 minutes, `minCount` 1).
 *
 * @since 0.1.0
 * @category models
 */
export type Input = Pick<Rule, "name" | "selector" | "statistic" | "windowMs" | "condition"> &
  Partial<Pick<Rule, "description" | "severity" | "forMs" | "cooldownMs" | "minCount">>

/**
 * A threshold condition.
 *
 * @since 0.1.0
 * @category constructors
 */
export const threshold = (op: Comparison, value: number): Condition => ({ _tag: "Threshold", op, value })

/**
 * A rate-of-change condition (per minute; `absolute`: on the slope's magnitude).
 *
 * @since 0.1.0
 * @category constructors
 */
export const rateOfChange = (
  op: Comparison,
  perMinute: number,
  options?: { readonly absolute?: boolean }
): Condition => ({
  _tag: "RateOfChange",
  op,
  perMinute,
  absolute: options?.absolute ?? false
})

/**
 * An anomaly condition (default detector: robust z-score).
 *
 * @since 0.1.0
 * @category constructors
 */
export const anomaly = (detector: Detector = "robust_z"): Condition => ({ _tag: "Anomaly", detector })

/**
 * A forecast-crossing condition.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forecastCrossing = (
  limit: number,
  horizonMs: number,
  options?: { readonly cumulative?: { readonly resetEveryMs: number } }
): Condition => ({ _tag: "ForecastCrossing", limit, horizonMs, cumulative: options?.cumulative })

/**
 * Whether `value op bound` holds.
 *
 * @since 0.1.0
 * @category predicates
 */
export const compare = (value: number, op: Comparison, bound: number): boolean =>
  op === ">" ? value > bound : op === ">=" ? value >= bound : op === "<" ? value < bound : value <= bound

const statistics: ReadonlyArray<Statistic> = ["mean", "p50", "p95", "p99", "min", "max", "sum", "count", "per_second"]

const problemOf = (rule: Rule): [string, string] | undefined => {
  if (!/^[a-z][a-z0-9_]*$/.test(rule.name))
    return ["name", `a rule's name is snake_case, got ${JSON.stringify(rule.name)}`]
  if (typeof rule.selector?.metric !== "string" || rule.selector.metric === "")
    return ["selector.metric", "a rule selects series by a non-empty metric name"]
  if (!statistics.includes(rule.statistic))
    return ["statistic", `a rule's statistic is one of ${statistics.join(", ")}, got ${JSON.stringify(rule.statistic)}`]
  for (const [field, value, min] of [
    ["windowMs", rule.windowMs, 1],
    ["forMs", rule.forMs, 0],
    ["cooldownMs", rule.cooldownMs, 0],
    ["minCount", rule.minCount, 0]
  ] as const) {
    if (!Number.isInteger(value) || value < min) return [field, `${field} is a whole number >= ${min}, got ${value}`]
  }
  const c = rule.condition
  switch (c?._tag) {
    case "Threshold":
      return Number.isFinite(c.value) ? undefined : ["condition.value", "a threshold is a finite number"]
    case "RateOfChange":
      return Number.isFinite(c.perMinute) ? undefined : ["condition.perMinute", "a rate of change is a finite number"]
    case "Anomaly":
      return ["ewma", "robust_z", "page_hinkley"].includes(c.detector)
        ? undefined
        : ["condition.detector", `the detector is ewma, robust_z or page_hinkley, got ${JSON.stringify(c.detector)}`]
    case "ForecastCrossing":
      if (!Number.isFinite(c.limit)) return ["condition.limit", "a forecast limit is a finite number"]
      if (!Number.isInteger(c.horizonMs) || c.horizonMs <= 0)
        return ["condition.horizonMs", "a forecast horizon is a positive whole number of milliseconds"]
      if (c.cumulative !== undefined && !(Number.isInteger(c.cumulative.resetEveryMs) && c.cumulative.resetEveryMs > 0))
        return ["condition.cumulative.resetEveryMs", "a cumulative forecast resets every positive number of ms"]
      return undefined
    default:
      return ["condition", "a condition is a Threshold, RateOfChange, Anomaly or ForecastCrossing"]
  }
}

/**
 * A rule from its input, checked; a rule that cannot be evaluated is an `ObserveInvalidInput` naming the field.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (input: Input): Either.Either<Rule, ObserveInvalidInput> => {
  const rule: Rule = {
    description: input.description ?? input.name.replaceAll("_", " "),
    severity: input.severity ?? "warning",
    forMs: input.forMs ?? 0,
    cooldownMs: input.cooldownMs ?? 300_000,
    minCount: input.minCount ?? 1,
    ...input
  } as Rule
  const problem = problemOf(rule)
  return problem === undefined
    ? Either.right(rule)
    : Either.left(
        new ObserveInvalidInput({
          field: `rules.${String(input.name)}.${problem[0]}`,
          message: `Alert rule ${JSON.stringify(input.name)}: ${problem[1]}.`
        })
      )
}

/**
 * A rule from its input; throws the `ObserveInvalidInput` when it is not valid (for rules written in code; use
 * {@link validate} for rules read from a file).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: Input): Rule => Either.getOrThrow(validate(input))
