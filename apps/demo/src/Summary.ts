/**
 * What the demo reports at the end (`pnpm demo --json` prints it as one JSON object), and its rendering as a
 * table for people.
 */
import type { PhaseStats } from "./Traffic.js"

/** One background optimization as it ended. */
export interface OptimizationReport {
  readonly optimizer: string
  readonly status: string
  /** The serving version's score on the valset, and the optimized program's (percent). */
  readonly servingScore: number | null
  readonly optimizedScore: number | null
  readonly fromVersion: number
  readonly swappedVersion: number | null
  readonly lmCalls: number
  readonly trials: number
  readonly durationMs: number
}

/** One arm of the canary experiment: its requests, quality (rewards on labelled requests) with its interval. */
export interface ArmReport {
  readonly arm: string
  readonly requests: number
  readonly errorRate: number
  readonly latencyP50Ms: number | null
  /** Mean reward in [0, 1] on the labelled requests, with its always-valid 95% interval. */
  readonly quality: number | null
  readonly qualityInterval: { readonly lower: number; readonly upper: number } | null
  readonly rewards: number
}

/** The canary of the optimized version before it was promoted. */
export interface ExperimentReport {
  readonly moduleId: string
  readonly baseline: string | null
  readonly candidate: string | null
  readonly arms: ReadonlyArray<ArmReport>
  /** The sequential analysis' recommendation (`Promote`, `RollBack`, `KeepTesting`) and its reason. */
  readonly recommendation: string
  /** What was done: `promoted`, `rolled_back` (a guard rail broke), or `no_candidate` (no optimization swapped). */
  readonly decision: "promoted" | "rolled_back" | "no_candidate"
  readonly reason: string
}

/** The module's durable versions, and what an application restarted on the same database restored. */
export interface ReleasesReport {
  /** Versions stored for the module, and its promoted one. */
  readonly persisted: number
  readonly promoted: number
  /** After the restart: the version serving and how many versions came back (null without a database file). */
  readonly restoredVersion: number | null
  readonly restoredVersions: number | null
  readonly restoreMs: number | null
}

/** The real-time loop's phase: the drift, its detection, the loop's job and canary, quality around them. */
export interface LoopReport {
  readonly moduleId: string
  /** The request (of the loop's module) at which the drift was injected, and at which the loop started a job. */
  readonly driftAtRequest: number
  readonly detectedAtRequest: number | null
  readonly jobId: string | null
  readonly optimizer: string | null
  readonly canaryDecision: "promoted" | "rolled_back" | "none"
  /** Exact-match quality in [0, 1]: before the drift, from it to the canary's decision, after the decision. */
  readonly quality: { readonly before: number | null; readonly during: number | null; readonly after: number | null }
  readonly requests: number
  /** What the loop's jobs spent (LM calls; cost estimated from the executions' cost per call). */
  readonly lmCalls: number
  readonly costUsd: number
  /** The loop's decisions about the module (each one a `loop_decision` event). */
  readonly decisions: number
}

/** An alert of the outage phase (times in ms from the outage's start). */
export interface AlertSummary {
  readonly rule: string
  readonly severity: string
  readonly series: string
  readonly message: string
  readonly firedAtMs: number
  readonly resolvedAtMs: number | null
}

/** A forecast from the metric history: the next `horizonMs` of a series' statistic, with its 95% interval. */
export interface ForecastSummary {
  readonly name: string
  readonly metric: string
  readonly statistic: string
  readonly unit: string
  readonly horizonMs: number
  /** Rollup intervals the forecast was made from. */
  readonly history: number
  readonly mean: number
  readonly lower: number
  readonly upper: number
}

/** Readiness at one moment. */
export interface HealthSummary {
  readonly status: string
  readonly ready: boolean
  readonly reasons: ReadonlyArray<string>
}

