/**
 * The ModuleManager actor: the one writer of the module table. It serialises the mutations (create, register,
 * swap, rollback, remove) through its mailbox; executions and reads never pass through it. {@link mutate} is
 * the client side: it finds the actor through the registry (waiting a few turns while it restarts) and calls it.
 */
import { type LM, Module } from "@effect-dspy/core"
import { type Config, Events, type Protection } from "@effect-dspy/foundation"
import { Actor, Registry, type RuntimeError } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as MetricLabel from "effect/MetricLabel"
import * as Stream from "effect/Stream"
import type * as TrafficPolicy from "../../experiments/TrafficPolicy.js"
import {
  actorName,
  type FallbackChain,
  type PolicyStatus,
  type ModuleInfo,
  type ReloadOutcome,
  type ModuleProtection,
  type ModuleSpec,
  type MutationError,
  type SwapPatch
} from "../../ModuleManager.js"
import type * as ReleaseStore from "../../releases/ReleaseStore.js"
import { shapeOf } from "../../releases/internal/shape.js"
import {
  ModuleAlreadyExists,
  ModuleManagerUnavailable,
  ModuleVersionConflict,
  ModuleVersionNotFound,
  type PolicyInvalid,
  ReleaseCorrupted,
  ReleaseShapeMismatch
} from "../../ServicesError.js"
import * as PolicyExperiments from "./experiments.js"
import { makeRouting, statusOf } from "./routing.js"
import type { Drain } from "../drain.js"
import { applyPatch, checkPrecondition, describeEntry, invalid, notFound, programOfSpec } from "./programs.js"
import { protectionsOf } from "./protections.js"
import type { RecorderSlot } from "./recording.js"
import type { Entry, ModuleStore, Routing, Version } from "./store.js"
import * as ServicesEvents from "../../ServicesEvents.js"

/** What the ModuleManager actor and service work with. */
export interface Dependencies {
  readonly store: ModuleStore
  readonly config: Config.Service
  readonly events: Events.Service
  readonly protection: Protection.Service
  readonly registry: Registry.Service
  readonly lm: LM.Service
  readonly drain: Drain
  /** Where every version is written before a change is acknowledged, and read back at registration. */
  readonly releases: ReleaseStore.Service
  /** Where policies of two or more versions run as experiments (none: they run without). */
  readonly experiments?: PolicyExperiments.Link
  /** Where each execution is recorded (the real-time loop's experience store), once the loop installs it. */
  readonly recorder?: RecorderSlot
  /**
   * The LM cache's generation (the CacheManager's `generation`), when the LM caches through the CacheManager: the
   * execution memo is on only then (it must learn of every change that can make a cached answer stale).
   */
  readonly memoGeneration?: () => number
}

/** The actor's requests. */
export type Call =
  | { readonly _tag: "Create"; readonly spec: ModuleSpec }
  | {
      readonly _tag: "Register"
      readonly id: string
      readonly program: Module.Program
      readonly protection: ModuleProtection | undefined
    }
  | { readonly _tag: "Swap"; readonly id: string; readonly patch: SwapPatch }
  | {
      readonly _tag: "Rollback"
      readonly id: string
      readonly toVersion: number | undefined
      readonly ifVersion: number | undefined
    }
  | { readonly _tag: "Remove"; readonly id: string }
  | { readonly _tag: "Reload"; readonly id: string }
  | {
      readonly _tag: "SetPolicy"
      readonly id: string
      readonly policy: unknown
      readonly source: "api" | "config"
      readonly seed: number
    }
  | { readonly _tag: "ClearPolicy"; readonly id: string }
  | { readonly _tag: "SetFallback"; readonly id: string; readonly chain: FallbackChain | undefined }
  | {
      readonly _tag: "CanaryRollback"
      readonly id: string
      readonly routing: Routing
      readonly breach: TrafficPolicy.Breach
    }

/** The actor's answers: a typed error is a value, so a refused change never crashes the actor. */
export type Reply = Either.Either<ModuleInfo | PolicyStatus | ReloadOutcome | undefined, MutationError | PolicyInvalid>

