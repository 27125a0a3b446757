/** The alerts group's handlers. */
import { Observability } from "@effect-dspy/services"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Api } from "../../Api.js"
import type * as AlertsApi from "../../api/AlertsApi.js"
import { requireOperator } from "../../Auth.js"
import * as Sse from "../../Sse.js"
import type { Gate } from "../gate.js"
import { GateTag } from "./context.js"
import { seriesOf } from "./history.js"

type Alert = Observability.TickReport["alerts"][number]

/** An alert as the API shows it. */
export const toAlert = (a: Alert): typeof AlertsApi.Alert.Type => ({
  id: a.id,
  rule: a.rule,
  severity: a.severity,
  series: seriesOf(a.series),
  status: a.status,
  value: a.value,
  message: a.message,
  pendingSince: a.pendingSince,
  firedAt: a.firedAt,
  resolvedAt: a.resolvedAt ?? null
})

/** A transition's key: the alert and its status (an alert fires once and resolves once). */
const keyOf = (a: Alert): string => `${a.id}:${a.status}`

/**
 * The alerts' transitions as SSE events: first the firing alerts (`snapshot`), then every transition seen since
 * (`firing` or `resolved`), polled every `every`.
 */
export const alertEvents = (
  observability: Observability.Service,
  every: Duration.Duration
): Stream.Stream<Sse.Event, never> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const seen = new Set((yield* observability.alerts.recent).map(keyOf))
      const active = yield* observability.alerts.active
      let n = 0
      const head: Sse.Event = {
        id: String(n++),
        event: "snapshot",
        data: JSON.stringify(active.map(toAlert))
      }
      const changes = Stream.repeatEffectWithSchedule(observability.alerts.recent, Schedule.spaced(every)).pipe(
        Stream.mapConcat((recent) => {
          const out: Array<Sse.Event> = []
          for (const a of recent) {
            const key = keyOf(a)
            if (seen.has(key)) continue
            seen.add(key)
            out.push({ id: String(n++), event: a.status, data: JSON.stringify(toAlert(a)) })
          }
          return out
        })
      )
      return Stream.concat(Stream.make(head), changes)
    })
  )

/** The handlers of the `alerts` group. */
export const layer = HttpApiBuilder.group(Api, "alerts", (handlers) =>
  Effect.gen(function* () {
    const observability = yield* Observability.Observability
    const gate: Gate = yield* GateTag
    return handlers
      .handle("active", () =>
        Effect.zipRight(
          requireOperator("read"),
          Effect.map(observability.alerts.active, (all) => all.map(toAlert))
        )
      )
      .handle("recent", () =>
        Effect.zipRight(
          requireOperator("read"),
          Effect.map(observability.alerts.recent, (all) => all.map(toAlert))
        )
      )
      .handle("rules", () =>
        Effect.zipRight(
          requireOperator("read"),
          Effect.map(observability.alerts.rules, (all) =>
            all.map((r) => ({
              name: r.name,
              description: r.description,
              severity: r.severity,
              selector: seriesOf(r.selector),
              statistic: r.statistic,
              windowMs: r.windowMs,
              condition: JSON.parse(JSON.stringify(r.condition)) as Record<string, unknown>,
              forMs: r.forMs,
              cooldownMs: r.cooldownMs,
              minCount: r.minCount
            }))
          )
        )
      )
      .handle("tail", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* requireOperator("read")
          const every = Duration.millis(urlParams.intervalMs ?? 1000)
          return Sse.response(gate.sseStream(alertEvents(observability, every), { live: true }))
        })
      )
  })
)
