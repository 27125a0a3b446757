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
import {
  actorName,
  type ModuleInfo,
  type ModuleProtection,
  type ModuleSpec,
  type MutationError,
  type SwapPatch
} from "../../ModuleManager.js"
import { ModuleAlreadyExists, ModuleManagerUnavailable, ModuleVersionNotFound } from "../../ServicesError.js"
import type { Drain } from "../drain.js"
import { applyPatch, checkPrecondition, describeEntry, invalid, notFound, programOfSpec } from "./programs.js"
import { protectionsOf } from "./protections.js"
import type { Entry, ModuleStore, Version } from "./store.js"
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

/** The actor's answers: a typed error is a value, so a refused change never crashes the actor. */
export type Reply = Either.Either<ModuleInfo | undefined, MutationError>

const addEntry = (
  deps: Dependencies,
  id: string,
  origin: Entry["origin"],
  program: Module.Program,
  protection: ModuleProtection | undefined
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
    const version: Version = { version: 1, program, createdAt: now, reason: "created" }
    const labels = [MetricLabel.make("module_id", id)]
    const entry: Entry = {
      id,
      origin,
      breaker,
      limiter,
      labels,
      successLabels: [MetricLabel.make("outcome", "success"), ...labels],
      failureLabels: [MetricLabel.make("outcome", "failure"), ...labels],
      createdAt: now,
      versions: [version],
      current: version,
      executions: 0,
      failures: 0
    }
    deps.store.entries.set(id, entry)
    yield* Events.publishOrLog(
      ServicesEvents.ModuleCreated,
      {
        module_id: id,
        module_type: origin._tag === "Spec" ? origin.kind : "program",
        name: Module.nameOf(program),
        version: 1
      },
      { events: deps.events }
    )
    return yield* describeEntry(entry)
  })

/** Adds a version and makes it current; the history keeps the latest `modules.maxVersions`. */
const appendVersion = (
  deps: Dependencies,
  entry: Entry,
  program: Module.Program,
  reason: string
): Effect.Effect<Version> =>
  Effect.clockWith((clock) =>
    Effect.flatMap(deps.config.current, (config) =>
      Effect.map(clock.currentTimeMillis, (now) => {
        const last = entry.versions[entry.versions.length - 1]!
        const version: Version = { version: last.version + 1, program, createdAt: now, reason }
        entry.versions.push(version)
        // The swap itself: one reference write, seen by every execution that starts after it.
        entry.current = version
        // Bounded history: a module swapped all day keeps its latest versions, not all of them.
        const excess = entry.versions.length - config.modules.maxVersions
        if (excess > 0) entry.versions.splice(0, excess)
        return version
      })
    )
  )

const handle = (deps: Dependencies, msg: Call): Effect.Effect<ModuleInfo | undefined, MutationError> => {
  switch (msg._tag) {
    case "Create": {
      const spec = msg.spec
      return Effect.flatMap(deps.config.current, (config) =>
        Effect.flatMap(programOfSpec(spec, config.modules.defaultAdapter), (program) =>
          addEntry(
            deps,
            spec.id,
            { _tag: "Spec", kind: spec.kind, signature: spec.signature },
            program,
            spec.protection
          )
        )
      )
    }
    case "Register":
      return addEntry(deps, msg.id, { _tag: "Program" }, msg.program, msg.protection)
    case "Swap": {
      const entry = deps.store.entries.get(msg.id)
      if (entry === undefined) return Effect.fail(notFound(msg.id))
      const conflict = checkPrecondition(entry, "swap", msg.patch.ifVersion)
      if (conflict !== undefined) return Effect.fail(conflict)
      const from = entry.current.version
      return Effect.flatMap(applyPatch(msg.id, entry.current.program, msg.patch), (program) =>
        Effect.flatMap(appendVersion(deps, entry, program, "swapped"), (version) =>
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
      if (!deps.store.entries.delete(msg.id)) return Effect.fail(notFound(msg.id))
      return Effect.as(
        Events.publishOrLog(ServicesEvents.ModuleRemoved, { module_id: msg.id }, { events: deps.events }),
        undefined
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
export const mutate = (deps: Dependencies, msg: Call): Effect.Effect<ModuleInfo | undefined, MutationError> => {
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