const lineageOf = (
  parent: number | null,
  reason: string,
  note: SwapPatch["lineage"] | undefined
): ReleaseStore.Lineage => ({
  parent,
  reason,
  jobId: note?.jobId ?? null,
  optimizer: note?.optimizer ?? null,
  scores: note?.scores ?? null
})

/**
 * A module's stored versions made programs again (its promoted version current), or a typed error naming the
 * stored row that cannot be read back. Nothing is changed here.
 */
const restore = (
  deps: Dependencies,
  id: string,
  program: Module.Program,
  shape: string,
  stored: ReleaseStore.StoredModule
): Effect.Effect<{ versions: Array<Version>; current: Version }, MutationError> =>
  Effect.gen(function* () {
    if (stored.module.shape !== shape) {
      yield* Events.publishOrLog(
        ServicesEvents.ReleaseShapeMismatch,
        { module_id: id, stored_shape: stored.module.shape, given_shape: shape },
        { events: deps.events }
      )
      return yield* new ReleaseShapeMismatch({
        moduleId: id,
        stored: stored.module.shape,
        given: shape,
        message: `Module "${id}" is registered with another shape (${shape}: its predictors or their fields changed) than its ${stored.versions.length} stored versions (${stored.module.shape}) in ${deps.releases.target}; they were kept and the module was not registered. Register it under another id, or forget its stored releases (ReleaseStore.forget) to start it afresh.`
      })
    }
    let records = stored.versions
    if (!records.some((v) => v.version === stored.module.promoted)) {
      // The promoted version is older than the latest kept in memory: read it too.
      const all = yield* deps.releases.load(id)
      const promoted =
        all._tag === "Some" ? all.value.versions.find((v) => v.version === stored.module.promoted) : undefined
      if (promoted === undefined) {
        return yield* new ReleaseCorrupted({
          moduleId: id,
          version: stored.module.promoted,
          message: `Module "${id}" promotes version ${stored.module.promoted} in ${deps.releases.target}, but no such version is stored; import a release bundle as a new version, or forget the module's releases.`
        })
      }
      records = [promoted, ...records]
    }
    const versions: Array<Version> = []
    for (const record of records) {
      const loaded = Module.loadState(program, record.state)
      if (loaded._tag === "Left") {
        return yield* new ReleaseCorrupted({
          moduleId: id,
          version: record.version,
          message: `Version ${record.version} of module "${id}" in ${deps.releases.target} cannot be read back (${loaded.left.message}); nothing was restored. Import a good release bundle over it, or forget the module's releases.`
        })
      }
      versions.push({
        version: record.version,
        program: loaded.right,
        createdAt: record.createdAt,
        reason: record.lineage?.reason ?? "restored",
        lineage: record.lineage
      })
    }
    const current = versions.find((v) => v.version === stored.module.promoted)!
    return { versions, current }
  })

