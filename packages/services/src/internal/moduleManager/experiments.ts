/**
 * Traffic policies as experiments: a policy of two or more versions runs as an experiment of the application's
 * `Experiments` service. It is started once the policy is in force (after the actor answered, on the caller's
 * fiber: the actor never waits on the experiments service, which may itself be waiting on the actor while it
 * applies a decision), every execution is observed into it (in memory; the service persists at its checks), and it
 * ends when the policy is cleared or replaced (concluded), the canary rolls back (rolled back, with the breach), or
 * an opted-in recommendation is applied through the module's compare-and-swap (the applier registered here).
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as ArmStats from "../../experiments/ArmStats.js"
import type * as ExperimentRecord from "../../experiments/ExperimentRecord.js"
import type * as Experiments from "../../experiments/Experiments.js"
import * as TrafficPolicy from "../../experiments/TrafficPolicy.js"
import type { ModuleInfo, MutationError, PolicyStatus } from "../../ModuleManager.js"
import type { PolicyInvalid } from "../../ServicesError.js"
import type { ModuleStore, Routing } from "./store.js"

/** The experiments service the ModuleManager records into, and the scope its appliers live in. */
export interface Link {
  readonly service: Experiments.Service
  readonly scope: Scope.Scope
  /** The modules whose applier is registered. */
  readonly registered: Set<string>
}

/** The actor's requests an applier sends (a subset of its calls). */
export type Change =
  | {
      readonly _tag: "CanaryRollback"
      readonly id: string
      readonly routing: Routing
      readonly breach: TrafficPolicy.Breach
    }
  | {
      readonly _tag: "Rollback"
      readonly id: string
      readonly toVersion: number | undefined
      readonly ifVersion: number | undefined
    }
  | { readonly _tag: "ClearPolicy"; readonly id: string }

/** What the link needs of the ModuleManager. */
export interface Host {
  readonly store: ModuleStore
  readonly experiments: Link | undefined
  readonly mutate: (msg: Change) => Effect.Effect<ModuleInfo | PolicyStatus | undefined, MutationError | PolicyInvalid>
}

const warn = (what: string) => (error: { readonly message: string }) =>
  Effect.logWarning(`experiments: ${what}: ${error.message}`)

/** The version a policy is measured against: the canary's stable, the shadow's serving, else the current one. */
const baselineOf = (policy: TrafficPolicy.Policy, current: string, arms: ReadonlyArray<string>): string => {
  switch (policy._tag) {
    case "Canary":
      return policy.stable
    case "Shadow":
      return policy.serving
    default:
      return arms.includes(current) ? current : arms[0]!
  }
}

/**
 * Starts the experiment of the module's policy in force, when it has two or more versions and none yet: an
 * experiment of the module still running (a policy replaced, or one left by a previous run) is concluded first.
 * A failure is logged: the policy stays in force without an experiment.
 */
export const start = (
  host: Host,
  id: string,
  settings: Partial<ExperimentRecord.Settings> | undefined
): Effect.Effect<string | undefined> => {
  const link = host.experiments
  const entry = host.store.entries.get(id)
  const routing = entry?.routing
  if (link === undefined || entry === undefined || routing === undefined || routing.experiment !== undefined)
    return Effect.succeed(routing?.experiment)
  const arms = TrafficPolicy.versionsOf(routing.policy)
  if (arms.length < 2) return Effect.succeed(undefined)
  return Effect.gen(function* () {
    for (const old of yield* link.service.list(id))
      if (old.status === "running")
        yield* Effect.catchAll(
          link.service.conclude(old.id, "superseded by a new traffic policy"),
          warn(`concluding ${old.id}`)
        )
    if (!link.registered.has(id)) {
      link.registered.add(id)
      yield* Effect.provideService(link.service.registerApplier(id, applier(host, id)), Scope.Scope, link.scope)
    }
    const guardRails =
      settings?.guardRails ?? (routing.policy._tag === "Canary" ? routing.policy.guardRails : undefined)
    const record = yield* link.service.start({
      moduleId: id,
      baseline: baselineOf(routing.policy, String(entry.current.version), arms),
      arms,
      policy: routing.policy,
      settings: { ...settings, ...(guardRails === undefined ? {} : { guardRails }) }
    })
    // The policy may have been replaced meanwhile: then this experiment has nothing to observe.
    if (entry.routing === routing) routing.experiment = record.id
    else yield* link.service.conclude(record.id, "the traffic policy was replaced")
    return record.id
  }).pipe(Effect.catchAll((e) => Effect.as(warn(`starting the experiment of module "${id}"`)(e), undefined)))
}

