// The effect-dspy dashboard: preact + htm (one vendored ES module, no build step) and uPlot for the charts.
// Everything live comes over server-sent events: /snapshot/stream (tree, providers, modules, jobs), /events/stream
// (the event tail), /alerts/stream (alert transitions) and /jobs/{id}/progress (each job's trials, replayed from its
// start); the forecasts and the loop's status are polled. The session cookie set by
// POST /auth/session authenticates them (an EventSource cannot send an Authorization header).
import { h, html, render, useEffect, useRef, useState } from "/dashboard/vendor/htm-preact-standalone.mjs"

const api = (path, init = {}) => fetch(path, { credentials: "same-origin", ...init })

function Login({ onDone }) {
  const [key, setKey] = useState("")
  const [error, setError] = useState("")
  const submit = async (event) => {
    event.preventDefault()
    const response = await api("/auth/session", { method: "POST", headers: { authorization: `Bearer ${key.trim()}` } })
    if (response.ok) onDone()
    else setError((await response.json().catch(() => ({}))).message ?? `sign-in failed (${response.status})`)
  }
  return html`<form class="login" onSubmit=${submit} data-testid="login">
    <h2>effect-dspy</h2>
    <p class="muted">Paste an API key with the read scope. It is exchanged for a session cookie and not stored by the page.</p>
    <input type="password" name="key" placeholder="edk_…" value=${key} onInput=${(e) => setKey(e.target.value)} autocomplete="off" />
    <button type="submit">Sign in</button>
    ${error && html`<p class="error">${error}</p>`}
  </form>`
}

/** Opens an EventSource for as long as the component lives. */
function useEventSource(url, handlers) {
  const ref = useRef(handlers)
  ref.current = handlers
  useEffect(() => {
    if (url === undefined) return undefined
    const source = new EventSource(url)
    for (const name of Object.keys(handlers)) source.addEventListener(name, (e) => ref.current[name](e))
    return () => source.close()
  }, [url])
}

function TreeNode({ node, path, blinking }) {
  const key = `${path}/${node.id}`
  return html`<li>
    <div class=${`node${blinking.has(key) ? " blink" : ""}`} data-node=${node.id} data-status=${node.status} data-restarts=${node.restarts}>
      <span>${node.id}</span><span class="kind">${node.kind}</span>
      <span class=${`badge ${node.status}`}>${node.status}</span>
      ${node.restarts > 0 && html`<span class="muted">restarts ${node.restarts}</span>`}
    </div>
    ${
      node.children.length > 0 &&
      html`<ul class="tree">${node.children.map((c) => html`<${TreeNode} key=${c.id} node=${c} path=${key} blinking=${blinking} />`)}</ul>`
    }
  </li>`
}

function Tree({ tree }) {
  const previous = useRef(new Map())
  const [blinking, setBlinking] = useState(new Set())
  useEffect(() => {
    const now = new Map()
    const walk = (node, path) => {
      const key = `${path}/${node.id}`
      now.set(key, node.restarts)
      for (const child of node.children) walk(child, key)
    }
    walk(tree, "")
    const restarted = [...now].filter(([key, restarts]) => restarts > (previous.current.get(key) ?? restarts))
    previous.current = now
    if (restarted.length > 0) {
      setBlinking(new Set(restarted.map(([key]) => key)))
      const timer = setTimeout(() => setBlinking(new Set()), 2000)
      return () => clearTimeout(timer)
    }
    return undefined
  }, [tree])
  return html`<section data-testid="tree"><h2>Supervision tree</h2>
    <ul class="tree root"><${TreeNode} node=${tree} path="" blinking=${blinking} /></ul></section>`
}

