/**
 * Where alert notifications go: the event store (`alert_fired` / `alert_resolved`), the log, and webhooks (an
 * HTTP POST of the alert as JSON, retried with exponential backoff). The Alerts service hands each notification
 * to each sink through its own bounded queue and fiber, so a slow or failing sink never delays evaluation or
 * serving; a notification a sink could not deliver after its retries is logged and published as
 * `alert_delivery_failed`.
 *
 * @since 0.1.0
 */
import { Events } from "@effect-dspy/foundation"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { AlertDeliveryFailed } from "../ServicesError.js"
import * as ServicesEvents from "../ServicesEvents.js"
import type * as Alert from "./Alert.js"
import * as Series from "./Series.js"

/**
 * A sink.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sink {
  readonly name: string
  /** Delivers one notification (with its own retries); fails when it could not. */
  readonly deliver: (alert: Alert.Alert) => Effect.Effect<void, AlertDeliveryFailed>
}

const eventData = (alert: Alert.Alert) => ({
  alert_id: alert.id,
  rule: alert.rule,
  severity: alert.severity,
  series: Series.format(alert.series),
  value: Number.isFinite(alert.value) ? alert.value : null,
  message: alert.message
})

/**
 * The event-store sink: `alert_fired` and `alert_resolved` events.
 *
 * @since 0.1.0
 * @category constructors
 */
export const events = (store: Events.Service): Sink => ({
  name: "events",
  deliver: (alert) =>
    Effect.mapError(
      alert.status === "firing"
        ? Events.emit(ServicesEvents.AlertFired, eventData(alert)).pipe(Effect.provideService(Events.Events, store))
        : Events.emit(ServicesEvents.AlertResolved, {
            ...eventData(alert),
            fired_at: alert.firedAt,
            duration_ms: (alert.resolvedAt ?? alert.firedAt) - alert.firedAt
          }).pipe(Effect.provideService(Events.Events, store)),
      (error) =>
        new AlertDeliveryFailed({
          sink: "events",
          attempts: 1,
          reason: error.message,
          message: `The alert ${alert.id} was not recorded in the event store: ${error.message}`
        })
    )
})

/**
 * The log sink: a warning (critical: an error) when an alert fires, an info line when it resolves.
 *
 * @since 0.1.0
 * @category constructors
 */
export const log: Sink = {
  name: "log",
  deliver: (alert) => {
    const line = `alert ${alert.status}: ${alert.rule} on ${Series.format(alert.series)}: ${alert.message}`
    const logged =
      alert.status === "resolved"
        ? Effect.logInfo(line)
        : alert.severity === "critical"
          ? Effect.logError(line)
          : Effect.logWarning(line)
    return Effect.annotateLogs(logged, { alert_id: alert.id, rule: alert.rule, severity: alert.severity })
  }
}

/**
 * A webhook's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebhookOptions {
  readonly url: string
  /** Extra headers (an API key kept `Redacted` until sent). */
  readonly headers?: { readonly [key: string]: string | Redacted.Redacted<string> }
  /** Attempts in all (default 5). */
  readonly maxAttempts?: number
  /** The first retry's delay, doubled at each retry (default 200 ms). */
  readonly baseDelay?: Duration.DurationInput
  /** One attempt's time limit (default 5 s). */
  readonly timeout?: Duration.DurationInput
}

/**
 * A webhook sink: POSTs the alert as JSON (`{"alert": {...}}`); a network error, a timeout or a non-2xx answer is
 * retried with exponential backoff, up to `maxAttempts`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const webhook = (options: WebhookOptions): Sink => {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5)
  const timeout = Duration.decode(options.timeout ?? "5 seconds")
  const headers = (): Record<string, string> => {
    const out: Record<string, string> = { "content-type": "application/json" }
    for (const [k, v] of Object.entries(options.headers ?? {})) out[k] = Redacted.isRedacted(v) ? Redacted.value(v) : v
    return out
  }
  const name = `webhook ${new URL(options.url).origin}`
  return {
    name,
    deliver: (alert) => {
      const body = JSON.stringify({ alert })
      let attempts = 0
      const attempt = Effect.tryPromise({
        try: async (signal) => {
          attempts++
          const response = await fetch(options.url, { method: "POST", headers: headers(), body, signal })
          await response.arrayBuffer()
          if (!response.ok) throw new Error(`HTTP ${response.status}`)
        },
        catch: (e) => (e instanceof Error ? e.message : String(e))
      }).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => `no answer within ${Duration.format(timeout)}` })
      )
      return attempt.pipe(
        Effect.retry(
          Schedule.exponential(options.baseDelay ?? "200 millis").pipe(
            Schedule.intersect(Schedule.recurs(maxAttempts - 1))
          )
        ),
        Effect.mapError(
          (reason) =>
            new AlertDeliveryFailed({
              sink: name,
              attempts,
              reason,
              message: `The webhook ${name} did not take alert ${alert.id} after ${attempts} attempts (last: ${reason}); check the URL and the receiver.`
            })
        )
      )
    }
  }
}
