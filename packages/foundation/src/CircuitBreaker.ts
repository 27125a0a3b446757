/**
 * A circuit breaker: closed -> open -> half-open -> closed.
 *
 * - **Closed** lets calls through and watches their outcomes. It opens after `failureThreshold` failures
 *   within `windowMs` (count mode), or, when `failureRateThreshold` is set, when the failure rate across a
 *   rolling `windowMs` (ten buckets) is at or over it with at least `minimumVolume` calls (rate mode).
 * - **Open** rejects at once with {@link CircuitOpen}, which says how long until the next trial.
 * - After `recoveryTimeMs` the next call finds it **half-open**: up to `halfOpenMaxCalls` trial calls run at
 *   once (others are rejected); a trial's success closes it, a failure opens it again. The move to half-open
 *   happens on that call (nothing runs in the background).
 * - A call running longer than `callTimeoutMs` fails with {@link CallTimeout} and counts as a failure.
 * - Which errors count is a predicate ({@link Options.isFailure}); by default retryable errors of the family
 *   and defects count. An error that does not count means the dependency answered: it counts as a success.
 *   Rejections by other protections (a full bulkhead, a rate limit) and interruptions count as neither.
 *
 * Every transition sets the `dspy.circuit_breaker.state` gauge (tagged `key`) and, when the `Events` service
 * is available, publishes a `circuit_breaker_state_changed` event with `key`, `from` and `to`. Time is read
 * from Effect's Clock; the state machine itself is a pure function of settings, state and event.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as ConfigSchema from "./ConfigSchema.js"
import * as Errors from "./Errors.js"
import * as Events from "./Events.js"
import * as FoundationEvents from "./FoundationEvents.js"
import * as Breaker from "./internal/breaker.js"
import { decodeSettings, isRejection, type ProtectionSettingsInvalid } from "./internal/protection.js"
import * as Metrics from "./Metrics.js"
import { CircuitOpen, CallTimeout } from "./FoundationError.js"

export {
  /**
   * Settings given to a protection do not match its schema.
   *
   * @since 0.1.0
   * @category errors
   */
  ProtectionSettingsInvalid
} from "./internal/protection.js"

/**
 * The errors of this module (defined with every error of the package in `FoundationError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { CircuitOpen, CallTimeout }

/**
 * A circuit breaker's state.
 *
 * @since 0.1.0
 * @category models
 */
export type State = Breaker.StateName

/**
 * How a call failed, as given to {@link Options.isFailure}: an error in the error channel, or a defect.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure =
  | { readonly _tag: "Fail"; readonly error: unknown }
  | { readonly _tag: "Die"; readonly defect: unknown }

/**
 * The default failure predicate: defects, and errors of the family with `retryable: true` (a 5xx, a
 * timeout, a dropped connection), count; a non-retryable error (a 400 from bad input) does not.
 *
 * @since 0.1.0
 * @category predicates
 */
export const defaultIsFailure = (failure: Failure): boolean =>
  failure._tag === "Die" || Errors.isRetryable(failure.error)

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Which failures count toward opening the circuit ({@link defaultIsFailure} when left out). */
  readonly isFailure?: (failure: Failure) => boolean
}

/**
 * A circuit breaker.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker {
  readonly key: string
  /** Runs the effect under the breaker (rejecting at once when the circuit is open). */
  readonly execute: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen | CallTimeout, R>
  /** The current state (an open circuit whose recovery time has passed moves to half-open on the next call). */
  readonly state: Effect.Effect<State>
  /** The settings in force. */
  readonly settings: Effect.Effect<ConfigSchema.CircuitBreakerSettings>
  /** Replaces the settings live; a closed circuit restarts its window when the mode or window changes. */
  readonly reconfigure: (
    settings: typeof ConfigSchema.CircuitBreakerSettings.Encoded
  ) => Effect.Effect<void, ProtectionSettingsInvalid>
  /** Closes the circuit and clears its window. */
  readonly reset: Effect.Effect<void>
}

interface Machine {
  readonly settings: ConfigSchema.CircuitBreakerSettings
  readonly state: Breaker.State
}

const decode = decodeSettings(ConfigSchema.CircuitBreakerSettings, "circuit breaker", "CircuitBreakerSettings")

type Outcome = "Success" | "Failure" | "Release"

