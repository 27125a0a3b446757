/**
 * The OpenTelemetry SDK pieces the Telemetry layers build on, in one module that `Telemetry.ts` imports
 * dynamically when a layer is built: the SDK (about 370 CommonJS files) then loads on first use, not when a
 * program imports `@effect-dspy/foundation` or `@effect-dspy/core` (it was a third of core's import time).
 *
 * @internal
 */
import type { ResourceMetrics } from "@opentelemetry/sdk-metrics"
import { MetricReader } from "@opentelemetry/sdk-metrics"

export * as NodeSdk from "@effect/opentelemetry/NodeSdk"
export { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
export { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"

/** A metric reader that only collects on demand (tests read what the OTel side sees). */
export class InMemoryMetricReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
  /** The metrics as exported to OpenTelemetry now. */
  read(): Promise<ResourceMetrics> {
    return this.collect().then((result) => result.resourceMetrics)
  }
}
