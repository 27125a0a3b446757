/**
 * Telemetry: traces and metrics through OpenTelemetry (`@effect/opentelemetry`).
 *
 * - {@link layer}: the OpenTelemetry Node SDK with a resource (service name and version). Spans are exported by
 *   OTLP/HTTP when an endpoint is configured (`options.otlpEndpoint`, else the `telemetry.otlpEndpoint` setting
 *   of `Config` when that service is present, else `OTEL_EXPORTER_OTLP_ENDPOINT` read through Effect's
 *   ConfigProvider; `/v1/traces` is appended to a base URL), and/or written to a JSON-lines file
 *   (`options.spansFile`). Effect's metrics are exported through the given metric readers.
 * - {@link layerTest}: spans go to an `InMemorySpanExporter` and metrics to an on-demand reader, both reachable
 *   through the {@link TestTelemetry} service ({@link finishedSpans}, {@link collectMetrics}).
 * - {@link span}: `Effect.withSpan` that also runs the effect under a correlation id (the current one, or a new
 *   one) and records it as the `dspy.correlation_id` attribute; nested spans share it.
 *
 * ## From Effect metrics to OpenTelemetry
 *
 * The metrics of `Metrics.ts` are Effect `Metric`s, updated with `Metric.increment`, `Metric.update`,
 * `Metric.set`, readable with `Metric.value`. The Telemetry layer registers a metric producer that reads Effect's
 * metric registry at each collection and maps each metric by its kind:
 *
 * | Effect metric                       | OpenTelemetry data                    | `Metrics.ts`                                                      |
 * | ----------------------------------- | ------------------------------------- | ----------------------------------------------------------------- |
 * | `Metric.counter` (`incremental`)    | Sum, monotonic (Counter)              | `dspy.module.execution.success`/`.error`, `dspy.lm.request.tokens`/`.cost`, `dspy.optimization.iteration`, `dspy.rate_limiter.rejected` |
 * | `Metric.counter` (not incremental)  | Sum, not monotonic (UpDownCounter)    | -                                                                 |
 * | `Metric.gauge`                      | Gauge                                 | `dspy.optimization.score`, `dspy.circuit_breaker.state`, `dspy.cache.hit_rate` |
 * | `Metric.histogram`                  | Histogram with the metric's boundaries | `dspy.module.execution.duration`, `dspy.lm.request.duration`, `dspy.optimization.duration` |
 * | `Metric.summary`                    | Sum data points tagged by `quantile`  | -                                                                 |
 * | `Metric.frequency`                  | Sum, one data point per observed value | -                                                                 |
 *
 * Names are kept as they are (`dspy.lm.request.duration`); tags added with `Metric.tagged` become data-point
 * attributes, and a `unit` (or `time_unit`) tag becomes the instrument's unit. Temporality is cumulative.
 *
 * @since 0.1.0
 */
import type * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import type * as Resource from "@effect/opentelemetry/Resource"
import type { MetricReader, ResourceMetrics } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Config from "./Config.js"
import * as Correlation from "./Correlation.js"
import { envString } from "./internal/config.js"
import * as internal from "./internal/telemetry.js"

/**
 * The span attribute that carries the correlation id.
 *
 * @since 0.1.0
 * @category constants
 */
export const correlationAttribute = "dspy.correlation_id"

/**
 * How {@link layer} exports telemetry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The resource's service name; else `telemetry.serviceName` from Config, else `effect-dspy`. */
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** More resource attributes. */
  readonly attributes?: { readonly [key: string]: string | number | boolean } | undefined
  /** The OTLP/HTTP endpoint (a base URL such as `http://collector:4318`, or the full `/v1/traces` URL). */
  readonly otlpEndpoint?: string | undefined
  /** HTTP headers for the OTLP exporter (e.g. an API key, kept `Redacted` until sent). */
  readonly otlpHeaders?: { readonly [key: string]: string | Redacted.Redacted<string> } | undefined
  /** A file to which each finished span is appended as one JSON line. */
  readonly spansFile?: string | undefined
  /** Readers that receive Effect's metrics (e.g. a `PeriodicExportingMetricReader`). */
  readonly metricReaders?: ReadonlyArray<MetricReader> | undefined
}

/**
 * The OpenTelemetry SDK, loaded when a layer is first built rather than when this module is imported (see
 * `internal/otel.ts`).
 */
const loadSdk = Effect.promise(() => import("./internal/otel.js"))

const readEndpoint = (options: Options): Effect.Effect<Option.Option<string>> =>
  Effect.gen(function* () {
    if (options.otlpEndpoint !== undefined) return Option.some(options.otlpEndpoint)
    const config = yield* Effect.serviceOption(Config.Config)
    if (Option.isSome(config)) {
      const endpoint = (yield* config.value.current).telemetry.otlpEndpoint
      if (endpoint !== undefined) return Option.some(endpoint)
    }
    return yield* envString("OTEL_EXPORTER_OTLP_ENDPOINT")
  })