function Providers({ providers }) {
  const total = providers.reduce((sum, p) => sum + p.calls, 0)
  return html`<section data-testid="providers"><h2>LM providers</h2>
    <table><thead><tr><th>provider</th><th>breaker</th><th>traffic</th><th>calls</th><th>failures</th><th>failovers</th><th>spend</th></tr></thead>
    <tbody>${providers.map((p) => {
      const share = total === 0 ? 0 : p.calls / total
      return html`<tr data-provider=${p.name} data-circuit=${p.circuit}>
        <td>${p.name}${p.backup ? html` <span class="muted">→ ${p.backup}</span>` : ""}</td>
        <td><span class=${`badge ${p.circuit}`}>${p.circuit}</span>${p.failedOver ? html` <span class="muted">failed over</span>` : ""}</td>
        <td><span class="share" style=${`width:${Math.round(share * 80)}px`}></span> ${(share * 100).toFixed(0)}%</td>
        <td>${p.calls}</td><td>${p.failures}</td><td>${p.failovers}</td><td>$${p.costUsd.toFixed(4)}</td></tr>`
    })}</tbody></table></section>`
}

const fmt = (x, digits = 2) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–")

/** An arm's statistics (ArmStats sums): requests, quality with a 95% interval, mean latency and cost. */
const armSummary = (s) => {
  const quality = s.rewardN > 0 ? s.rewardSum / s.rewardN : undefined
  const variance = s.rewardN > 1 ? Math.max(0, s.rewardSumSq / s.rewardN - quality * quality) : undefined
  const half = variance === undefined ? undefined : 1.96 * Math.sqrt(variance / s.rewardN)
  return {
    requests: s.pulls,
    quality,
    low: half === undefined ? undefined : Math.max(0, quality - half),
    high: half === undefined ? undefined : Math.min(1, quality + half),
    latencyMs: s.n > 0 ? s.latencySum / s.n : undefined,
    costUsd: s.n > 0 ? s.costSum / s.n : undefined,
    errors: s.errors
  }
}

function Arms({ arms }) {
  const entries = Object.entries(arms ?? {})
  if (entries.length === 0) return null
  return html`<table class="arms"><thead><tr><th>arm</th><th>requests</th><th>quality [95%]</th><th>latency ms</th><th>cost $</th><th>errors</th></tr></thead>
    <tbody>${entries.map(([arm, stats]) => {
      const a = armSummary(stats)
      return html`<tr data-arm=${arm}>
      <td>v${arm}</td><td>${a.requests}</td>
      <td>${fmt(a.quality)}${a.low !== undefined ? html` <span class="muted">[${fmt(a.low)}, ${fmt(a.high)}]</span>` : ""}</td>
      <td>${fmt(a.latencyMs, 1)}</td><td>${fmt(a.costUsd, 5)}</td><td>${a.errors}</td></tr>`
    })}</tbody></table>`
}

function Modules({ modules }) {
  return html`<section data-testid="modules"><h2>Modules</h2>
    ${modules.length === 0 ? html`<p class="muted">No modules yet.</p>` : ""}
    <table><thead><tr><th>module</th><th>version</th><th>executions</th><th>failures</th><th>breaker</th><th>policy</th></tr></thead>
    <tbody>${modules.map(
      (m) => html`<tr data-module=${m.id}>
      <td>${m.id} <span class="muted">${m.kind}</span></td><td>v${m.version} <span class="muted">of ${m.versions}</span></td>
      <td>${m.executions}</td><td>${m.failures}</td><td><span class=${`badge ${m.breaker}`}>${m.breaker}</span></td>
      <td>${m.policy ? (m.policy.policy?._tag ?? m.policy.policy?.kind ?? "policy") : html`<span class="muted">promoted</span>`}</td></tr>
      ${m.policy ? html`<tr><td colspan="6"><${Arms} arms=${m.policy.arms} /></td></tr>` : ""}`
    )}</tbody></table></section>`
}

