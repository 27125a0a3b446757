import { AlertRule, Observability } from "@effect-dspy/services"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { client, type Harness, sse, start } from "./support.js"

const spec = { id: "qa", kind: "predict", signature: "question -> answer" } as const

const raw = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, text: await response.text() }
  })

/** The demo's outage alert: the primary's circuit open, sampled every rollup interval. */
const circuitRule = AlertRule.make({
  name: "provider_circuit_open",
  description: "provider sim's circuit is open",
  severity: "warning",
  selector: { metric: "provider.circuit_open", provider: "sim" },
  statistic: "max",
  windowMs: 1_500,
  condition: AlertRule.threshold(">=", 1),
  cooldownMs: 10_000
})

const observabilityOf = (h: Harness) => Context.get(h.context, Observability.Observability)

/** Takes `sim` down until its breaker opens (the executions fail over to `sim_backup`). */
const outage = (h: Harness, key: string) =>
  Effect.gen(function* () {
    const admin = yield* client(h.url, key)
    h.outage.set("sim", true)
    for (let i = 0; i < 10; i++) {
      // The calls fail (503s) until the breaker opens; then they fail over to the backup.
      yield* Effect.either(
        admin.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: `outage ${i}?` } } })
      )
      const providers = yield* admin.system.providers()
      if (providers.find((p) => p.name === "sim")?.circuit === "open") return
    }
    return yield* Effect.dieMessage("the breaker of sim never opened")
  })