const addEntry = (
  deps: Dependencies,
  id: string,
  origin: Entry["origin"],
  program: Module.Program,
  protection: ModuleProtection | undefined,
  spec: ModuleSpec | undefined
): Effect.Effect<ModuleInfo, MutationError> =>
  Effect.gen(function* () {
    if (typeof id !== "string" || id.length === 0)
      return yield* invalid(String(id), "id", "A module id must be a non-empty string.")
    if (deps.store.entries.has(id)) {
      return yield* new ModuleAlreadyExists({
        moduleId: id,
        message: `A module "${id}" exists already; swap it, or remove it first.`
      })
    }
    const { breaker, limiter } = yield* protectionsOf(deps.config, deps.events, id, protection)
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const shape = shapeOf(program)
    const config = yield* deps.config.current
    const stored = yield* deps.releases.load(id, config.modules.maxVersions)
    let versions: Array<Version>
    let current: Version
    if (stored._tag === "Some") {
      const restored = yield* restore(deps, id, program, shape, stored.value)
      versions = restored.versions
      current = restored.current
    } else {
      current = {
        version: 1,
        program,
        createdAt: now,
        reason: "created",
        lineage: lineageOf(null, "created", undefined)
      }
      versions = [current]
      // Written before it is acknowledged: a store that refuses leaves no module behind.
      yield* deps.releases.create(
        {
          moduleId: id,
          shape,
          spec: spec === undefined ? null : JSON.parse(JSON.stringify(spec)),
          promoted: 1,
          createdAt: now,
          updatedAt: now
        },
        { moduleId: id, version: 1, state: Module.dumpState(program), lineage: current.lineage, createdAt: now }
      )
    }
    const labels = [MetricLabel.make("module_id", id)]
    const entry: Entry = {
      id,
      origin,
      shape,
      breaker,
      limiter,
      labels,
      successLabels: [MetricLabel.make("outcome", "success"), ...labels],
      failureLabels: [MetricLabel.make("outcome", "failure"), ...labels],
      createdAt: now,
      versions,
      current,
      executions: 0,
      failures: 0,
      routing: undefined,
      fallback: undefined,
      tags: new Map(),
      lastOutputs: new Map(),
      shadowsInFlight: 0
    }
    // A policy configured for it (Config `modules.trafficPolicies`) applies from the start; one that does not fit
    // its versions is reported and the module serves its promoted version.
    const configured = config.modules.trafficPolicies[id]
    if (configured !== undefined) {
      const routing = yield* Effect.either(makeRouting(entry, configured, "config", 0))
      if (routing._tag === "Right") entry.routing = routing.right
      else yield* policyRejected(deps, id, routing.left.message)
    }
    deps.store.entries.set(id, entry)
    yield* Events.publishOrLog(
      ServicesEvents.ModuleCreated,
      {
        module_id: id,
        module_type: origin._tag === "Spec" ? origin.kind : "program",
        name: Module.nameOf(program),
        version: current.version
      },
      { events: deps.events }
    )
    if (stored._tag === "Some") {
      yield* Events.publishOrLog(
        ServicesEvents.ReleaseRestored,
        { module_id: id, version: current.version, versions: versions.length },
        { events: deps.events }
      )
    }
    return yield* describeEntry(entry)
  })

/**
 * Adds a version and makes it current; the history keeps the latest `modules.maxVersions` in memory (the
 * release store keeps them all). The version is stored first: a store that refuses changes nothing.
 */
const appendVersion = (
  deps: Dependencies,
  entry: Entry,
  program: Module.Program,
  reason: string,
  note?: SwapPatch["lineage"]
): Effect.Effect<Version, MutationError> =>
  Effect.gen(function* () {
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const config = yield* deps.config.current
    const last = entry.versions[entry.versions.length - 1]!
    const version: Version = {
      version: last.version + 1,
      program,
      createdAt: now,
      reason,
      lineage: lineageOf(entry.current.version, reason, note)
    }
    // Compare-and-swap on the stored promoted version: a write computed against a version another process
    // (sharing the database) has replaced since is refused, and changes nothing here either.
    yield* deps.releases
      .appendIf(
        {
          moduleId: entry.id,
          version: version.version,
          state: Module.dumpState(program),
          lineage: version.lineage,
          createdAt: now
        },
        entry.current.version
      )
      .pipe(
        Effect.catchTag("ReleaseStoreConflict", (conflict) =>
          Effect.fail(
            new ModuleVersionConflict({
              moduleId: entry.id,
              expected: entry.current.version,
              actual: conflict.found ?? -1,
              message: `Module "${entry.id}" serves version ${entry.current.version} here, but its stored promoted version is ${conflict.found ?? "gone"}: another process sharing the release store changed it first, and nothing was changed. Restart this process (or reload the module) to serve the stored version, then decide again.`
            })
          )
        )
      )
    entry.versions.push(version)
    // The swap itself: one reference write, seen by every execution that starts after it.
    entry.current = version
    // Bounded history: a module swapped all day keeps its latest versions, not all of them.
    const excess = entry.versions.length - config.modules.maxVersions
    if (excess > 0) entry.versions.splice(0, excess)
    return version
  })