/** The demo's summary. */
export interface Summary {
  readonly provider: {
    readonly kind: string
    readonly model: string
    readonly primary: string
    readonly backup: string
  }
  /**
   * What stopped the demo early (the signal's name), or null when it ran to its end; after an early stop the
   * figures are those so far, and what was not measured is null (accuracy) or empty.
   */
  readonly stopped: string | null
  /** Accuracy (percent) of the serving module on held-out questions, before and after the optimizations. */
  readonly accuracy: { readonly before: number | null; readonly after: number | null; readonly examples: number }
  readonly servingVersion: { readonly before: number; readonly after: number }
  readonly optimizations: ReadonlyArray<OptimizationReport>
  /** The steady traffic: every request ends answered or failed, so `lost` is 0. */
  readonly requests: {
    readonly sent: number
    readonly answered: number
    readonly failed: number
    readonly lost: number
  }
  readonly errorsByType: { readonly [tag: string]: number }
  readonly latency: { readonly p50Ms: number; readonly p99Ms: number }
  /** Serving latency while the optimizations ran against before (the "without added latency" check). */
  readonly servingDuringOptimization: { readonly baselineP50Ms: number; readonly optimizingP50Ms: number }
  readonly phases: ReadonlyArray<PhaseStats>
  readonly lm: {
    readonly calls: number
    readonly promptTokens: number
    readonly completionTokens: number
    readonly tokens: number
    readonly costUsd: number
    readonly byProvider: { readonly [provider: string]: number }
  }
  /** The LM cache's figures, and the executions served from the ModuleManager's execution memo (no LM call). */
  readonly cache: {
    readonly hits: number
    readonly misses: number
    readonly hitRate: number
    readonly memoHits: number
  }
  readonly faults: {
    readonly injected: number
    readonly failovers: number
    readonly recoveries: number
    readonly breakerStates: ReadonlyArray<string>
  }
  readonly restarts: ReadonlyArray<{ readonly actor: string; readonly before: string; readonly after: string }>
  /** The canary experiment of the optimized version (null when the demo stopped before it). */
  readonly experiments: ReadonlyArray<ExperimentReport>
  readonly releases: ReleasesReport | null
  /** The real-time loop's phase (null when it did not run: a real provider, or an early stop). */
  readonly loop: LoopReport | null
  /** The alerts that fired and resolved during the outage phase. */
  readonly alerts: ReadonlyArray<AlertSummary>
  /** Forecasts from the one-second rollups (cost per hour, module latency). */
  readonly forecasts: ReadonlyArray<ForecastSummary>
  /** Readiness before, during and after the outage (null when the demo stopped before it). */
  readonly health: {
    readonly before: HealthSummary
    readonly during: HealthSummary
    readonly after: HealthSummary
  } | null
  readonly durationMs: number
}

const pct = (n: number | null) => (n === null ? "-" : `${n.toFixed(1)}%`)
const ms = (n: number) => `${n.toFixed(1)} ms`
const score = (n: number | null) => (n === null ? "-" : n.toFixed(1))

