/**
 * Budgets: a cap on LM calls, cost and/or wall-clock time for an optimizer run. The budget is checked before each unit of LM
 * work starts (one teacher run, one scored example); once spent, no new unit starts, the optimizer returns the
 * best program found so far with `budgetExhausted: true`, and the report says what was spent (or, with
 * `onExhausted: "fail"`, the run fails with `BudgetExceeded`).
 *
 * Units already running when the budget runs out finish, so a run spends at most
 * `max + concurrency * (LM calls of one unit) - 1` calls: with `maxLmCalls: 10`, concurrency 4 and
 * single-call units, at most 13. Likewise a wall-clock limit (`maxWallMs`, read through Effect's `Clock` from the
 * tracker's creation) stops new units, and the run ends once the running ones finish.
 *
 * @since 0.1.0
 */
import type { LM } from "@effect-dspy/core"
import * as Clock from "effect/Clock"
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
  /** At most this many milliseconds of wall-clock time (Effect's `Clock`) from the start of the run. */
  readonly maxWallMs?: number
  /** `"best-so-far"` (default): return the best program found; `"fail"`: fail with `BudgetExceeded`. */
  readonly onExhausted?: "best-so-far" | "fail"
}

/**
 * The name of a budget limit.
 *
 * @since 0.1.0
 * @category models
 */
export type Limit = "maxLmCalls" | "maxCostUsd" | "maxWallMs"

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
  readonly reached: Effect.Effect<Limit | undefined>
  /** Milliseconds since the tracker was made. */
  readonly elapsedMs: Effect.Effect<number>
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
  if (limits.maxWallMs !== undefined && !(Number.isFinite(limits.maxWallMs) && limits.maxWallMs >= 0)) {
    return Effect.fail(
      new OptimizerConfigError({
        option: "budget.maxWallMs",
        message: `budget.maxWallMs must be a non-negative number of milliseconds, got ${limits.maxWallMs}`
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
  Effect.flatMap(validate(limits), (limits) =>
    Effect.map(Clock.currentTimeMillis, (startedAt) => {
      let spend: Spend = emptySpend
      const elapsedMs = Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, now - startedAt))
      const reachedNow = (elapsed: number): Limit | undefined =>
        limits.maxLmCalls !== undefined && spend.lmCalls >= limits.maxLmCalls
          ? "maxLmCalls"
          : limits.maxCostUsd !== undefined && spend.costUsd >= limits.maxCostUsd
            ? "maxCostUsd"
            : limits.maxWallMs !== undefined && elapsed >= limits.maxWallMs
              ? "maxWallMs"
              : undefined
      const reached = Effect.map(elapsedMs, reachedNow)
      const tracker: Tracker = {
        limits,
        exhausted: Effect.map(reached, (limit) => limit !== undefined),
        reached,
        elapsedMs,
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
      return tracker
    })
  )