function ScoreChart({ points }) {
  const el = useRef(null)
  const plot = useRef(null)
  useEffect(() => {
    const data = [points.map((_, i) => i + 1), points.map((p) => p.score), points.map((p) => p.best)]
    if (plot.current === null && el.current !== null && typeof uPlot !== "undefined") {
      plot.current = new uPlot(
        {
          width: Math.max(300, el.current.clientWidth || 360),
          height: 160,
          scales: { x: { time: false } },
          axes: [
            { stroke: "#7f8b99", grid: { stroke: "#2a323c" } },
            { stroke: "#7f8b99", grid: { stroke: "#2a323c" } }
          ],
          series: [
            { label: "trial" },
            { label: "score", stroke: "#58a6ff", points: { show: true } },
            { label: "best", stroke: "#3fb950" }
          ]
        },
        data,
        el.current
      )
    } else if (plot.current !== null) plot.current.setData(data)
  }, [points])
  useEffect(() => () => plot.current?.destroy(), [])
  return html`<div ref=${el} data-testid="score-chart" data-points=${points.length}></div>`
}

function Job({ job }) {
  const [points, setPoints] = useState([])
  const [lmCalls, setLmCalls] = useState(job.progress.lmCalls)
  const seen = useRef(0)
  useEventSource(`/jobs/${encodeURIComponent(job.id)}/progress`, {
    progress: (e) => {
      const id = Number(e.lastEventId)
      if (id < seen.current) return
      seen.current = id + 1
      const event = JSON.parse(e.data)
      if (event._tag === "Trial") setPoints((ps) => [...ps, { score: event.trial.score, best: event.bestScore }])
      if (typeof event.lmCalls === "number") setLmCalls(event.lmCalls)
    },
    status: (e) => {
      const status = JSON.parse(e.data)
      setLmCalls(status.progress.lmCalls)
    }
  })
  return html`<div class="job" data-job=${job.id} data-status=${job.status}>
    <div><strong>${job.id}</strong> <span class="muted">${job.moduleId} · ${job.optimizer}</span>
      <span class=${`badge ${job.status}`}>${job.status}</span>
      <span class="muted"> best ${fmt(job.progress.bestScore)} · trials ${points.length} · LM calls <span data-testid="lm-calls">${lmCalls}</span></span></div>
    <${ScoreChart} points=${points} />
  </div>`
}

function Jobs({ jobs }) {
  const shown = jobs.slice(-6)
  return html`<section data-testid="jobs"><h2>Optimization jobs</h2>
    ${shown.length === 0 ? html`<p class="muted">No jobs yet.</p>` : shown.map((j) => html`<${Job} key=${j.id} job=${j} />`)}</section>`
}

// The event types the tail shows (every event type arrives as its own SSE event name).
const tailTypes = [
  "module_created",
  "module_swapped",
  "module_rolled_back",
  "provider_failover",
  "provider_recovered",
  "circuit_breaker_state_changed",
  "optimization_queued",
  "optimization_swapped",
  "optimization_rejected",
  "experiment_started",
  "experiment_recommended",
  "experiment_promoted",
  "canary_rolled_back",
  "runtime_actor_crashed"
]

function EventsTail() {
  const [events, setEvents] = useState([])
  useEffect(() => {
    const source = new EventSource(`/events/stream?types=${tailTypes.join(",")}`)
    const listener = (e) => setEvents((es) => [JSON.parse(e.data), ...es].slice(0, 40))
    for (const type of tailTypes) source.addEventListener(type, listener)
    return () => source.close()
  }, [])
  return html`<section data-testid="events"><h2>Events</h2><div class="events">
    ${
      events.length === 0
        ? html`<p class="muted">Waiting for events…</p>`
        : events.map(
            (e) => html`<div>
      <span class="muted">${new Date(e.timestamp).toLocaleTimeString()}</span> ${e.type}
      <span class="muted">${JSON.stringify(e.data).slice(0, 120)}</span></div>`
          )
    }</div></section>`
}