/**
 * Creates a circuit breaker named `key`. Settings are validated (defaults filled in from
 * {@link ConfigSchema.CircuitBreakerSettings}); invalid ones fail with {@link ProtectionSettingsInvalid}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  key: string,
  settings: typeof ConfigSchema.CircuitBreakerSettings.Encoded = {},
  options: Options = {}
): Effect.Effect<CircuitBreaker, ProtectionSettingsInvalid> =>
  Effect.gen(function* () {
    const decoded = yield* decode(key, settings)
    const ownEvents = yield* Effect.serviceOption(Events.Events)
    const isFailure = options.isFailure ?? defaultIsFailure
    const gauge = Metric.tagged(Metrics.circuitBreakerState, "key", key)
    const ref = yield* Ref.make<Machine>({ settings: decoded, state: Breaker.initial })
    yield* Metric.set(gauge, 0)

    const announce = (transitions: Breaker.Step["transitions"]): Effect.Effect<void> =>
      Effect.forEach(
        transitions,
        ([from, to]) =>
          Effect.zipRight(
            Metric.set(gauge, Breaker.gaugeValue(to)),
            // With no store in context at creation, the one in context at the transition (if any) records it.
            Events.publishOrLog(FoundationEvents.CircuitBreakerStateChanged, { key, from, to }, { events: ownEvents })
          ),
        { discard: true }
      )

    const apply = (event: Breaker.Event): Effect.Effect<Breaker.Step> =>
      Effect.tap(
        Ref.modify(ref, (machine): [Breaker.Step, Machine] => {
          const next = Breaker.step(machine.settings, machine.state, event)
          return [next, next.state === machine.state ? machine : { settings: machine.settings, state: next.state }]
        }),
        (next) => (next.transitions.length === 0 ? Effect.void : announce(next.transitions))
      )

    const classify = (exit: Exit.Exit<unknown, unknown>): Outcome => {
      if (exit._tag === "Success") return "Success"
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) {
        const error = failure.value
        if (error instanceof CallTimeout) return "Failure"
        if (isRejection(error)) return "Release"
        return isFailure({ _tag: "Fail", error }) ? "Failure" : "Success"
      }
      const defect = Cause.dieOption(exit.cause)
      if (Option.isSome(defect)) return isFailure({ _tag: "Die", defect: defect.value }) ? "Failure" : "Success"
      return "Release"
    }

    const record = (
      settings: ConfigSchema.CircuitBreakerSettings,
      generation: number,
      trial: boolean,
      exit: Exit.Exit<unknown, unknown>
    ): Effect.Effect<void> => {
      const outcome = classify(exit)
      // Fast path: a success in a closed count-mode circuit changes nothing.
      if (outcome === "Success" && !trial && !Breaker.isRateMode(settings)) return Effect.void
      if (outcome === "Release") {
        return trial ? Effect.asVoid(apply({ _tag: "Release", generation, trial })) : Effect.void
      }
      return Effect.clockWith((clock) =>
        Effect.asVoid(apply({ _tag: outcome, now: clock.unsafeCurrentTimeMillis(), generation, trial }))
      )
    }

    const run = <A, E, R>(
      settings: ConfigSchema.CircuitBreakerSettings,
      generation: number,
      trial: boolean,
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | CallTimeout, R> => {
      const timeoutMs = settings.callTimeoutMs
      const timed =
        timeoutMs === undefined
          ? effect
          : Effect.timeoutFail(effect, {
              duration: timeoutMs,
              onTimeout: () =>
                new CallTimeout({
                  key,
                  timeoutMs,
                  message: `The call protected by circuit breaker "${key}" took longer than ${timeoutMs} ms and was interrupted; raise callTimeoutMs or make the call faster.`
                })
            })
      // A trial must give its slot back whatever happens, interruption included.
      if (trial) return Effect.onExit(timed, (exit) => record(settings, generation, trial, exit))
      // Fast path for a closed circuit: an interrupted call changes nothing, and in count mode neither does a
      // success, so only failures (and, in rate mode, successes) are recorded, without an exit handler.
      const onFailure = Effect.tapErrorCause(timed, (cause) =>
        record(settings, generation, false, Exit.failCause(cause))
      )
      return Breaker.isRateMode(settings)
        ? Effect.tap(onFailure, () => record(settings, generation, false, Exit.void))
        : onFailure
    }

    const reject = (remainingMs: number) =>
      new CircuitOpen({
        key,
        remainingMs,
        message:
          remainingMs > 0
            ? `Circuit breaker "${key}" is open after repeated failures; the call was not made. A trial call is allowed in ${remainingMs} ms.`
            : `Circuit breaker "${key}" is half-open and its trial calls are all running; the call was not made. Retry once the trials finish.`
      })

    const execute = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen | CallTimeout, R> =>
      Effect.flatMap(Ref.get(ref), (machine) => {
        const state = machine.state
        // Fast path: a closed circuit admits without a state change.
        if (state._tag === "Closed") return run(machine.settings, state.generation, false, effect)
        return Effect.clockWith((clock) =>
          Effect.flatMap(
            apply({ _tag: "Admit", now: clock.unsafeCurrentTimeMillis() }),
            (next): Effect.Effect<A, E | CircuitOpen | CallTimeout, R> => {
              const decision = next.decision!
              return decision._tag === "Rejected"
                ? Effect.fail(reject(decision.remainingMs))
                : run(machine.settings, decision.generation, decision.trial, effect)
            }
          )
        )
      })

    return {
      key,
      execute,
      state: Effect.map(Ref.get(ref), (machine) => Breaker.nameOf(machine.state)),
      settings: Effect.map(Ref.get(ref), (machine) => machine.settings),
      reconfigure: (input) =>
        Effect.flatMap(decode(key, input), (next) =>
          Ref.update(ref, (machine) => ({
            settings: next,
            state: Breaker.adapt(machine.settings, next, machine.state)
          }))
        ),
      reset: Effect.asVoid(apply({ _tag: "Reset" }))
    }
  })
