/**
 * One-shot timers read through Effect's `Clock`, without a fiber per timer on the live clock.
 *
 * The live clock sleeps with `setTimeout`; scheduling the callback directly costs far less than forking a
 * fiber (which `Effect.timeout` does twice per use) and keeps `call` cheap. Any other clock (`TestClock`, a
 * user clock) is honoured by running its `sleep` in a small detached fiber, so tests drive every timer with
 * `TestClock.adjust`.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"

const liveClock: Clock.Clock = Effect.runSync(Effect.clock)

/** The longest delay `setTimeout` takes. @internal */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** True for Effect's live clock (whose sleeps are `setTimeout`s). @internal */
export const isLive = (clock: Clock.Clock): boolean => clock === liveClock

/** Cancels a scheduled task; a no-op once it has run. @internal */
export type Cancel = () => void

/** @internal */
export const noop: Cancel = () => {}

/**
 * Runs `task` once after `millis` on `clock`. An infinite (or absurdly long) delay schedules nothing.
 *
 * @internal
 */
export const schedule = (clock: Clock.Clock, millis: number, task: () => void): Cancel => {
  if (!Number.isFinite(millis)) return noop
  if (clock === liveClock) {
    if (millis > MAX_TIMER_MILLIS) return noop
    const handle = setTimeout(task, Math.max(0, millis))
    return () => clearTimeout(handle)
  }
  const fiber = Effect.runFork(Effect.andThen(clock.sleep(Duration.millis(Math.max(0, millis))), task))
  return () => fiber.unsafeInterruptAsFork(FiberId.none)
}

/**
 * Milliseconds of a timeout option: a duration, or `"infinity"` for none.
 *
 * @internal
 */
export const toMillis = (timeout: Duration.DurationInput | "infinity"): number =>
  timeout === "infinity" ? Number.POSITIVE_INFINITY : Duration.toMillis(Duration.decode(timeout))
