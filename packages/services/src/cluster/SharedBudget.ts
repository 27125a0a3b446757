/**
 * Daily LM budgets of a whole cluster: the LM calls and their cost, counted in the cluster's `SharedCounter` per
 * UTC day (by the database's clock), across every process sharing the database. {@link lm} wraps the application's
 * LM: a call is made only while both budgets have room (calls are taken in leases of a few, like the shared rate
 * limits), its cost is added when it answers, and a call refused fails with `LMRateLimited` (`code`
 * `budget_spent`, retry after the day ends). `Application.layer` uses it when `cluster.budgets` sets a budget.
 *
 * @example
 * ```ts
 * import { LM } from "@effect-dspy/core"
 * import { SharedBudget, SharedCounter } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * const budgeted = Effect.gen(function* () {
 *   const counter = yield* SharedCounter.SharedCounter
 *   const lm = yield* LM.LM
 *   return SharedBudget.lm(lm, counter, { dailyLmCalls: 10_000, dailyCostUsd: 50, lease: 5, onOutage: "reject" })
 * })
 * ```
 *
 * @since 0.1.0
 */
import { type LM, LMError } from "@effect-dspy/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as SharedCounter from "./SharedCounter.js"

/**
 * The budgets (left out: none) and how they are counted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly dailyLmCalls?: number | undefined
  readonly dailyCostUsd?: number | undefined
  /** The calls a process takes at a time. */
  readonly lease: number
  /** While the database is unreachable: reject the calls, or make them uncounted. */
  readonly onOutage: "reject" | "local"
}

/**
 * The counter keys of the budgets.
 *
 * @since 0.1.0
 * @category constants
 */
export const keys = { lmCalls: "budget:lm_calls", costUsd: "budget:cost_usd" } as const

const dayMs = 86_400_000

/**
 * The LM with the cluster's daily budgets applied to its completions, streams and embeddings.
 *
 * @since 0.1.0
 * @category constructors
 */
export const lm = (service: LM.Service, counter: SharedCounter.Service, options: Options): LM.Service => {
  let calls = 0
  let callsEndAt = 0
  let costUsed = 0
  let costDay = 0
  const fetching = Effect.unsafeMakeSemaphore(1)
  const refuse = (what: string, retryAfterMs: number) =>
    new LMError.LMRateLimited({
      provider: service.provider,
      retryAfterMs,
      message: `The cluster's ${what}; the call was not made. Retry in ${retryAfterMs} ms, or raise cluster.budgets.`,
      context: { code: "budget_spent" }
    })
  const outage = (reason: string) =>
    options.onOutage === "local" ? Effect.void : Effect.fail(refuse(`budget counter is unreachable (${reason})`, 1_000))

  const admit: Effect.Effect<void, LMError.LMError> = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const cost = options.dailyCostUsd
    if (cost !== undefined && Math.floor(now / dayMs) === costDay && costUsed >= cost)
      return yield* refuse(`daily cost budget ($${cost}) is spent`, dayMs - (now % dayMs))
    const limit = options.dailyLmCalls
    if (limit === undefined) return
    if (calls > 0 && now < callsEndAt) {
      calls--
      return
    }
    yield* fetching.withPermits(1)(
      Effect.gen(function* () {
        if (calls > 0 && now < callsEndAt) {
          calls--
          return
        }
        const grant = yield* Effect.either(counter.take(keys.lmCalls, Math.min(options.lease, limit), limit, dayMs))
        if (grant._tag === "Left") return yield* outage(grant.left.reason)
        if (grant.right.granted < 1)
          return yield* refuse(`daily LM-call budget (${limit}) is spent`, Math.ceil(grant.right.windowLeftMs))
        calls = Math.floor(grant.right.granted) - 1
        callsEndAt = (yield* Clock.currentTimeMillis) + grant.right.windowLeftMs
      })
    )
  })

  const spend = (costUsd: number): Effect.Effect<void> =>
    options.dailyCostUsd === undefined || costUsd <= 0
      ? Effect.void
      : Effect.flatMap(Effect.either(counter.add(keys.costUsd, costUsd, dayMs)), (total) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() => {
              if (total._tag === "Left") return
              costUsed = total.right.used
              costDay = Math.floor(now / dayMs)
            })
          )
        )

  return {
    ...service,
    complete: (request, callOptions) =>
      Effect.zipRight(
        admit,
        Effect.tap(service.complete(request, callOptions), (response) =>
          response.cacheHit ? Effect.void : spend(response.costUsd)
        )
      ),
    stream: (request) => Stream.unwrap(Effect.as(admit, service.stream(request))),
    embed: (inputs, model) => Effect.zipRight(admit, service.embed(inputs, model))
  }
}