/** The summary as aligned lines. */
export const render = (s: Summary): ReadonlyArray<string> => {
  const rows: Array<[string, string]> = [
    ...(s.stopped === null ? [] : [["stopped", `by ${s.stopped}: the figures so far`] as [string, string]]),
    ["provider", `${s.provider.kind} ${s.provider.model} (${s.provider.primary}, backup ${s.provider.backup})`],
    [
      "accuracy (held-out)",
      `${pct(s.accuracy.before)} -> ${pct(s.accuracy.after)} on ${s.accuracy.examples} questions (serving version ${s.servingVersion.before} -> ${s.servingVersion.after})`
    ],
    ...s.optimizations.map((o): [string, string] => [
      `  ${o.optimizer}`,
      `${o.status}${o.swappedVersion === null ? "" : ` as v${o.swappedVersion}`} (valset ${score(o.servingScore)} -> ${score(o.optimizedScore)}; ${o.trials} trials, ${o.lmCalls} LM calls, ${(o.durationMs / 1000).toFixed(1)} s)`
    ]),
    [
      "requests",
      `${s.requests.sent} sent, ${s.requests.answered} answered, ${s.requests.failed} failed, ${s.requests.lost} lost`
    ],
    [
      "errors by type",
      Object.keys(s.errorsByType).length === 0
        ? "none"
        : Object.entries(s.errorsByType)
            .map(([tag, n]) => `${tag} ${n}`)
            .join(", ")
    ],
    ["latency", `p50 ${ms(s.latency.p50Ms)}, p99 ${ms(s.latency.p99Ms)}`],
    [
      "while optimizing",
      `serving p50 ${ms(s.servingDuringOptimization.optimizingP50Ms)} (baseline ${ms(s.servingDuringOptimization.baselineP50Ms)})`
    ],
    [
      "LM",
      `${s.lm.calls} calls, ${s.lm.tokens} tokens (${s.lm.promptTokens} prompt + ${s.lm.completionTokens} completion), $${s.lm.costUsd.toFixed(4)}; by provider: ${Object.entries(
        s.lm.byProvider
      )
        .map(([p, n]) => `${p} ${n}`)
        .join(", ")}`
    ],
    [
      "cache",
      `hit rate ${pct(s.cache.hitRate * 100)} (${s.cache.hits} hits, ${s.cache.misses} misses); ${s.cache.memoHits} executions served from the execution memo`
    ],
    [
      "faults",
      `${s.faults.injected} injected, ${s.faults.failovers} fail-over, ${s.faults.recoveries} recovery; breaker ${s.faults.breakerStates.join(" -> ") || "never opened"}`
    ],
    ["restarts", s.restarts.map((r) => `${r.actor} ${r.before} -> ${r.after}`).join(", ") || "none"],
    ...s.experiments.map((e): [string, string] => [
      "canary",
      `${e.decision}${e.candidate === null ? "" : ` v${e.candidate} over v${e.baseline}`}: ${e.arms
        .map(
          (a) =>
            `v${a.arm} ${a.requests} requests, quality ${a.quality === null ? "-" : pct(100 * a.quality)}${
              a.qualityInterval === null
                ? ""
                : ` [${pct(100 * a.qualityInterval.lower)}, ${pct(100 * a.qualityInterval.upper)}]`
            }`
        )
        .join("; ")} (${e.recommendation})`
    ]),
    ...(s.loop === null
      ? []
      : [
          [
            "loop",
            `drift at request ${s.loop.driftAtRequest}, detected at ${s.loop.detectedAtRequest ?? "-"}, job ${s.loop.optimizer ?? "-"}, canary ${s.loop.canaryDecision}; quality ${pct(s.loop.quality.before === null ? null : 100 * s.loop.quality.before)} -> ${pct(s.loop.quality.during === null ? null : 100 * s.loop.quality.during)} -> ${pct(s.loop.quality.after === null ? null : 100 * s.loop.quality.after)}; ${s.loop.lmCalls} LM calls ($${s.loop.costUsd.toFixed(4)})`
          ] as [string, string]
        ]),
    ...(s.releases === null
      ? []
      : [
          [
            "releases",
            `${s.releases.persisted} versions stored, v${s.releases.promoted} promoted; restarted: ${
              s.releases.restoredVersion === null
                ? "not run"
                : `v${s.releases.restoredVersion} serving, ${s.releases.restoredVersions} versions restored in ${s.releases.restoreMs} ms`
            }`
          ] as [string, string]
        ]),
    ...(s.health === null
      ? []
      : [
          ["health", `${s.health.before.status} -> ${s.health.during.status} (outage) -> ${s.health.after.status}`] as [
            string,
            string
          ]
        ]),
    ...s.alerts.map((a): [string, string] => [
      "alert",
      `${a.rule} fired at +${(a.firedAtMs / 1000).toFixed(1)} s${
        a.resolvedAtMs === null ? "" : `, resolved at +${(a.resolvedAtMs / 1000).toFixed(1)} s`
      }: ${a.message}`
    ]),
    ...s.forecasts.map((f): [string, string] => [
      "forecast",
      `${f.name}: ${f.mean.toPrecision(3)} ${f.unit} [${f.lower.toPrecision(3)}, ${f.upper.toPrecision(3)}] (from ${f.history} s of history)`
    ]),
    ["duration", `${(s.durationMs / 1000).toFixed(1)} s`]
  ]
  const width = Math.max(...rows.map(([k]) => k.length)) + 2
  const lines = ["Summary", ...rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`), "", "Traffic by phase"]
  const header = ["phase", "sent", "answered", "failed", "correct", "p50 ms", "p99 ms"]
  const table = s.phases.map((p) => [
    p.phase,
    String(p.sent),
    String(p.answered),
    String(p.failed),
    p.answered === 0 ? "-" : pct((100 * p.correct) / p.answered),
    p.latencyP50Ms.toFixed(1),
    p.latencyP99Ms.toFixed(1)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")}`
  lines.push(line(header), ...table.map(line))
  return lines
}
