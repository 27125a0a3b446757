/** The metrics (history and forecasts) group's handlers. */
import { Observability } from "@effect-dspy/services"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { Api } from "../../Api.js"
import * as ApiError from "../../ApiError.js"
import type * as MetricsApi from "../../api/MetricsApi.js"
import { requireOperator } from "../../Auth.js"

/** The selector of a query (absent dimensions left out). */
export const selectorOf = (q: typeof MetricsApi.Selector.Type) => {
  const out: { metric: string; module?: string; version?: string; provider?: string; job?: string } = {
    metric: q.metric
  }
  if (q.module !== undefined) out.module = q.module
  if (q.version !== undefined) out.version = q.version
  if (q.provider !== undefined) out.provider = q.provider
  if (q.job !== undefined) out.job = q.job
  return out
}

/** A series as the API shows it (absent dimensions left out). */
export const seriesOf = (series: { readonly metric: string }) => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(series)) if (value !== undefined) out[key] = value
  return out as typeof MetricsApi.Series.Type
}

/** Observability's invalid input is the client's (a 400 naming the field); the rest by tag. */
export const observeError = (error: unknown) => {
  const e = error as { readonly _tag?: unknown; readonly field?: unknown; readonly message?: unknown }
  return e._tag === "ObserveInvalidInput"
    ? new ApiError.BadRequest({
        message: typeof e.message === "string" && e.message !== "" ? e.message : `invalid ${String(e.field)}`,
        field: String(e.field)
      })
    : ApiError.fromFailure(error)
}

/** A number JSON can carry (NaN and the infinities, an unbounded interval, become `null`). */
const finite = (n: number): number | null => (Number.isFinite(n) ? n : null)

/** The handlers of the `history` group. */
export const layer = HttpApiBuilder.group(Api, "history", (handlers) =>
  Effect.gen(function* () {
    const observability = yield* Observability.Observability
    return handlers
      .handle("series", () =>
        Effect.zipRight(
          requireOperator("read"),
          Effect.mapError(
            Effect.map(observability.history.series, (all) => all.map(seriesOf)),
            ApiError.fromFailure
          )
        )
      )
      .handle("query", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* requireOperator("read")
          if (urlParams.to <= urlParams.from)
            return yield* Effect.fail(new ApiError.BadRequest({ message: "`to` must be after `from`", field: "to" }))
          const points = yield* Effect.mapError(
            observability.history.query({
              selector: selectorOf(urlParams),
              from: urlParams.from,
              to: urlParams.to,
              ...(urlParams.bucketMs === undefined ? {} : { bucketMs: urlParams.bucketMs })
            }),
            observeError
          )
          return points.map((p) => ({ ...p, series: seriesOf(p.series) }))
        })
      )
      .handle("forecast", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* requireOperator("read")
          const reports = yield* Effect.mapError(
            observability.forecast({
              selector: selectorOf(urlParams),
              statistic: urlParams.statistic ?? "mean",
              windowMs: urlParams.windowMs ?? 3_600_000,
              horizonMs: urlParams.horizonMs ?? 900_000
            }),
            observeError
          )
          return reports.map((r) => ({
            ...r,
            series: seriesOf(r.series),
            points: r.points.map((p) => ({
              at: p.at,
              mean: finite(p.mean),
              lower: finite(p.lower),
              upper: finite(p.upper)
            }))
          }))
        })
      )
  })
)
