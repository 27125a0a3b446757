/**
 * Fault injection in front of any LM provider (simulated or real): while a provider's outage is on, a share
 * of its calls fail as the provider would fail them (HTTP 503, `LMServerError`, after a short network delay)
 * without reaching it. The demo turns an outage on and off while traffic runs, so the application's breaker,
 * fail-over and recovery can be watched against a real provider too.
 */
import { LMError, type Provider } from "@effect-dspy/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/** An outage: the share of calls that fail (0 to 1) and how long a failing call takes. */
export interface Outage {
  readonly failureRate: number
  readonly latencyMs?: number
}

/** Fault switches by provider name, and the wrapper that honours them. */
export interface Chaos {
  /** Starts an outage on `provider` (replacing any current one). */
  readonly start: (provider: string, outage: Outage) => Effect.Effect<void>
  /** Ends the outage on `provider`. */
  readonly stop: (provider: string) => Effect.Effect<void>
  /** Calls that failed by injection, by provider. */
  readonly injected: (provider: string) => number
  /** `provider` with the switch of `name` in front of it. */
  readonly wrap: (name: string, provider: Provider.Provider) => Provider.Provider
}

/** Makes a set of switches, all off. Failures are drawn from a seeded sequence, so runs repeat. */
export const make = (seed = 1): Chaos => {
  const outages = new Map<string, Outage>()
  const counts = new Map<string, number>()
  let state = seed >>> 0 || 1
  // xorshift32: a cheap, seeded draw per call.
  const draw = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 0x1_0000_0000
  }
  const fault = (name: string): Effect.Effect<void, LMError.LMServerError> =>
    Effect.suspend(() => {
      const outage = outages.get(name)
      if (outage === undefined || draw() >= outage.failureRate) return Effect.void
      counts.set(name, (counts.get(name) ?? 0) + 1)
      return Effect.zipRight(
        Effect.sleep(Duration.millis(outage.latencyMs ?? 5)),
        Effect.fail(
          new LMError.LMServerError({
            provider: name,
            status: 503,
            message: `${name} failed (503): injected outage (the demo's fault injection)`
          })
        )
      )
    })
  return {
    start: (provider, outage) => Effect.sync(() => void outages.set(provider, outage)),
    stop: (provider) => Effect.sync(() => void outages.delete(provider)),
    injected: (provider) => counts.get(provider) ?? 0,
    wrap: (name, provider) => ({
      ...provider,
      complete: (request) => Effect.zipRight(fault(name), provider.complete(request)),
      stream: (request) => Stream.unwrap(Effect.as(fault(name), provider.stream(request)))
    })
  }
}
