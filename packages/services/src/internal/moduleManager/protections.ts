/**
 * A module's own protections: its circuit breaker (counting the module's failures, not its LM's) and its rate
 * limiter, made from the spec's `protection` or Config's `module_default` entries.
 */
import { LMError } from "@effect-dspy/core"
import { CircuitBreaker, type Config, Errors, Events, RateLimiter } from "@effect-dspy/foundation"
import * as Effect from "effect/Effect"
import type { ModuleProtection } from "../../ModuleManager.js"
import type { ModuleSpecInvalid } from "../../ServicesError.js"
import { invalid } from "./programs.js"

/**
 * What counts against a module's breaker: its defects and its own retryable failures. LM failures do not:
 * they are the provider's breaker's (which fails over to a backup), and counting them here would shut a
 * module down for a provider's trouble.
 */
export const isModuleFailure = (failure: CircuitBreaker.Failure): boolean =>
  failure._tag === "Die" || (Errors.isRetryable(failure.error) && !LMError.isLMError(failure.error))

/** Makes the protections of a new module. */
export const protectionsOf = (
  config: Config.Service,
  events: Events.Service,
  id: string,
  protection: ModuleProtection | undefined
): Effect.Effect<
  { breaker: CircuitBreaker.CircuitBreaker; limiter: RateLimiter.RateLimiter | undefined },
  ModuleSpecInvalid
> =>
  Effect.gen(function* () {
    const infrastructure = (yield* config.current).infrastructure
    const breakerSettings = protection?.breaker ?? infrastructure.circuitBreakers.module_default ?? {}
    const limiterSettings = protection?.rateLimit ?? infrastructure.rateLimiters.module_default
    const breaker = yield* CircuitBreaker.make(`module:${id}`, breakerSettings, { isFailure: isModuleFailure }).pipe(
      Effect.provideService(Events.Events, events),
      Effect.mapError((e) => invalid(id, "protection.breaker", e.message))
    )
    const limiter =
      limiterSettings === undefined
        ? undefined
        : yield* Effect.mapError(RateLimiter.make(`module:${id}`, limiterSettings), (e) =>
            invalid(id, "protection.rateLimit", e.message)
          )
    return { breaker, limiter }
  })