/** The alerts: the firing ones (a snapshot first, then each transition over /alerts/stream) and the recent ones. */
function Alerts() {
  const [active, setActive] = useState([])
  const [recent, setRecent] = useState([])
  const upsert = (list, alert) => [alert, ...list.filter((a) => a.id !== alert.id)].slice(0, 20)
  useEventSource("/alerts/stream?intervalMs=500", {
    snapshot: (e) => setActive(JSON.parse(e.data)),
    firing: (e) => {
      const alert = JSON.parse(e.data)
      setActive((as) => upsert(as, alert))
      setRecent((rs) => upsert(rs, alert))
    },
    resolved: (e) => {
      const alert = JSON.parse(e.data)
      setActive((as) => as.filter((a) => a.id !== alert.id))
      setRecent((rs) => upsert(rs, alert))
    }
  })
  const series = (s) => [s.metric, s.provider, s.module, s.version].filter((x) => x !== undefined).join(" · ")
  const row = (a) => html`<tr data-alert=${a.rule} data-status=${a.status}>
    <td><span class=${`badge ${a.status === "firing" ? (a.severity === "critical" ? "open" : "half-open") : "closed"}`}>${a.status}</span></td>
    <td>${a.rule} <span class="muted">${a.severity}</span></td><td class="muted">${series(a.series)}</td>
    <td>${fmt(a.value, 2)}</td><td class="muted">${new Date(a.firedAt).toLocaleTimeString()}</td><td>${a.message}</td></tr>`
  const resolved = recent.filter((a) => a.status === "resolved" && !active.some((b) => b.id === a.id))
  return html`<section data-testid="alerts"><h2>Alerts <span class="muted">${active.length} firing</span></h2>
    ${active.length === 0 && resolved.length === 0 ? html`<p class="muted">No alerts.</p>` : ""}
    <table><tbody>${active.map(row)}${resolved.slice(0, 5).map(row)}</tbody></table></section>`
}

