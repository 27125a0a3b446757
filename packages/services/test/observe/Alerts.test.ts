/**
 * The alerts engine: a rule fires only after its for-duration and then resolves; a holding rule is one alert
 * (deduplicated) and a resolved one waits out its cooldown; anomaly, rate-of-change and forecast-crossing rules
 * through the analytics models; transitions reach the event store and OpenTelemetry; a webhook is retried with
 * backoff and its failures never reach the evaluation; bad rules are typed errors.
 */
import { Events, Telemetry } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import {
  AlertPresets,
  AlertRule,
  AlertSink,
  Alerts,
  MetricHistory,
  SeriesModels,
  ServicesEvents
} from "../../src/index.js"

const errors = { metric: "module.errors", module: "qa" }

const errorRule = AlertRule.make({
  name: "error_rate",
  selector: { metric: "module.errors" },
  statistic: "mean",
  windowMs: 3_000,
  condition: AlertRule.threshold(">", 0.5),
  forMs: 3_000,
  cooldownMs: 10_000
})

/** Records `value` `n` times now, then moves the clock one second and evaluates. */
const tick = (history: MetricHistory.Service, alerts: Alerts.Service, value: number, n = 5) =>
  Effect.gen(function* () {
    for (let i = 0; i < n; i++) yield* history.record(errors, value)
    yield* TestClock.adjust("1 second")
    return yield* alerts.evaluate
  })