/**
 * A canary that broke a guard rail, rolled back: when its candidate is the current version, the stable version is
 * made current again through the compare-and-swap (only if the candidate is still current); the policy is lifted
 * either way (the module serves its current version) and `canary_rolled_back` says why. A policy replaced since
 * the breach is left alone.
 */
const canaryRollback = (
  deps: Dependencies,
  entry: Entry,
  routing: Routing,
  breach: TrafficPolicy.Breach
): Effect.Effect<ModuleInfo | undefined, MutationError> =>
  Effect.gen(function* () {
    if (entry.routing !== routing || routing.policy._tag !== "Canary") return undefined
    const candidate = routing.versions.get(routing.policy.candidate)!
    const stable = routing.versions.get(routing.policy.stable)!
    const conflict = checkPrecondition(entry, "canary rollback", candidate.version)
    if (conflict === undefined) {
      yield* appendVersion(deps, entry, stable.program, `canary_rollback(${stable.version})`)
    }
    entry.routing = undefined
    yield* Events.publishOrLog(
      ServicesEvents.CanaryRolledBack,
      {
        module_id: entry.id,
        candidate_version: candidate.version,
        baseline_version: stable.version,
        reason: `${breach.rail}: ${breach.reason}`
      },
      { events: deps.events }
    )
    return yield* describeEntry(entry)
  })

/**
 * Serves the stored promoted version when it is newer than the current one (another process sharing the release
 * store made it): the stored versions are made programs again (as at registration) and the latest becomes current.
 * Version numbers only grow (a rollback is a new version), so an older or equal stored version is a stale notice
 * and changes nothing; a module forgotten in the store keeps serving here.
 */
const reload = (deps: Dependencies, entry: Entry): Effect.Effect<ReloadOutcome, MutationError> =>
  Effect.gen(function* () {
    const from = entry.current.version
    const config = yield* deps.config.current
    const stored = yield* deps.releases.load(entry.id, config.modules.maxVersions)
    if (stored._tag === "None" || stored.value.module.promoted <= from)
      return { moduleId: entry.id, from, to: from, applied: false }
    const restored = yield* restore(deps, entry.id, entry.current.program, entry.shape, stored.value)
    // The stored history replaces this process's: it holds every version this process made, and the newer ones.
    entry.versions = restored.versions
    entry.current = restored.current
    return { moduleId: entry.id, from, to: restored.current.version, applied: true }
  })