/** A forecast of a series (GET /metrics/forecast), with its interval band, refreshed every few seconds. */
function Forecast({ metric, provider, statistic = "mean" }) {
  const el = useRef(null)
  const plot = useRef(null)
  const [state, setState] = useState({ points: 0, error: "" })
  useEffect(() => {
    let stopped = false
    const load = async () => {
      const query = new URLSearchParams({ metric, statistic, windowMs: "600000", horizonMs: "120000" })
      if (provider !== undefined) query.set("provider", provider)
      const response = await api(`/metrics/forecast?${query}`)
      if (stopped) return
      if (!response.ok) return setState({ points: 0, error: `forecast failed (${response.status})` })
      const reports = await response.json()
      const points = reports[0]?.points ?? []
      const data = [
        points.map((p) => p.at / 1000),
        points.map((p) => p.mean),
        points.map((p) => p.lower),
        points.map((p) => p.upper)
      ]
      if (plot.current === null && el.current !== null && typeof uPlot !== "undefined") {
        plot.current = new uPlot(
          {
            width: Math.max(300, el.current.clientWidth || 360),
            height: 160,
            axes: [
              { stroke: "#7f8b99", grid: { stroke: "#2a323c" } },
              { stroke: "#7f8b99", grid: { stroke: "#2a323c" } }
            ],
            series: [
              { label: "time" },
              { label: "forecast", stroke: "#58a6ff" },
              { label: "lower", stroke: "#7f8b99", dash: [4, 4] },
              { label: "upper", stroke: "#7f8b99", dash: [4, 4] }
            ]
          },
          data,
          el.current
        )
      } else if (plot.current !== null) plot.current.setData(data)
      setState({ points: points.length, error: "" })
    }
    void load()
    const timer = setInterval(() => void load(), 5000)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [metric, provider, statistic])
  useEffect(() => () => plot.current?.destroy(), [])
  return html`<div class="forecast"><div class="muted">${metric}${provider ? ` · ${provider}` : ""} (${statistic}), next 2 min
    ${state.error && html` <span class="error">${state.error}</span>`}</div>
    <div ref=${el} data-testid="forecast-chart" data-metric=${metric} data-points=${state.points}></div></div>`
}

function Forecasts({ providers }) {
  const primary = providers[0]?.name
  return html`<section data-testid="forecasts"><h2>Forecasts</h2>
    <${Forecast} metric="provider.latency_ms" provider=${primary} statistic="p95" />
    <${Forecast} metric="module.latency_ms" statistic="count" /></section>`
}

/** The real-time loop: each module's state and quality, and its recent decisions (GET /loop/status, /loop/decisions). */
function LoopPanel() {
  const [status, setStatus] = useState(undefined)
  const [decisions, setDecisions] = useState([])
  useEffect(() => {
    let stopped = false
    const load = async () => {
      const [s, d] = await Promise.all([api("/loop/status"), api("/loop/decisions?limit=10")])
      if (stopped) return
      if (s.ok) setStatus(await s.json())
      if (d.ok) setDecisions(await d.json())
    }
    void load()
    const timer = setInterval(() => void load(), 2000)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [])
  if (status === undefined) return null
  return html`<section data-testid="loop"><h2>Real-time loop <span class="muted">${status.enabled ? "on" : "off"} · ${status.runningJobs} jobs running · ${status.spent.lmCalls} LM calls spent</span></h2>
    <table><thead><tr><th>module</th><th>state</th><th>quality</th><th>baseline</th><th>rewards</th></tr></thead>
    <tbody>${status.modules.map(
      (
        m
      ) => html`<tr data-loop-module=${m.moduleId} data-state=${m.state}><td>${m.moduleId} <span class="muted">v${m.version}</span></td>
      <td><span class="badge">${m.state}</span></td><td>${fmt(m.quality)}</td><td>${fmt(m.baseline)}</td><td>${m.rewards}</td></tr>`
    )}</tbody></table>
    <div class="events">${
      decisions.length === 0
        ? html`<p class="muted">No decisions yet.</p>`
        : [...decisions].reverse().map(
            (
              d
            ) => html`<div data-decision=${d.action}><span class="muted">${new Date(d.at).toLocaleTimeString()}</span> ${d.moduleId}: ${d.action}
            <span class="muted">${d.rule} — ${d.reason}</span></div>`
          )
    }</div></section>`
}

function Dashboard({ who }) {
  const [snapshot, setSnapshot] = useState(undefined)
  useEventSource("/snapshot/stream?intervalMs=500", { snapshot: (e) => setSnapshot(JSON.parse(e.data)) })
  if (snapshot === undefined) return html`<p class="muted" style="padding:20px">Connecting…</p>`
  const s = snapshot.status
  return html`<header><h1>effect-dspy</h1>
      <span class="muted">signed in as ${who.keyId} (${who.scopes.join(", ")}) · in flight: ${s.inFlight.modules} executions, ${s.inFlight.lm} LM calls · workers ${s.workers.running}/${s.workers.limit} (${s.workers.queued} queued) · ${s.sseSubscribers} live streams</span></header>
    <main>
      <${Tree} tree=${snapshot.tree} />
      <${Providers} providers=${snapshot.providers} />
      <${Modules} modules=${snapshot.modules} />
      <${Alerts} />
      <${Forecasts} providers=${snapshot.providers} />
      <${LoopPanel} />
      <${Jobs} jobs=${snapshot.jobs} />
      <${EventsTail} />
    </main>`
}

function App() {
  const [who, setWho] = useState(undefined)
  const check = async () => {
    const response = await api("/auth/whoami")
    setWho(response.ok ? await response.json() : null)
  }
  useEffect(() => void check(), [])
  if (who === undefined) return html`<p class="muted" style="padding:20px">Loading…</p>`
  if (who === null) return html`<${Login} onDone=${check} />`
  return html`<${Dashboard} who=${who} />`
}

render(h(App, null), document.getElementById("app"))