/**
 * The OpenTelemetry layer: resource, span export (OTLP/HTTP and/or a JSON-lines file) and metric readers.
 * Spans are flushed when the layer's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Resource.Resource> =>
  Layer.unwrapEffect(Effect.map(loadSdk, (sdk) => sdk.NodeSdk.layer(configuration(sdk, options))))

const configuration = (
  { BatchSpanProcessor, OTLPTraceExporter }: typeof import("./internal/otel.js"),
  options: Options
): Effect.Effect<NodeSdk.Configuration> =>
  Effect.gen(function* () {
    const config = yield* Effect.serviceOption(Config.Config)
    const serviceName =
      options.serviceName ??
      (Option.isSome(config) ? (yield* config.value.current).telemetry.serviceName : undefined) ??
      "effect-dspy"
    const processors: Array<SpanProcessor> = []
    const endpoint = yield* readEndpoint(options)
    if (Option.isSome(endpoint)) {
      const base = internal.trimTrailingSlashes(endpoint.value)
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(options.otlpHeaders ?? {})) {
        headers[k] = Redacted.isRedacted(v) ? Redacted.value(v) : v
      }
      processors.push(
        new BatchSpanProcessor(
          new OTLPTraceExporter({ url: base.endsWith("/v1/traces") ? base : `${base}/v1/traces`, headers })
        )
      )
    }
    if (options.spansFile !== undefined) {
      processors.push(new BatchSpanProcessor(new internal.JsonLinesSpanExporter(options.spansFile)))
    }
    return {
      resource: {
        serviceName,
        ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {}),
        ...(options.attributes !== undefined ? { attributes: { ...options.attributes } } : {})
      },
      spanProcessor: processors,
      metricReader: options.metricReaders ?? []
    } satisfies NodeSdk.Configuration
  })

/**
 * What {@link layerTest} records: the finished spans and the metrics as OpenTelemetry sees them.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestService {
  /** The spans finished so far, oldest first. */
  readonly spans: Effect.Effect<ReadonlyArray<ReadableSpan>>
  /** Forgets the recorded spans. */
  readonly reset: Effect.Effect<void>
  /** Collects Effect's metrics through the OpenTelemetry producer now. */
  readonly metrics: Effect.Effect<ResourceMetrics>
}

/**
 * The tag of the recorder that {@link layerTest} provides.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestTelemetry extends Context.Tag("@effect-dspy/foundation/TestTelemetry")<TestTelemetry, TestService>() {}

/**
 * OpenTelemetry for tests: spans recorded in memory (synchronously, as each span ends), metrics collected on
 * demand; both through {@link TestTelemetry}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<TestTelemetry | Resource.Resource> = Layer.unwrapEffect(
  Effect.map(loadSdk, ({ InMemoryMetricReader, InMemorySpanExporter, NodeSdk, SimpleSpanProcessor }) => {
    const exporter = new InMemorySpanExporter()
    const reader = new InMemoryMetricReader()
    const recorder: TestService = {
      spans: Effect.sync(() => [...exporter.getFinishedSpans()]),
      reset: Effect.sync(() => exporter.reset()),
      metrics: Effect.promise(() => reader.read())
    }
    return Layer.merge(
      NodeSdk.layer(() => ({
        resource: { serviceName: "effect-dspy-test" },
        spanProcessor: new SimpleSpanProcessor(exporter),
        metricReader: reader
      })),
      Layer.succeed(TestTelemetry, recorder)
    )
  })
)

/**
 * The spans finished so far (under {@link layerTest}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const finishedSpans: Effect.Effect<ReadonlyArray<ReadableSpan>, never, TestTelemetry> = Effect.flatMap(
  TestTelemetry,
  (t) => t.spans
)

/**
 * Effect's metrics as OpenTelemetry collects them now (under {@link layerTest}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const collectMetrics: Effect.Effect<ResourceMetrics, never, TestTelemetry> = Effect.flatMap(
  TestTelemetry,
  (t) => t.metrics
)

const safeAttributes = (attributes: { readonly [key: string]: unknown } | undefined, id: string) => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(attributes ?? {})) out[k] = Redacted.isRedacted(v) ? "<redacted>" : v
  out[correlationAttribute] = id
  return out
}

/**
 * Runs an effect in a span named `name` with the given attributes, under the current correlation id (or a new
 * one), which is also set as the `dspy.correlation_id` attribute. `Redacted` attribute values are written as
 * `<redacted>`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const span: {
  (
    name: string,
    attributes?: { readonly [key: string]: unknown }
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    name: string,
    attributes?: { readonly [key: string]: unknown }
  ): Effect.Effect<A, E, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    name: string,
    attributes?: { readonly [key: string]: unknown }
  ): Effect.Effect<A, E, R> =>
    Effect.flatMap(Correlation.currentOrMake, (id) =>
      Correlation.withCorrelationId(Effect.withSpan(self, name, { attributes: safeAttributes(attributes, id) }), id)
    )
)