/** Concludes the experiment a policy ran as (it was cleared), if it still runs. */
export const conclude = (host: Host, experimentId: string | undefined, reason: string): Effect.Effect<void> => {
  const link = host.experiments
  if (link === undefined || experimentId === undefined) return Effect.void
  return Effect.flatMap(link.service.get(experimentId), (record) =>
    record.status === "running" ? Effect.asVoid(link.service.conclude(experimentId, reason)) : Effect.void
  ).pipe(Effect.catchAll(warn(`concluding ${experimentId}`)))
}

/** Records the canary's roll back (done by the ModuleManager) in its experiment, unless the experiment ended. */
export const canaryRolledBack = (host: Host, routing: Routing, breach: TrafficPolicy.Breach): Effect.Effect<void> => {
  const link = host.experiments
  const experimentId = routing.experiment
  if (link === undefined || experimentId === undefined || routing.policy._tag !== "Canary") return Effect.void
  routing.experiment = undefined
  const arm = routing.policy.candidate
  return Effect.flatMap(link.service.get(experimentId), (record) =>
    record.status === "running" || record.status === "concluded"
      ? Effect.asVoid(link.service.rollBack(experimentId, { arm, reason: `${breach.rail}: ${breach.reason}`, breach }))
      : Effect.void
  ).pipe(Effect.catchAll(warn(`recording the roll back of ${experimentId}`)))
}

/**
 * Observes one outcome into the routing's experiment: synchronous statistics in memory, a check (and a write) every
 * `checkEvery` outcomes. An experiment that stopped running (a decision applied) is let go.
 */
export const observe = (
  host: Host,
  routing: Routing,
  arm: string,
  observation: ArmStats.Observation
): Effect.Effect<void> => {
  const experimentId = routing.experiment
  const link = host.experiments
  if (experimentId === undefined || link === undefined) return Effect.void
  return Effect.catchAll(link.service.observe(experimentId, arm, observation), (error) => {
    if (error._tag === "ExperimentStatusConflict" || error._tag === "ExperimentNotFound")
      return Effect.sync(() => {
        if (routing.experiment === experimentId) routing.experiment = undefined
      })
    return warn(`observing into ${experimentId}`)(error)
  })
}

/**
 * The module's applier: a decision applied through the compare-and-swap. Promoting an arm makes its version current
 * (a roll back to it, only if the version current when the decision was taken still is); rolling back makes the
 * baseline current the same way (a canary's through its own roll back). Either way the policy is lifted.
 */
const applier =
  (host: Host, id: string): Experiments.Applier =>
  (action) =>
    Effect.gen(function* () {
      const entry = host.store.entries.get(id)
      if (entry === undefined) return yield* Effect.fail(`module "${id}" is gone`)
      const routing = entry.routing
      const ours = routing !== undefined && routing.experiment === action.experimentId
      if (ours) routing.experiment = undefined
      if (action._tag === "RollBack" && ours && routing.policy._tag === "Canary" && action.breach !== undefined) {
        routing.handled = true
        yield* host.mutate({ _tag: "CanaryRollback", id, routing, breach: action.breach })
        return
      }
      const target = action._tag === "Promote" ? action.arm : action.baseline
      const current = entry.current.version
      if (String(current) !== target)
        yield* host.mutate({ _tag: "Rollback", id, toVersion: Number(target), ifVersion: current })
      if (ours && entry.routing === routing) yield* host.mutate({ _tag: "ClearPolicy", id })
    })