const handle = (
  deps: Dependencies,
  msg: Call
): Effect.Effect<ModuleInfo | PolicyStatus | ReloadOutcome | undefined, MutationError | PolicyInvalid> => {
  switch (msg._tag) {
    case "Reload": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      return reload(deps, entry)
    }
    case "SetPolicy": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      return Effect.flatMap(makeRouting(entry, msg.policy, msg.source, msg.seed), (routing) => {
        entry.routing = routing
        return Effect.as(
          Events.publishOrLog(
            ServicesEvents.TrafficPolicyChanged,
            { module_id: msg.id, policy: JSON.stringify(routing.policy), source: msg.source },
            { events: deps.events }
          ),
          statusOf(entry, routing)
        )
      })
    }
    case "ClearPolicy": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      if (entry.routing === undefined) return Effect.succeed(undefined)
      entry.routing = undefined
      return Effect.as(
        Events.publishOrLog(
          ServicesEvents.TrafficPolicyChanged,
          { module_id: msg.id, policy: "none", source: "api" },
          { events: deps.events }
        ),
        undefined
      )
    }
    case "SetFallback": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      entry.fallback = msg.chain
      entry.lastOutputs.clear()
      return Effect.succeed(undefined)
    }
    case "CanaryRollback": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      return canaryRollback(deps, entry, msg.routing, msg.breach)
    }
    case "Create": {
      const spec = msg.spec
      return Effect.flatMap(deps.config.current, (config) =>
        Effect.flatMap(programOfSpec(spec, config.modules.defaultAdapter), (program) =>
          addEntry(
            deps,
            spec.id,
            { _tag: "Spec", kind: spec.kind, signature: spec.signature },
            program,
            spec.protection,
            spec
          )
        )
      )
    }
    case "Register":
      return addEntry(deps, msg.id, { _tag: "Program" }, msg.program, msg.protection, undefined)
    case "Swap": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      const conflict = checkPrecondition(entry, "swap", msg.patch.ifVersion)
      if (conflict !== undefined) return Effect.fail(conflict)
      const from = entry.current.version
      return Effect.flatMap(applyPatch(msg.id, entry.current.program, msg.patch), (program) =>
        Effect.flatMap(
          appendVersion(deps, entry, program, msg.patch.lineage?.reason ?? "swapped", msg.patch.lineage),
          (version) =>
            Effect.zipRight(
              Events.publishOrLog(
                ServicesEvents.ModuleSwapped,
                { module_id: msg.id, from_version: from, to_version: version.version },
                { events: deps.events }
              ),
              describeEntry(entry)
            )
        )
      )
    }
    case "Rollback": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      const conflict = checkPrecondition(entry, "rollback", msg.ifVersion)
      if (conflict !== undefined) return Effect.fail(conflict)
      const from = entry.current.version
      const target =
        msg.toVersion === undefined
          ? entry.versions[entry.versions.indexOf(entry.current) - 1]
          : entry.versions.find((v) => v.version === msg.toVersion)
      if (target === undefined || target === entry.current) {
        return Effect.fail(
          new ModuleVersionNotFound({
            moduleId: msg.id,
            version: msg.toVersion ?? from - 1,
            message:
              msg.toVersion === undefined
                ? `Module "${msg.id}" has no version before its current one (${from}) to roll back to.`
                : `Module "${msg.id}" has no version ${msg.toVersion} other than the current one; its versions are ${entry.versions.map((v) => v.version).join(", ")}.`
          })
        )
      }
      return Effect.flatMap(appendVersion(deps, entry, target.program, `rolled_back(${target.version})`), (version) =>
        Effect.zipRight(
          Events.publishOrLog(
            ServicesEvents.ModuleRolledBack,
            {
              module_id: msg.id,
              from_version: from,
              to_version: version.version,
              restored_version: target.version
            },
            { events: deps.events }
          ),
          describeEntry(entry)
        )
      )
    }
    case "Remove": {
      if (!deps.store.entries.has(msg.id)) return Effect.fail(notFound(msg.id))
      // Its stored releases go first: a store that refuses leaves the module as it was.
      return Effect.zipRight(
        deps.releases.forget(msg.id),
        Effect.suspend(() => {
          deps.store.entries.delete(msg.id)
          return Effect.as(
            Events.publishOrLog(ServicesEvents.ModuleRemoved, { module_id: msg.id }, { events: deps.events }),
            undefined
          )
        })
      )
    }
  }
}

/** The ModuleManager actor: serialises the mutations of the module table. */
export const actor = Actor.make({
  name: "module_manager",
  // Its requests carry programs: values with functions (forward, schemas) that cannot be copied. Programs are
  // immutable (a change makes a new program) and the actor copies their parameters itself when it stores a
  // version, so sharing them is safe: this actor opts out of message isolation even where tests turn it on.
  isolation: "none",
  init: (deps: Dependencies) =>
    Effect.as(
      Events.publishOrLog(ServicesEvents.ServiceStarted, { service: "module_manager" }, { events: deps.events }),
      deps
    ),
  handleCall: (msg: Call, deps: Dependencies) =>
    Effect.map(
      // A change that throws (a program whose parameters cannot be copied) is answered with a typed error
      // instead of crashing the actor: a poison request must not restart it until its supervisor gives up.
      Effect.either(
        Effect.catchAllDefect(
          Effect.suspend(() => handle(deps, msg)),
          (defect) =>
            Effect.fail(
              invalid(
                "id" in msg ? msg.id : msg.spec.id,
                msg._tag.toLowerCase(),
                `The ${msg._tag.toLowerCase()} failed unexpectedly: ${defect instanceof Error ? defect.message : String(defect)}`
              )
            )
        )
      ),
      (result): Actor.CallResult<Reply, Dependencies> => Actor.reply(result, deps)
    )
})

