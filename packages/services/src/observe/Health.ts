/**
 * The application's health: liveness (is the process's supervision tree alive) and readiness (should it get
 * traffic), each with the reasons behind it. Readiness is one of:
 *
 * - `starting`: a cold start, inside the start-up grace period, while a provider has no transport yet or a part
 *   of the tree is still coming up (not unhealthy: it is on its way);
 * - `healthy`: everything serves;
 * - `degraded`: it serves, but not at its best: a provider's circuit is open and its backup takes the traffic, a
 *   part of the tree is restarting, a critical alert fires;
 * - `unhealthy`: it cannot serve: it is stopping, the tree is down, or the default provider's circuit is open
 *   with no healthy backup.
 *
 * {@link evaluate} is a pure function of a snapshot, so each state is tested without a running application;
 * `Application.health` reads the snapshot.
 *
 * @since 0.1.0
 */
import type { Supervisor } from "@effect-dspy/runtime"
import type * as LMProviders from "../LMProviders.js"
import type * as Alert from "./Alert.js"

/**
 * A readiness state.
 *
 * @since 0.1.0
 * @category models
 */
export type Readiness = "starting" | "healthy" | "degraded" | "unhealthy"

/**
 * The health report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly liveness: { readonly status: "alive" | "dead"; readonly reasons: ReadonlyArray<string> }
  readonly readiness: {
    readonly status: Readiness
    /** Whether to send it traffic: `healthy` or `degraded`. */
    readonly ready: boolean
    readonly reasons: ReadonlyArray<string>
  }
  readonly checkedAt: number
  readonly uptimeMs: number
}

/**
 * What the health is judged from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly now: number
  readonly startedAt: number
  /** How long after start a part not yet up is `starting` rather than a problem (default 30 s). */
  readonly startupGraceMs?: number
  readonly stopping: boolean
  readonly tree: Supervisor.Tree
  readonly providers: ReadonlyArray<LMProviders.ProviderStatus>
  readonly defaultProvider: string
  /** The alerts firing now (critical ones degrade readiness). */
  readonly alerts?: ReadonlyArray<Alert.Alert>
}

const rank: Record<Readiness, number> = { healthy: 0, starting: 1, degraded: 2, unhealthy: 3 }

/** The tree's nodes that are not running, with their paths. */
const notRunning = (tree: Supervisor.Tree, path = tree.id): Array<{ path: string; status: string }> => [
  ...(tree.status === "running" ? [] : [{ path, status: tree.status }]),
  ...tree.children.flatMap((child) => notRunning(child, `${path}/${child.id}`))
]

/**
 * Judges a snapshot.
 *
 * @since 0.1.0
 * @category constructors
 */
export const evaluate = (snapshot: Snapshot): Report => {
  const uptimeMs = Math.max(0, snapshot.now - snapshot.startedAt)
  const inGrace = uptimeMs < (snapshot.startupGraceMs ?? 30_000)
  const live = snapshot.tree.status !== "dead"
  const liveness = {
    status: live ? ("alive" as const) : ("dead" as const),
    reasons: live ? [] : [`the root supervisor ${snapshot.tree.id} has stopped`]
  }
  let status: Readiness = "healthy"
  const reasons: Array<string> = []
  const raise = (to: Readiness, reason: string) => {
    if (rank[to] > rank[status]) status = to
    reasons.push(reason)
  }
  if (!live) raise("unhealthy", liveness.reasons[0]!)
  if (snapshot.stopping) raise("unhealthy", "the application is shutting down: new work is refused")
  for (const node of notRunning(snapshot.tree).filter((n) => n.path !== snapshot.tree.id)) {
    raise(
      inGrace ? "starting" : node.status === "restarting" ? "degraded" : "unhealthy",
      `${node.path} is ${node.status}`
    )
  }
  const byName = new Map(snapshot.providers.map((p) => [p.name, p]))
  for (const p of snapshot.providers) {
    if (p.generation === 0) {
      raise(inGrace ? "starting" : "unhealthy", `provider ${p.name} has no transport yet`)
      continue
    }
    if (p.circuit === "closed") continue
    const backup = p.backup === undefined ? undefined : byName.get(p.backup)
    const backupOk = backup !== undefined && backup.circuit === "closed" && backup.generation > 0
    if (backupOk) {
      raise("degraded", `provider ${p.name}'s circuit is ${p.circuit}; its backup ${backup.name} takes the traffic`)
    } else if (p.name === snapshot.defaultProvider) {
      raise(
        p.circuit === "half-open" ? "degraded" : "unhealthy",
        `the default provider ${p.name}'s circuit is ${p.circuit} and it has no healthy backup`
      )
    } else {
      raise("degraded", `provider ${p.name}'s circuit is ${p.circuit} and it has no healthy backup`)
    }
  }
  for (const alert of snapshot.alerts ?? []) {
    if (alert.status === "firing" && alert.severity === "critical") {
      raise("degraded", `critical alert ${alert.rule}: ${alert.message}`)
    }
  }
  return {
    liveness,
    readiness: { status, ready: status === "healthy" || status === "degraded", reasons },
    checkedAt: snapshot.now,
    uptimeMs
  }
}
