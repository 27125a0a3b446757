/**
 * Budgets: a cap on LM calls and/or cost for an optimizer run. The budget is checked before each unit of LM
 * work starts (one teacher run, one scored example); once spent, no new unit starts, the optimizer returns the
 * best program found so far with `budgetExhausted: true`, and the report says what was spent (or, with
 * `onExhausted: "fail"`, the run fails with `BudgetExceeded`).
 *
 * Units already running when the budget runs out finish, so a run spends at most
 * `max + concurrency * (LM calls of one unit) - 1` calls: with `maxLmCalls: 10`, concurrency 4 and
 * single-call units, at most 13.
 *
 * @since 0.1.0
 */
import type { LM } from "@effect-dspy/core"
import * as Effect from "effect/Effect"
import { OptimizerConfigError } from "./OptimizerError.js"

/**
 * The limits of a budget (each optional) and what to do when one is reached.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** At most this many LM calls (cache hits included: they are calls the program made). */
  readonly maxLmCalls?: number
  /** At most this cost in US dollars. */
  readonly maxCostUsd?: number
  /** `"best-so-far"` (default): return the best program found; `"fail"`: fail with `BudgetExceeded`. */
  readonly onExhausted?: "best-so-far" | "fail"
}

/**
 * What a run spent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spend {
  readonly lmCalls: number
  readonly cacheHits: number
  readonly failures: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly totalTokens: number
  readonly costUsd: number
}

/**
 * A budget being spent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tracker {
  readonly limits: Limits
  /** True once a limit is reached. */
  readonly exhausted: Effect.Effect<boolean>
  /** Which limit was reached, if any. */
  readonly reached: Effect.Effect<"maxLmCalls" | "maxCostUsd" | undefined>
  /** Adds the usage of a finished unit. */
  readonly record: (usage: LM.UsageTotals) => Effect.Effect<void>
  /** What was spent so far. */
  readonly spent: Effect.Effect<Spend>
}

/**
 * Nothing spent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptySpend: Spend = {
  lmCalls: 0,
  cacheHits: 0,
  failures: 0,
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  costUsd: 0
}

/**
 * Checks the limits: each must be a non-negative number (calls an integer).
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (limits: Limits): Effect.Effect<Limits, OptimizerConfigError> => {
  if (limits.maxLmCalls !== undefined && !(Number.isInteger(limits.maxLmCalls) && limits.maxLmCalls >= 0)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "budget.maxLmCalls",
        message: `budget.maxLmCalls must be a non-negative integer, got ${limits.maxLmCalls}`
      })
    )
  }
  if (limits.maxCostUsd !== undefined && !(Number.isFinite(limits.maxCostUsd) && limits.maxCostUsd >= 0)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "budget.maxCostUsd",
        message: `budget.maxCostUsd must be a non-negative number, got ${limits.maxCostUsd}`
      })
    )
  }
  return Effect.succeed(limits)
}

/**
 * A tracker for the limits (no limits: never exhausted, still counting).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (limits: Limits = {}): Effect.Effect<Tracker, OptimizerConfigError> =>
  Effect.map(validate(limits), (limits) => {
    let spend: Spend = emptySpend
    const reachedNow = (): "maxLmCalls" | "maxCostUsd" | undefined =>
      limits.maxLmCalls !== undefined && spend.lmCalls >= limits.maxLmCalls
        ? "maxLmCalls"
        : limits.maxCostUsd !== undefined && spend.costUsd >= limits.maxCostUsd
          ? "maxCostUsd"
          : undefined
    return {
      limits,
      exhausted: Effect.sync(() => reachedNow() !== undefined),
      reached: Effect.sync(reachedNow),
      record: (usage) =>
        Effect.sync(() => {
          spend = {
            lmCalls: spend.lmCalls + usage.calls,
            cacheHits: spend.cacheHits + usage.cacheHits,
            failures: spend.failures + usage.failures,
            promptTokens: spend.promptTokens + usage.promptTokens,
            completionTokens: spend.completionTokens + usage.completionTokens,
            totalTokens: spend.totalTokens + usage.totalTokens,
            costUsd: spend.costUsd + usage.costUsd
          }
        }),
      spent: Effect.sync(() => spend)
    }
  })
