/**
 * Phase 4, outage: the primary provider fails every call (injected in front of it, `Chaos`); its breaker opens,
 * the traffic fails over to the backup, and when the provider is back the breaker half-opens, closes, and the
 * traffic returns. The breaker's transitions are read back from the Events store.
 */
import { Events } from "@effect-dspy/foundation"
import { LMProviders } from "@effect-dspy/services"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stage from "./Stage.js"

/** What the outage showed. */
export interface Outage {
  /** The primary's breaker states, in order, from the one before the outage. */
  readonly breakerStates: ReadonlyArray<string>
}

/** Takes the primary provider down for `outageMs`, then waits for it to recover. */
export const run = (stage: Stage.Stage): Effect.Effect<Outage, unknown, LMProviders.LMProviders | Events.Events> =>
  Effect.gen(function* () {
    const { settings, requests, log, step } = stage
    const { provider } = settings
    const providers = yield* LMProviders.LMProviders
    const events = yield* Events.Events
    const statusOf = (name: string) => Effect.map(providers.status, (all) => all.find((s) => s.name === name)!)
    const primaryBefore = yield* statusOf(provider.primary)
    const outageStarted = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    yield* requests.setPhase("outage")
    step(`Taking ${provider.primary} down: every call to it fails with 503 for ${settings.outageMs / 1000} s.`)
    yield* settings.chaos.start(provider.primary, { failureRate: 1 })
    yield* Stage.waitUntil(
      `${provider.primary}'s breaker to open`,
      Effect.map(statusOf(provider.primary), (s) => s.failovers > primaryBefore.failovers),
      "30 seconds"
    )
    const opened = yield* statusOf(provider.primary)
    log(`  breaker ${opened.circuit}: traffic fails over to ${provider.backup}.`)
    yield* Effect.sleep(Duration.millis(settings.outageMs))
    yield* settings.chaos.stop(provider.primary)
    yield* requests.setPhase("recovery")
    log(`  ${provider.primary} is back; the breaker lets a trial call through after its recovery time.`)
    yield* Stage.waitUntil(
      `${provider.primary} to recover`,
      Effect.map(statusOf(provider.primary), (s) => s.recoveries > primaryBefore.recoveries && s.circuit === "closed"),
      Duration.millis(settings.recoveryMs + 30_000)
    )
    const transitions = yield* events.query({
      types: ["circuit_breaker_state_changed", "provider_failover", "provider_recovered"],
      from: outageStarted
    })
    const breakerKey = `lm_provider_${provider.primary}`
    const breakerStates: Array<string> = []
    for (const event of transitions) {
      const at = `+${((event.timestamp - outageStarted) / 1000).toFixed(2)}s`
      if (event.type === "circuit_breaker_state_changed") {
        if (event.data["key"] !== breakerKey) continue
        if (breakerStates.length === 0) breakerStates.push(String(event.data["from"]))
        breakerStates.push(String(event.data["to"]))
        log(`  ${at} breaker ${event.data["from"]} -> ${event.data["to"]}`)
      } else {
        log(`  ${at} ${event.type} (${event.data["provider"]} -> ${event.data["backup"]})`)
      }
    }
    const outage = yield* requests.phase("outage")
    const backupStatus = yield* statusOf(provider.backup)
    log(
      `  during the outage: ${outage.answered} answered, ${outage.failed} failed; ${backupStatus.calls} calls served by ${provider.backup}.`
    )
    return { breakerStates }
  })
