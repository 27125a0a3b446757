/**
 * The ModuleManager service over its dependencies: executions and reads straight from the module table, in the
 * caller's fiber; changes through the actor ({@link mutate}).
 */
import { LM, Module } from "@effect-dspy/core"
import { Correlation, Errors, Events } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { type ExecuteError, type Execution, executionDuration, executions, type Service } from "../../ModuleManager.js"
import { type ModuleNotFound, ModuleVersionNotFound } from "../../ServicesError.js"
import { type Dependencies, mutate } from "./actor.js"
import { describeEntry, notFound } from "./programs.js"
import { type Entry, ModuleStore } from "./store.js"

const toFamily = (error: unknown): Errors.DSPyErrorLike =>
  Errors.isDSPyError(error)
    ? error
    : new Errors.UnexpectedError({
        message: `The module failed with a value outside the error family: ${String(error)}`,
        cause: error
      })

/**
 * Builds the ModuleManager service over its dependencies (the application does this; the actor is started by
 * its supervisor with the same dependencies).
 */
export const make = (deps: Dependencies): Service => {
  const store = deps.store
  // What a program runs with: the application's LM (the supervised providers) and its event store.
  const runContext = Context.make(LM.LM, deps.lm).pipe(Context.add(Events.Events, deps.events))

  const execute = (id: string, inputs: unknown): Effect.Effect<Execution, ExecuteError> =>
    Effect.suspend(() => {
      const entry = store.entries.get(id)
      if (entry === undefined) return Effect.fail(notFound(id))
      // The version is read once, here: the call runs it to the end whatever swaps happen meanwhile.
      const version = entry.current
      const program = Module.call(version.program as Module.Any, inputs) as Effect.Effect<unknown, unknown, LM.LM>
      const run = Effect.clockWith((clock) => {
        const started = clock.unsafeCurrentTimeMillis()
        return deps.protection
          .executeProtected(
            `module:${id}`,
            { breaker: entry.breaker, limiter: entry.limiter },
            Effect.mapError(
              Effect.mapInputContext(program, (_: Context.Context<never>) => runContext),
              toFamily
            )
          )
          .pipe(
            Effect.catchAllDefect((defect) =>
              Effect.fail(
                new Errors.UnexpectedError({
                  message: `Module "${id}" died: ${defect instanceof Error ? defect.message : String(defect)}`,
                  cause: defect
                })
              )
            ),
            Effect.onExit((exit) =>
              Effect.sync(() => {
                entry.executions++
                const ok = exit._tag === "Success"
                if (!ok) entry.failures++
                executionDuration.unsafeUpdate(clock.unsafeCurrentTimeMillis() - started, entry.labels)
                executions.unsafeUpdate(1, ok ? entry.successLabels : entry.failureLabels)
              })
            )
          )
      })
      return Effect.map(
        deps.drain.track(`module "${id}" execution`, Correlation.ensureCorrelationId(run)),
        (output): Execution => ({ moduleId: id, version: version.version, output })
      )
    })

  const find = (id: string): Effect.Effect<Entry, ModuleNotFound> =>
    Effect.suspend(() => {
      const entry = store.entries.get(id)
      return entry === undefined ? Effect.fail(notFound(id)) : Effect.succeed(entry)
    })

  return {
    create: (spec) => Effect.map(mutate(deps, { _tag: "Create", spec }), (i) => i!),
    register: (id, program, options) =>
      Effect.map(mutate(deps, { _tag: "Register", id, program, protection: options?.protection }), (i) => i!),
    execute,
    swap: (id, patch) => Effect.map(mutate(deps, { _tag: "Swap", id, patch }), (i) => i!),
    rollback: (id, toVersion, options) =>
      Effect.map(mutate(deps, { _tag: "Rollback", id, toVersion, ifVersion: options?.ifVersion }), (i) => i!),
    remove: (id) => Effect.asVoid(mutate(deps, { _tag: "Remove", id })),
    describe: (id) => Effect.flatMap(find(id), describeEntry),
    list: Effect.suspend(() =>
      Effect.forEach(
        Array.from(store.entries.values()).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
        describeEntry
      )
    ),
    history: (id) =>
      Effect.map(find(id), (entry) =>
        entry.versions.map((v) => ({
          version: v.version,
          createdAt: v.createdAt,
          reason: v.reason,
          current: v === entry.current,
          parent: v.lineage.parent,
          jobId: v.lineage.jobId
        }))
      ),
    program: (id, version) =>
      Effect.flatMap(find(id), (entry) => {
        if (version === undefined) return Effect.succeed(entry.current.program)
        const found = entry.versions.find((v) => v.version === version)
        return found === undefined
          ? Effect.fail(
              new ModuleVersionNotFound({
                moduleId: id,
                version,
                message: `Module "${id}" has no version ${version}; its versions are ${entry.versions.map((v) => v.version).join(", ")}.`
              })
            )
          : Effect.succeed(found.program)
      })
  }
}

/** A fresh, empty module table (owned by whoever outlives the actor: the application's layer). */
export const makeStore = (): ModuleStore => new ModuleStore()