describe("Alerts", () => {
  it.scoped("fires only after the for-duration, then resolves, through the event store", () =>
    Effect.gen(function* () {
      const events = yield* Events.makeMemory()
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const alerts = yield* Alerts.make(history, { rules: [errorRule], sinks: [AlertSink.events(events)] })
      // Failing from t=0: pending at 1 s, 2 s; fires when it has held 3 s.
      assert.deepStrictEqual((yield* tick(history, alerts, 1)).length, 0)
      assert.deepStrictEqual((yield* tick(history, alerts, 1)).length, 0)
      assert.deepStrictEqual((yield* tick(history, alerts, 1)).length, 0)
      const fired = yield* tick(history, alerts, 1)
      assert.strictEqual(fired.length, 1)
      assert.strictEqual(fired[0]!.status, "firing")
      assert.deepStrictEqual(fired[0]!.series, errors)
      assert.include(fired[0]!.message, "mean of module.errors{module=qa}")
      assert.strictEqual((yield* alerts.active).length, 1)
      // Healthy again: the window's mean falls under the threshold and the alert resolves.
      const resolved = [...(yield* tick(history, alerts, 0, 20)), ...(yield* tick(history, alerts, 0, 20))]
      assert.deepStrictEqual(
        resolved.map((a) => [a.status, a.firedAt]),
        [["resolved", fired[0]!.firedAt]]
      )
      assert.deepStrictEqual(
        [...(yield* alerts.recent)].map((a) => a.status),
        ["firing", "resolved"]
      )
      assert.strictEqual((yield* alerts.active).length, 0)
      // The sink's fiber has recorded both.
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 millis")
      const stored = yield* events.query({ types: [ServicesEvents.AlertFired.type, ServicesEvents.AlertResolved.type] })
      assert.deepStrictEqual(
        stored.map((e) => e.type),
        ["alert_fired", "alert_resolved"]
      )
      assert.strictEqual(stored[1]!.data.rule, "error_rate")
    })
  )

  it.scoped("a holding rule is one alert; after resolving it waits out its cooldown", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const alerts = yield* Alerts.make(history, { rules: [{ ...errorRule, forMs: 0 }] })
      const first = yield* tick(history, alerts, 1)
      assert.strictEqual(first.length, 1)
      // Ten more evaluations while it holds: no new alert.
      for (let i = 0; i < 10; i++) assert.strictEqual((yield* tick(history, alerts, 1)).length, 0)
      assert.strictEqual((yield* alerts.recent).length, 1)
      // Resolve (the window empties of failures).
      let changes = 0
      for (let i = 0; i < 4; i++) changes += (yield* tick(history, alerts, 0, 20)).length
      assert.strictEqual(changes, 1)
      // Failing again at once: suppressed by the 10 s cooldown, fires when it is over.
      let refired: number | undefined
      for (let s = 1; s <= 12; s++) {
        if ((yield* tick(history, alerts, 1, 50)).some((a) => a.status === "firing")) {
          refired = s
          break
        }
      }
      assert.isDefined(refired)
      assert.isAtLeast(refired!, 7)
      assert.deepStrictEqual(
        [...(yield* alerts.recent)].map((a) => a.status),
        ["firing", "resolved", "firing"]
      )
    })
  )

  it.scoped("no values, or fewer than minCount, never fire (a cold start is not an alert)", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const alerts = yield* Alerts.make(history, { rules: [{ ...errorRule, forMs: 0, minCount: 100 }] })
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* tick(history, alerts, 1, 3)).length, 0)
    })
  )

  it.scoped("an anomaly rule fires on a spike after its detector's warm-up, and not during it", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const latency = { metric: "module.latency_ms", module: "qa" }
      const alerts = yield* Alerts.make(history, {
        models: SeriesModels.analytics(),
        rules: [
          {
            name: "latency_anomaly",
            selector: { metric: "module.latency_ms" },
            statistic: "mean",
            windowMs: 120_000,
            condition: AlertRule.anomaly("robust_z")
          }
        ]
      })
      // A spike in the first seconds is inside the warm-up: nothing fires.
      for (let s = 0; s < 60; s++) {
        yield* history.record(latency, s === 3 ? 5_000 : 100 + ((s * 7) % 5))
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* alerts.evaluate).length, 0, `second ${s}`)
      }
      // Then a spike of 50x: the newest interval is an anomaly.
      yield* history.record(latency, 5_000)
      yield* TestClock.adjust("1 second")
      const fired = yield* alerts.evaluate
      assert.strictEqual(fired.length, 1)
      assert.include(fired[0]!.message, "robust")
    })
  )

  it.scoped("a forecast rule says when the daily budget runs out at this rate", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const cost = { metric: "lm.cost_usd", provider: "sim" }
      const alerts = yield* Alerts.make(history, {
        models: SeriesModels.analytics(),
        rules: [AlertPresets.lmBudget(10, { horizonMs: 600_000, windowMs: 60_000 })]
      })
      // $0.01 a second: $10 takes 1,000 s, past the 10-minute horizon at first.
      let fired: ReadonlyArray<unknown> = []
      let at = 0
      for (let s = 1; s <= 600 && fired.length === 0; s++) {
        yield* history.record(cost, 0.01)
        yield* TestClock.adjust("1 second")
        fired = yield* alerts.evaluate
        at = s
      }
      // It fires once the crossing (at ~1,000 s) is inside the horizon: from about 400 s on.
      assert.strictEqual(fired.length, 1)
      assert.isAtLeast(at, 380)
      assert.isAtMost(at, 420)
      const alert = (yield* alerts.active)[0]!
      assert.match(alert.message, /reaches 10 at this rate by 00:1[67] UTC/)
    })
  )

  it.scoped("a stagnation rule (rate of change) fires when scores stop rising", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const alerts = yield* Alerts.make(history, {
        models: SeriesModels.analytics(),
        rules: [
          AlertRule.make({
            name: "stagnation",
            selector: { metric: "optimization.score" },
            statistic: "max",
            windowMs: 10_000,
            condition: AlertRule.rateOfChange("<", 1),
            minCount: 5
          })
        ]
      })
      const score = { metric: "optimization.score", job: "j1" }
      // Rising by 1 a second (60 a minute): not stagnating.
      for (let s = 0; s < 15; s++) {
        yield* history.record(score, s)
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* alerts.evaluate).length, 0)
      }
      // Flat: the slope falls under 1 a minute once the window holds only flat values.
      let fired = false
      for (let s = 0; s < 15 && !fired; s++) {
        yield* history.record(score, 15)
        yield* TestClock.adjust("1 second")
        fired = (yield* alerts.evaluate).length === 1
      }
      assert.isTrue(fired)
    })
  )

  it.scoped("transitions are OpenTelemetry spans", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const alerts = yield* Alerts.make(history, { rules: [{ ...errorRule, forMs: 0 }] })
      yield* tick(history, alerts, 1)
      const spans = yield* Telemetry.finishedSpans
      const span = spans.find((s) => s.name === "dspy.alert.fired")
      assert.isDefined(span)
      assert.strictEqual(span!.attributes["dspy.alert.rule"], "error_rate")
    }).pipe(Effect.provide(Telemetry.layerTest))
  )

  it.scoped("bad rules are typed errors naming the field", () =>
    Effect.gen(function* () {
      const history = yield* MetricHistory.make({ intervalMs: 1_000 })
      const bad = yield* Effect.flip(Alerts.make(history, { rules: [{ ...errorRule, windowMs: 0 }] }))
      assert.strictEqual(bad._tag, "ObserveInvalidInput")
      assert.strictEqual(bad.field, "rules.error_rate.windowMs")
      const twice = yield* Effect.flip(Alerts.make(history, { rules: [errorRule, errorRule] }))
      assert.include(twice.message, "Two alert rules")
      const name = yield* Effect.flip(Alerts.make(history, { rules: [{ ...errorRule, name: "Bad Name" }] }))
      assert.include(name.message, "snake_case")
    })
  )
})

