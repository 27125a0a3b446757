/** Effect's metrics (`Metric.snapshot`) in the Prometheus text exposition format (version 0.0.4). */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

const name = (raw: string): string => {
  const cleaned = raw.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')

const labels = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, extra?: string): string => {
  const parts = tags.map((t) => `${name(t.key)}="${escapeLabel(t.value)}"`)
  if (extra !== undefined) parts.push(extra)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}

const num = (value: number | bigint): string =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
      ? "NaN"
      : value === Number.POSITIVE_INFINITY
        ? "+Inf"
        : value === Number.NEGATIVE_INFINITY
          ? "-Inf"
          : String(value)

/** The text of every metric of the process's registry. */
export const render: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => {
  const byName = new Map<string, { type: string; help: string | undefined; lines: Array<string> }>()
  const family = (metric: string, type: string, help: string | undefined) => {
    let entry = byName.get(metric)
    if (entry === undefined) {
      entry = { type, help, lines: [] }
      byName.set(metric, entry)
    }
    return entry.lines
  }
  for (const pair of pairs) {
    const key = pair.metricKey
    const metric = name(key.name)
    const help = Option.getOrUndefined(key.description)
    const state = pair.metricState
    const tags = key.tags
    if (MetricState.isCounterState(state)) {
      family(metric, "counter", help).push(`${metric}${labels(tags)} ${num(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(metric, "gauge", help).push(`${metric}${labels(tags)} ${num(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const lines = family(metric, "histogram", help)
      for (const [bound, count] of state.buckets) {
        lines.push(`${metric}_bucket${labels(tags, `le="${num(bound)}"`)} ${count}`)
      }
      if (!state.buckets.some(([bound]) => bound === Number.POSITIVE_INFINITY)) {
        lines.push(`${metric}_bucket${labels(tags, `le="+Inf"`)} ${state.count}`)
      }
      lines.push(`${metric}_sum${labels(tags)} ${num(state.sum)}`)
      lines.push(`${metric}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const lines = family(metric, "counter", help)
      for (const [value, count] of state.occurrences)
        lines.push(`${metric}${labels(tags, `key="${escapeLabel(value)}"`)} ${count}`)
    } else if (MetricState.isSummaryState(state)) {
      const lines = family(metric, "summary", help)
      for (const [quantile, value] of state.quantiles) {
        if (Option.isSome(value)) lines.push(`${metric}${labels(tags, `quantile="${quantile}"`)} ${num(value.value)}`)
      }
      lines.push(`${metric}_sum${labels(tags)} ${num(state.sum)}`)
      lines.push(`${metric}_count${labels(tags)} ${state.count}`)
    }
  }
  let out = ""
  for (const [metric, entry] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    if (entry.help !== undefined) out += `# HELP ${metric} ${entry.help.replace(/\n/g, " ")}\n`
    out += `# TYPE ${metric} ${entry.type}\n${entry.lines.join("\n")}\n`
  }
  return out
})
