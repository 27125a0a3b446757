import { assert, describe, it } from "@effect/vitest"
import { DataPointType } from "@opentelemetry/sdk-metrics"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import * as Config from "../src/Config.js"
import * as Correlation from "../src/Correlation.js"
import * as Metrics from "../src/Metrics.js"
import * as Telemetry from "../src/Telemetry.js"

describe("Telemetry", () => {
  it.effect("span records the correlation id; nested spans share it and nest", () =>
    Effect.gen(function* () {
      yield* Effect.void.pipe(
        Telemetry.span("lm.request", { provider: "openai", model: "sim-1" }),
        Telemetry.span("module.execute", { module: "cot" })
      )
      yield* Effect.void.pipe(Telemetry.span("given"), Correlation.withCorrelationId("req_given"))
      const spans = yield* Telemetry.finishedSpans
      const byName = new Map(spans.map((s) => [s.name, s]))
      const outer = byName.get("module.execute")
      const inner = byName.get("lm.request")
      assert.isDefined(outer)
      assert.isDefined(inner)
      const id = outer?.attributes[Telemetry.correlationAttribute]
      assert.isString(id)
      assert.match(id as string, /^req_/)
      assert.strictEqual(inner?.attributes[Telemetry.correlationAttribute], id)
      assert.strictEqual(inner?.attributes.provider, "openai")
      assert.strictEqual(outer?.attributes.module, "cot")
      assert.strictEqual(inner?.parentSpanContext?.spanId, outer?.spanContext().spanId)
      assert.strictEqual(inner?.spanContext().traceId, outer?.spanContext().traceId)
      assert.strictEqual(byName.get("given")?.attributes[Telemetry.correlationAttribute], "req_given")
    }).pipe(Effect.provide(Telemetry.layerTest))
  )

  it.effect("the effect inside a span runs under the span's correlation id; secrets are not written", () =>
    Effect.gen(function* () {
      const seen = yield* Correlation.current.pipe(
        Telemetry.span("outer", { apiKey: Redacted.make("sk-secret-value") })
      )
      const spans = yield* Telemetry.finishedSpans
      assert.strictEqual(
        spans[0]?.attributes[Telemetry.correlationAttribute],
        seen._tag === "Some" ? seen.value : "none"
      )
      assert.strictEqual(spans[0]?.attributes.apiKey, "<redacted>")
      assert.notInclude(JSON.stringify(spans[0]?.attributes), "sk-secret-value")
    }).pipe(Effect.provide(Telemetry.layerTest))
  )

  it.effect("the metrics of Metrics.ts update, read back with Metric.value, and map to OpenTelemetry", () =>
    Effect.gen(function* () {
      const success = Metric.tagged(Metrics.moduleExecutionSuccess, "test", "telemetry")
      const duration = Metric.tagged(Metrics.moduleExecutionDuration, "test", "telemetry")
      const score = Metric.tagged(Metrics.optimizationScore, "test", "telemetry")
      const tokens = Metric.tagged(Metrics.lmRequestTokens, "test", "telemetry")
      yield* Metric.increment(success)
      yield* Metric.increment(success)
      yield* Metric.update(duration, 12.5)
      yield* Metric.update(duration, 200)
      yield* Metric.set(score, 0.85)
      yield* Metric.incrementBy(tokens, 225)
      assert.strictEqual((yield* Metric.value(success)).count, 2)
      const hist = yield* Metric.value(duration)
      assert.strictEqual(hist.count, 2)
      assert.strictEqual(hist.sum, 212.5)
      assert.strictEqual((yield* Metric.value(score)).value, 0.85)
      assert.strictEqual((yield* Metric.value(tokens)).count, 225)

      const collected = yield* Telemetry.collectMetrics
      const all = collected.scopeMetrics.flatMap((s) => s.metrics)
      const find = (name: string) => all.find((m) => m.descriptor.name === name)
      const successData = find("dspy.module.execution.success")
      assert.strictEqual(successData?.dataPointType, DataPointType.SUM)
      assert.isTrue(successData?.dataPointType === DataPointType.SUM && successData.isMonotonic)
      const point = successData?.dataPoints.find((p) => p.attributes.test === "telemetry")
      assert.strictEqual(point?.value, 2)
      assert.strictEqual(find("dspy.optimization.score")?.dataPointType, DataPointType.GAUGE)
      const durationData = find("dspy.module.execution.duration")
      assert.strictEqual(durationData?.dataPointType, DataPointType.HISTOGRAM)
      const histPoint = durationData?.dataPoints.find((p) => p.attributes.test === "telemetry")
      assert.deepInclude(histPoint?.value as object, { count: 2, sum: 212.5 })
    }).pipe(Effect.provide(Telemetry.layerTest))
  )

  it.live("writes spans to a JSON-lines file", () =>
    Effect.gen(function* () {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "effect-dspy-spans-")), "spans.jsonl")
      yield* Effect.void.pipe(
        Telemetry.span("child", { n: 1 }),
        Telemetry.span("parent"),
        Correlation.withCorrelationId("req_file"),
        Effect.provide(Telemetry.layer({ spansFile: file, serviceName: "file-test" }))
      )
      const lines = fs
        .readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as {
              name: string
              attributes: Record<string, unknown>
              serviceName: string
              parentSpanId: string | null
              spanId: string
            }
        )
      assert.deepStrictEqual(lines.map((l) => l.name).sort(), ["child", "parent"])
      for (const line of lines) {
        assert.strictEqual(line.attributes[Telemetry.correlationAttribute], "req_file")
        assert.strictEqual(line.serviceName, "file-test")
      }
      const parent = lines.find((l) => l.name === "parent")
      assert.strictEqual(lines.find((l) => l.name === "child")?.parentSpanId, parent?.spanId)
    })
  )

  it.live("exports spans by OTLP/HTTP to the endpoint in Config (a loopback receiver)", () =>
    Effect.gen(function* () {
      const { port, received } = yield* receiver
      yield* Effect.void.pipe(
        Telemetry.span("exported", { k: "v" }),
        Correlation.withCorrelationId("req_otlp"),
        Effect.provide(
          Telemetry.layer().pipe(
            Layer.provide(
              Config.layerTest({ telemetry: { otlpEndpoint: `http://127.0.0.1:${port}`, serviceName: "otlp-test" } })
            )
          )
        )
      )
      assert.isAbove(received.length, 0)
      assert.strictEqual(received[0]?.url, "/v1/traces")
      assert.include(received[0]?.body, "exported")
      assert.include(received[0]?.body, "req_otlp")
      assert.include(received[0]?.body, "otlp-test")
    }).pipe(Effect.scoped)
  )

  it.live("OTEL_EXPORTER_OTLP_ENDPOINT is read through the ConfigProvider", () =>
    Effect.gen(function* () {
      const { port, received } = yield* receiver
      yield* Effect.void.pipe(
        Telemetry.span("from-env"),
        Effect.provide(Telemetry.layer()),
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["OTEL_EXPORTER_OTLP_ENDPOINT", `http://127.0.0.1:${port}/`]]))
        )
      )
      assert.strictEqual(received[0]?.url, "/v1/traces")
      assert.include(received[0]?.body, "from-env")
    }).pipe(Effect.scoped)
  )
})

/** An OTLP/HTTP receiver on loopback that records each request. */
const receiver = Effect.gen(function* () {
  const received: Array<{ url: string; body: string }> = []
  const server = yield* Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const s = http.createServer((req, res) => {
        let body = ""
        req.on("data", (chunk: Buffer) => {
          body += chunk.toString("utf8")
        })
        req.on("end", () => {
          received.push({ url: req.url ?? "", body })
          res.writeHead(200, { "content-type": "application/json" })
          res.end("{}")
        })
      })
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.async<void>((resume) => {
        s.closeAllConnections()
        s.close(() => resume(Effect.void))
      })
  )
  return { port: (server.address() as { port: number }).port, received }
})