/** A loopback server answering each POST with the next status of `statuses` (the last one repeats). */
const serve = (statuses: ReadonlyArray<number>, delayMs = 0) =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; bodies: Array<string> }>((resume) => {
      const bodies: Array<string> = []
      const server = http.createServer((req, res) => {
        const parts: Array<Buffer> = []
        req.on("data", (b: Buffer) => parts.push(b))
        req.on("end", () => {
          bodies.push(Buffer.concat(parts).toString("utf8"))
          const status = statuses[Math.min(bodies.length - 1, statuses.length - 1)]!
          setTimeout(() => res.writeHead(status).end(), delayMs)
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, bodies })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(
    Effect.map(({ server, bodies }) => ({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
      bodies
    }))
  )

describe("AlertSink.webhook", () => {
  it.live("is retried with backoff until the receiver takes the alert", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* serve([500, 503, 200])
        const history = yield* MetricHistory.make({ intervalMs: 1_000 })
        const alerts = yield* Alerts.make(history, {
          rules: [{ ...errorRule, forMs: 0 }],
          sinks: [AlertSink.webhook({ url: server.url, baseDelay: "5 millis" })]
        })
        for (let i = 0; i < 5; i++) yield* history.record(errors, 1)
        assert.strictEqual((yield* alerts.evaluate).length, 1)
        while (server.bodies.length < 3) yield* Effect.sleep("5 millis")
        const body = JSON.parse(server.bodies[2]!) as { alert: { rule: string; status: string } }
        assert.strictEqual(body.alert.rule, "error_rate")
        assert.strictEqual(body.alert.status, "firing")
        yield* Effect.sleep("30 millis")
        assert.strictEqual(server.bodies.length, 3)
      })
    )
  )

  it.live("a failing, slow receiver never holds up evaluation; its failure is an event", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* serve([500], 20)
        const events = yield* Events.makeMemory()
        const history = yield* MetricHistory.make({ intervalMs: 1_000 })
        const alerts = yield* Alerts.make(history, {
          rules: [{ ...errorRule, forMs: 0 }],
          sinks: [AlertSink.webhook({ url: server.url, baseDelay: "5 millis", maxAttempts: 3 })],
          events
        })
        for (let i = 0; i < 5; i++) yield* history.record(errors, 1)
        // The evaluation returns before the receiver has answered even once.
        assert.strictEqual((yield* alerts.evaluate).length, 1)
        assert.strictEqual(yield* alerts.active.pipe(Effect.map((a) => a.length)), 1)
        let failed: ReadonlyArray<Events.Event> = []
        while (failed.length === 0) {
          yield* Effect.sleep("10 millis")
          failed = yield* events.query({ types: [ServicesEvents.AlertDeliveryFailed.type] })
        }
        assert.strictEqual(server.bodies.length, 3)
        assert.strictEqual(failed[0]!.data.attempts, 3)
        assert.include(String(failed[0]!.data.reason), "HTTP 500")
      })
    )
  )
})
