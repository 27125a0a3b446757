/**
 * Telemetry internals: a span exporter that appends finished spans to a JSON-lines file. It uses the
 * OpenTelemetry SDK's types only, so importing it loads no SDK (see `otel.ts`).
 *
 * @internal
 */
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import * as fs from "node:fs"

type ExportCallback = Parameters<SpanExporter["export"]>[1]
type ExportResult = Parameters<ExportCallback>[0]

const SUCCESS = { code: 0 } as ExportResult
const failed = (error: Error) => ({ code: 1, error }) as ExportResult

const hrToMs = (hr: readonly [number, number]): number => hr[0] * 1000 + hr[1] / 1e6

/** One finished span as a plain JSON object. */
export const spanToJson = (span: ReadableSpan) => ({
  name: span.name,
  traceId: span.spanContext().traceId,
  spanId: span.spanContext().spanId,
  parentSpanId: span.parentSpanContext?.spanId ?? null,
  kind: span.kind,
  startTimeMs: hrToMs(span.startTime),
  endTimeMs: hrToMs(span.endTime),
  durationMs: hrToMs(span.duration),
  status: span.status,
  attributes: span.attributes,
  events: span.events.map((e) => ({ name: e.name, timeMs: hrToMs(e.time), attributes: e.attributes ?? {} })),
  serviceName: span.resource.attributes["service.name"] ?? null
})

/** Appends each exported span to a file as one JSON line. Writes are queued so lines never interleave. */
export class JsonLinesSpanExporter implements SpanExporter {
  private pending: Promise<void> = Promise.resolve()
  private stopped = false
  constructor(readonly file: string) {}

  export(spans: Array<ReadableSpan>, resultCallback: ExportCallback): void {
    if (this.stopped) {
      resultCallback(failed(new Error(`the span file exporter for ${this.file} is shut down`)))
      return
    }
    const text = spans.map((span) => `${JSON.stringify(spanToJson(span))}\n`).join("")
    this.pending = this.pending
      .then(() => fs.promises.appendFile(this.file, text))
      .then(
        () => resultCallback(SUCCESS),
        (error: Error) => resultCallback(failed(error))
      )
  }

  forceFlush(): Promise<void> {
    return this.pending
  }

  shutdown(): Promise<void> {
    this.stopped = true
    return this.pending
  }
}

/** `url` without its trailing slashes (a scan: `/\/+$/` is quadratic on a long run of slashes not at the end). */
export const trimTrailingSlashes = (url: string): string => {
  let end = url.length
  while (end > 0 && url[end - 1] === "/") end--
  return url.slice(0, end)
}
