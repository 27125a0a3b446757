/**
 * The LM retry policy: exponential backoff with jitter, only for errors that say they are `retryable`
 * (rate limits, timeouts, server errors), at most `maxRetries` times, and never sooner than a rate limit's
 * `retryAfterMs`. Delays go through Effect's Clock, so tests drive them with `TestClock`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as LMError from "./LMError.js"

/**
 * Retry settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Retries after the first attempt; default 3; 0 disables retrying. */
  readonly maxRetries?: number
  /** The first delay in milliseconds (doubling each retry); default 500. */
  readonly baseDelayMs?: number
  /** The longest backoff delay in milliseconds (a `retryAfterMs` may ask for more); default 30,000. */
  readonly maxDelayMs?: number
  /** Randomise each delay to 80%-120% of its value so that clients do not retry in lockstep; default true. */
  readonly jitter?: boolean
}

/**
 * The retry schedule for LM calls; its input is the error of the failed attempt.
 *
 * @since 0.1.0
 * @category constructors
 */
export const schedule = (options: Options = {}): Schedule.Schedule<unknown, LMError.LMError> => {
  const maxRetries = options.maxRetries ?? 3
  const maxDelay = Duration.millis(options.maxDelayMs ?? 30_000)
  const backoff = Schedule.exponential(Duration.millis(options.baseDelayMs ?? 500), 2)
  return (options.jitter === false ? backoff : Schedule.jittered(backoff)).pipe(
    // Whole milliseconds: a jittered delay is fractional, and the TestClock cannot sleep a fraction of one.
    Schedule.modifyDelay((_, delay) => Duration.min(Duration.millis(Math.ceil(Duration.toMillis(delay))), maxDelay)),
    Schedule.intersect(Schedule.recurs(maxRetries)),
    Schedule.intersect(Schedule.identity<LMError.LMError>()),
    Schedule.whileInput((error: LMError.LMError) => error.retryable),
    Schedule.modifyDelay(([, error], delay) =>
      error._tag === "LMRateLimited" && error.retryAfterMs !== undefined
        ? Duration.max(delay, Duration.millis(error.retryAfterMs))
        : delay
    )
  )
}

/**
 * Retries an LM effect with {@link schedule}; the last error is returned when retries run out. The first
 * attempt runs bare: the schedule's state is only built after a failure, so the success path costs nothing.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry = (options: Options = {}) => {
  if ((options.maxRetries ?? 3) === 0) return <A, R>(self: Effect.Effect<A, LMError.LMError, R>) => self
  const policy = schedule(options)
  return <A, R>(self: Effect.Effect<A, LMError.LMError, R>): Effect.Effect<A, LMError.LMError, R> =>
    Effect.catchAll(self, (first) =>
      first.retryable
        ? Effect.flatMap(Schedule.driver(policy), (driver) => {
            const again = (error: LMError.LMError): Effect.Effect<A, LMError.LMError, R> =>
              Effect.matchEffect(driver.next(error), {
                onFailure: () => Effect.fail(error),
                onSuccess: () => Effect.catchAll(self, again)
              })
            return again(first)
          })
        : Effect.fail(first)
    )
}
