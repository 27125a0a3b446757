/**
 * An alert: one rule firing on one series, from the moment it fired to its resolution. The pair (rule, series)
 * is its identity: while it fires, the rule holding again is the same alert (deduplicated), not a new one.
 *
 * @since 0.1.0
 */
import type * as AlertRule from "./AlertRule.js"
import type * as Series from "./Series.js"

/**
 * An alert.
 *
 * @since 0.1.0
 * @category models
 */
export interface Alert {
  /** `<rule>:<series key>:<fired at>`. */
  readonly id: string
  readonly rule: string
  readonly severity: AlertRule.Severity
  readonly series: Series.Series
  readonly status: "firing" | "resolved"
  /** The statistic when it fired (when resolved: when it resolved). */
  readonly value: number
  /** What holds, in words (a forecast crossing says when). */
  readonly message: string
  /** When the condition began to hold. */
  readonly pendingSince: number
  readonly firedAt: number
  readonly resolvedAt: number | undefined
}
