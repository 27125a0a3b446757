/**
 * Phase 4, outage: the primary provider fails every call (injected in front of it, `Chaos`); its breaker opens,
 * the traffic fails over to the backup, and when the provider is back the breaker half-opens, closes, and the
 * traffic returns. The breaker's transitions are read back from the Events store.
 */
import { Events } from "@effect-dspy/foundation"
import { type Alert, AlertRule, Application, LMProviders, Observability } from "@effect-dspy/services"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stage from "./Stage.js"

/** What the outage showed. */
export interface Outage {
  /** The primary's breaker states, in order, from the one before the outage. */
  readonly breakerStates: ReadonlyArray<string>
  /** The alerts that fired and resolved from the outage's start to the recovery (times from the start, ms). */
  readonly alerts: ReadonlyArray<AlertReport>
  /** Readiness before the outage, while the breaker was open, and after the recovery. */
  readonly health: {
    readonly before: HealthReport
    readonly during: HealthReport
    readonly after: HealthReport
  }
}

/** One alert of the outage. */
export interface AlertReport {
  readonly rule: string
  readonly severity: string
  readonly series: string
  readonly message: string
  readonly firedAtMs: number
  readonly resolvedAtMs: number | null
}

/** A readiness snapshot. */
export interface HealthReport {
  readonly status: string
  readonly ready: boolean
  readonly reasons: ReadonlyArray<string>
}

/** The outage's own alert: the primary's circuit open (sampled every rollup interval). */
const circuitRule = (primary: string) =>
  AlertRule.make({
    name: "provider_circuit_open",
    description: `provider ${primary}'s circuit is open`,
    severity: "warning",
    selector: { metric: "provider.circuit_open", provider: primary },
    statistic: "max",
    windowMs: 1_500,
    condition: AlertRule.threshold(">=", 1),
    cooldownMs: 10_000
  })

const healthOf = Effect.map(Application.health, (h) => ({
  status: h.readiness.status,
  ready: h.readiness.ready,
  reasons: h.readiness.reasons
}))

/** Takes the primary provider down for `outageMs`, then waits for it to recover. */
export const run = (
  stage: Stage.Stage
): Effect.Effect<
  Outage,
  unknown,
  LMProviders.LMProviders | Events.Events | Observability.Observability | Application.Application
> =>
  Effect.gen(function* () {
    const { settings, requests, log, step } = stage
    const { provider } = settings
    const providers = yield* LMProviders.LMProviders
    const events = yield* Events.Events
    const observability = yield* Observability.Observability
    const alerts = observability.alerts
    yield* alerts.setRules([
      ...(yield* alerts.rules).filter((r) => r.name !== "provider_circuit_open"),
      circuitRule(provider.primary)
    ])
    const healthBefore = yield* healthOf
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
    const healthDuring = yield* healthOf
    log(`  health: ${healthDuring.status} (${healthDuring.reasons.join("; ")})`)
    const sinceOutage = (a: Alert.Alert) => a.firedAt >= outageStarted
    // The loop samples the circuit every rollup interval: the outage lasts until its alert has fired.
    yield* Stage.waitUntil(
      "the outage's alert to fire",
      Effect.map(alerts.recent, (all) => all.some((a) => sinceOutage(a) && a.rule === "provider_circuit_open")),
      "15 seconds"
    )
    yield* Effect.sleep(Duration.millis(settings.outageMs))
    yield* settings.chaos.stop(provider.primary)
    yield* requests.setPhase("recovery")
    log(`  ${provider.primary} is back; the breaker lets a trial call through after its recovery time.`)
    yield* Stage.waitUntil(
      `${provider.primary} to recover`,
      Effect.map(statusOf(provider.primary), (s) => s.recoveries > primaryBefore.recoveries && s.circuit === "closed"),
      Duration.millis(settings.recoveryMs + 30_000)
    )
    yield* Stage.waitUntil(
      "the outage's alert to resolve",
      Effect.map(alerts.active, (all) => !all.some((a) => a.rule === "provider_circuit_open")),
      "15 seconds"
    )
    const recent = (yield* alerts.recent).filter(sinceOutage)
    const alertReports: Array<AlertReport> = []
    for (const a of recent) {
      if (a.status === "firing") {
        alertReports.push({
          rule: a.rule,
          severity: a.severity,
          series: [a.series.metric, a.series.provider, a.series.module].filter((x) => x !== undefined).join(":"),
          message: a.message,
          firedAtMs: a.firedAt - outageStarted,
          resolvedAtMs: recent.find((r) => r.id === a.id && r.status === "resolved")?.resolvedAt ?? null
        })
        log(`  alert fired: ${a.rule}: ${a.message}`)
      }
    }
    for (const [i, r] of alertReports.entries()) {
      if (r.resolvedAtMs !== null) alertReports[i] = { ...r, resolvedAtMs: r.resolvedAtMs - outageStarted }
    }
    // Readiness comes back once the breaker has closed (a critical alert still firing keeps it degraded).
    yield* Effect.ignore(
      Stage.waitUntil(
        "readiness to be healthy again",
        Effect.map(healthOf, (h) => h.status === "healthy"),
        "5 seconds"
      )
    )
    const healthAfter = yield* healthOf
    log(`  health: ${healthBefore.status} -> ${healthDuring.status} -> ${healthAfter.status}`)
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
    return {
      breakerStates,
      alerts: alertReports,
      health: { before: healthBefore, during: healthDuring, after: healthAfter }
    }
  })