/** Ticks observability (sampling, flushing, evaluating the alerts) until `done`. */
const tickUntil = (h: Harness, done: Effect.Effect<boolean>) =>
  Effect.gen(function* () {
    const observability = observabilityOf(h)
    for (let i = 0; i < 200; i++) {
      yield* Effect.orDie(observability.tick)
      if (yield* done) return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage("the condition never held")
  })

describe("metrics, forecasts, alerts and probes over HTTP", () => {
  it.scopedLive("an outage fires provider_circuit_open: active, recent, rules and the SSE tail show it", () =>
    Effect.gen(function* () {
      const h = yield* start({ observeIntervalMs: 200 })
      const observability = observabilityOf(h)
      yield* observability.alerts.setRules([circuitRule])
      const admin = yield* client(h.url, h.keys.admin)
      const reader = yield* client(h.url, h.keys.reader)
      yield* admin.modules.create({ payload: spec })
      const rules = yield* reader.alerts.rules()
      assert.deepStrictEqual(
        rules.map((r) => [r.name, r.statistic, r.selector.provider]),
        [["provider_circuit_open", "max", "sim"]]
      )
      assert.deepStrictEqual(yield* reader.alerts.active(), [])
      const tail = yield* Effect.fork(
        sse(`${h.url}/alerts/stream?intervalMs=100`, { authorization: `Bearer ${h.keys.reader}` }).pipe(
          Stream.filter((e) => e.event === "firing"),
          Stream.take(1),
          Stream.runCollect
        )
      )
      yield* outage(h, h.keys.admin)
      yield* tickUntil(
        h,
        Effect.map(observability.alerts.active, (all) => all.some((a) => a.rule === "provider_circuit_open"))
      )
      const active = yield* reader.alerts.active()
      assert.strictEqual(active.length, 1)
      assert.deepStrictEqual(
        [active[0]!.rule, active[0]!.status, active[0]!.series.provider],
        ["provider_circuit_open", "firing", "sim"]
      )
      const recent = yield* reader.alerts.recent()
      assert.isTrue(recent.some((a) => a.id === active[0]!.id && a.status === "firing"))
      const streamed = Array.from(yield* Fiber.join(tail))
      assert.strictEqual(JSON.parse(streamed[0]!.data).id, active[0]!.id)
      // The readiness reasons name the open circuit (degraded: the backup takes the traffic, still ready).
      const ready = yield* reader.probes.ready()
      assert.strictEqual(ready.readiness, "degraded")
      assert.isTrue(ready.reasons!.some((r) => r.includes("sim")))
      h.outage.set("sim", false)
      // Scopes: no key is 401.
      const anonymous = yield* client(h.url)
      assert.strictEqual((yield* Effect.flip(anonymous.alerts.active()))._tag, "Unauthorized")
      const unauthorizedTail = yield* raw(`${h.url}/alerts/stream`)
      assert.strictEqual(unauthorizedTail.status, 401)
      const badInterval = yield* raw(`${h.url}/alerts/stream?intervalMs=5`, {
        headers: { authorization: `Bearer ${h.keys.reader}` }
      })
      assert.strictEqual(badInterval.status, 400)
      assert.include(badInterval.text, "intervalMs")
    })
  )

  it.scopedLive("metric history by selector and range, forecasts with intervals, bad ranges are 400s", () =>
    Effect.gen(function* () {
      const h = yield* start({ observeIntervalMs: 200 })
      const observability = observabilityOf(h)
      const admin = yield* client(h.url, h.keys.admin)
      const reader = yield* client(h.url, h.keys.reader)
      yield* admin.modules.create({ payload: spec })
      const from = Date.now() - 3_600_000
      // Executions over several rollup intervals (a forecast learns from a few intervals of history).
      for (let i = 0; i < 8; i++) {
        yield* admin.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: `${i} + 1?` } } })
        yield* Effect.sleep("120 millis")
      }
      // Until the history holds enough intervals for the module's forecast.
      yield* tickUntil(
        h,
        Effect.map(
          Effect.orDie(
            observability.forecast({
              selector: { metric: "module.latency_ms", module: "qa" },
              statistic: "count",
              windowMs: 60_000,
              horizonMs: 10_000
            })
          ),
          (reports) => reports.length > 0 && reports.every((r) => r.points.length > 0)
        )
      )
      yield* Effect.orDie(observability.history.flush({ all: true }))
      const series = yield* reader.history.series()
      const qa = series.find((s) => s.module === "qa")
      assert.isDefined(qa)
      const to = Date.now() + 60_000
      const points = yield* reader.history.query({
        urlParams: { metric: qa!.metric, module: "qa", from, to }
      })
      assert.isAbove(points.length, 0)
      assert.isTrue(points.every((p) => p.series.metric === qa!.metric && p.series.module === "qa"))
      assert.isAbove(
        points.reduce((n, p) => n + p.count, 0),
        0
      )
      // Another module matches nothing.
      const none = yield* reader.history.query({ urlParams: { metric: qa!.metric, module: "other", from, to } })
      assert.deepStrictEqual(none, [])
      const forecasts = yield* reader.history.forecast({
        urlParams: {
          metric: "module.latency_ms",
          module: "qa",
          statistic: "count",
          windowMs: 60_000,
          horizonMs: 10_000
        }
      })
      assert.isAbove(forecasts.length, 0)
      const forecast = forecasts[0]!
      assert.strictEqual(forecast.series.module, "qa")
      assert.isAbove(forecast.points.length, 0)
      // One point per interval ahead, each with a predicted value.
      assert.isTrue(forecast.points.every((p, i) => p.mean !== null && (i === 0 || p.at > forecast.points[i - 1]!.at)))
      for (const p of forecast.points) {
        if (p.lower !== null) assert.isAtMost(p.lower, p.mean!)
        if (p.upper !== null) assert.isAtLeast(p.upper, p.mean!)
      }
      // A range ending before it starts, and a non-numeric bound, are 400s naming the field.
      const reversed = yield* Effect.flip(
        reader.history.query({ urlParams: { metric: qa!.metric, from: to, to: from } })
      )
      assert.strictEqual(reversed._tag, "BadRequest")
      assert.strictEqual((reversed as { readonly field?: string }).field, "to")
      const notNumber = yield* raw(`${h.url}/metrics/history?metric=x&from=yesterday&to=1`, {
        headers: { authorization: `Bearer ${h.keys.reader}` }
      })
      assert.strictEqual(notNumber.status, 400)
      assert.include(notNumber.text, "from")
      const badStatistic = yield* raw(`${h.url}/metrics/forecast?metric=x&statistic=median`, {
        headers: { authorization: `Bearer ${h.keys.reader}` }
      })
      assert.strictEqual(badStatistic.status, 400)
      assert.include(badStatistic.text, "statistic")
      const anonymous = yield* client(h.url)
      assert.strictEqual(
        (yield* Effect.flip(anonymous.history.query({ urlParams: { metric: qa!.metric, from, to } })))._tag,
        "Unauthorized"
      )
    })
  )

  it.scopedLive("probes come from Application.health: live with no reasons, ready with its readiness", () =>
    Effect.gen(function* () {
      const h = yield* start()
      const admin = yield* client(h.url, h.keys.admin)
      yield* admin.modules.create({ payload: spec })
      yield* admin.modules.execute({ path: { id: "qa" }, payload: { inputs: { question: "1 + 1?" } } })
      const live = yield* raw(`${h.url}/health/live`)
      assert.strictEqual(live.status, 200)
      assert.deepStrictEqual(JSON.parse(live.text), { status: "ok", reasons: [] })
      const ready = yield* raw(`${h.url}/health/ready`)
      assert.strictEqual(ready.status, 200)
      assert.deepStrictEqual(JSON.parse(ready.text), { status: "ok", readiness: "healthy", reasons: [] })
    })
  )
})