/** Spawns the ModuleManager actor over its dependencies (a supervisor's child start). */
export const startActor = (
  deps: Dependencies
): Effect.Effect<Actor.ActorRef<Call, Reply>, RuntimeError.InvalidOptions> => Actor.spawn(actor, deps)

const name = Registry.name<Actor.ActorRef<Call, Reply>>(actorName)

/** Calls the actor through the registry; while it restarts, waits a few turns for its successor. */
export const mutate = (
  deps: Dependencies,
  msg: Call
): Effect.Effect<ModuleInfo | PolicyStatus | ReloadOutcome | undefined, MutationError | PolicyInvalid> => {
  // Only finding the actor is retried (it may be restarting); a request it took is never sent twice.
  const find = (left: number): Effect.Effect<Actor.ActorRef<Call, Reply>, RuntimeError.NoProc> =>
    Effect.catchTag(deps.registry.lookup(name), "NoProc", (e) =>
      left > 0 ? Effect.zipRight(Effect.yieldNow(), find(left - 1)) : Effect.fail(e)
    )
  return Effect.flatMap(find(200), (ref) => Actor.call(ref, msg, "30 seconds")).pipe(
    Effect.mapError(
      (e) =>
        new ModuleManagerUnavailable({
          operation: msg._tag.toLowerCase(),
          message: `The ModuleManager actor did not answer the ${msg._tag.toLowerCase()} request (${e.message}); executions are unaffected. Check the module (describe) and retry the change.`
        })
    ),
    Effect.flatten
  )
}

/** The ModuleManager as its experiments see it. */
export const hostOf = (deps: Dependencies): PolicyExperiments.Host => ({
  store: deps.store,
  experiments: deps.experiments,
  // The experiments' changes never reload: their answer is a module's info, a policy's status or nothing.
  mutate: (msg) =>
    mutate(deps, msg) as Effect.Effect<ModuleInfo | PolicyStatus | undefined, MutationError | PolicyInvalid>
})

/** A policy from Config that was not applied: logged, and recorded as an event saying what to fix. */
const policyRejected = (deps: Dependencies, id: string, error: string): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.logWarning(`The configured traffic policy of module "${id}" was not applied: ${error}`),
    Effect.asVoid(
      Events.publishOrLog(
        ServicesEvents.TrafficPolicyRejected,
        { module_id: id, source: "config", error },
        { events: deps.events }
      )
    )
  )

/**
 * Applies Config `modules.trafficPolicies` as it changes: a module whose entry changed gets the new policy
 * (through the actor, as a `setPolicy` would), one whose entry was removed loses its config policy. A policy that
 * does not fit is logged and the one in force kept. Runs until interrupted.
 */
export const watchConfigPolicies = (deps: Dependencies): Effect.Effect<void> => {
  let applied = new Map<string, string>()
  return deps.config.watch("modules.trafficPolicies").pipe(
    Stream.runForEach((value) =>
      Effect.gen(function* () {
        const policies = (value ?? {}) as { readonly [id: string]: unknown }
        const next = new Map<string, string>()
        for (const [id, policy] of Object.entries(policies)) {
          const text = JSON.stringify(policy)
          next.set(id, text)
          if (applied.get(id) === text || !deps.store.entries.has(id)) continue
          yield* mutate(deps, { _tag: "SetPolicy", id, policy, source: "config", seed: 0 }).pipe(
            Effect.zipRight(PolicyExperiments.start(hostOf(deps), id, undefined)),
            Effect.catchAll((e) => policyRejected(deps, id, e.message))
          )
        }
        for (const id of applied.keys()) {
          const entry = deps.store.entries.get(id)
          if (!next.has(id) && entry?.routing?.source === "config") {
            const experiment = entry.routing.experiment
            yield* Effect.ignoreLogged(mutate(deps, { _tag: "ClearPolicy", id }))
            yield* PolicyExperiments.conclude(hostOf(deps), experiment, "the configured traffic policy was removed")
          }
        }
        applied = next
      })
    ),
    Effect.catchAll((e) => Effect.logError(`modules.trafficPolicies cannot be watched: ${e.message}`))
  )
}
