/** The modules group's handlers. */
import { Experiments, ModuleManager, ReleaseBundle, ReleaseStore } from "@effect-dspy/services"
import { Tenant } from "@effect-dspy/foundation"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Api } from "../../Api.js"
import type { ExecuteRequest } from "../../api/ModulesApi.js"
import type { Scope } from "../../ApiKeys.js"
import * as ApiError from "../../ApiError.js"
import { requireScope } from "../../Auth.js"
import * as Sse from "../../Sse.js"
import type { Gate } from "../gate.js"
import { GateTag } from "./context.js"

const toInfo = (info: ModuleManager.ModuleInfo) => ({
  id: info.id,
  name: info.name,
  kind: info.kind,
  signature: info.signature,
  version: info.version,
  versions: info.versions,
  predictors: info.predictors,
  executions: info.executions,
  failures: info.failures,
  breaker: String(info.breaker),
  createdAt: info.createdAt
})

/** An execution as the API answers it (`ModulesApi.Execution`). */
export const toExecution = (execution: ModuleManager.Execution) => ({
  executionId: execution.executionId,
  moduleId: execution.moduleId,
  version: execution.version,
  output: execution.output,
  reason: execution.reason,
  ...(execution.arm === undefined ? {} : { arm: execution.arm }),
  ...(execution.fallback === undefined ? {} : { fallback: execution.fallback }),
  stale: execution.stale
})

const mapped = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.mapError(effect, ApiError.fromFailure)

/**
 * The handler of `POST /modules/{id}/execute` (the `execute` scope, then the execution). The server's fast path of
 * the same endpoint (`../fastExecute.ts`) runs the same pieces ({@link executeScope}, {@link execute},
 * {@link toExecution}) without the Effect wrapping.
 */
export const makeExecute =
  (modules: ModuleManager.Service) =>
  ({ path, payload }: { readonly path: { readonly id: string }; readonly payload: typeof ExecuteRequest.Type }) =>
    Effect.zipRight(requireScope(executeScope), Effect.map(mapped(execute(modules, path.id, payload)), toExecution))

/** The scope `POST /modules/{id}/execute` needs. */
export const executeScope: Scope = "execute"

/** The execution a request asks for (its failures are the application's, for `ApiError.fromFailure`). */
export const execute = (modules: ModuleManager.Service, id: string, payload: typeof ExecuteRequest.Type) =>
  modules.execute(id, payload.inputs, payload.callerKey === undefined ? {} : { callerKey: payload.callerKey })

/** The handlers of the `modules` group. */
export const layer = HttpApiBuilder.group(Api, "modules", (handlers) =>
  Effect.gen(function* () {
    const modules = yield* ModuleManager.ModuleManager
    const experiments = yield* Experiments.Experiments
    const releases = yield* ReleaseStore.ReleaseStore
    const gate: Gate = yield* GateTag
    return handlers
      .handle("list", () =>
        Effect.zipRight(
          requireScope("read"),
          Effect.map(modules.list, (all) => all.map(toInfo))
        )
      )
      .handle("create", ({ payload }) =>
        Effect.zipRight(
          requireScope("admin"),
          mapped(
            Effect.map(
              modules.create({
                id: payload.id,
                kind: payload.kind,
                signature: payload.signature,
                ...(payload.instructions === undefined ? {} : { instructions: payload.instructions }),
                ...(payload.adapter === undefined ? {} : { adapter: payload.adapter }),
                ...(payload.demos === undefined ? {} : { demos: payload.demos }),
                ...(payload.config === undefined ? {} : { config: payload.config as never })
              }),
              toInfo
            )
          )
        )
      )
      .handle("describe", ({ path }) =>
        Effect.zipRight(requireScope("read"), mapped(Effect.map(modules.describe(path.id), toInfo)))
      )
      .handle("remove", ({ path }) => Effect.zipRight(requireScope("admin"), mapped(modules.remove(path.id))))
      .handle("execute", makeExecute(modules))
      .handle("executeStream", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* requireScope("execute")
          // The module must exist before the stream opens (a 404, not an SSE error event).
          yield* mapped(modules.describe(path.id))
          const events = Stream.concat(
            Stream.make({ id: "0", event: "started", data: JSON.stringify({ moduleId: path.id }) } as Sse.Event),
            Stream.fromEffect(
              mapped(execute(modules, path.id, payload)).pipe(
                Effect.match({
                  onFailure: (error): Sse.Event => ({ id: "1", event: "error", data: JSON.stringify(error) }),
                  onSuccess: (execution): Sse.Event => ({
                    id: "1",
                    event: "result",
                    data: JSON.stringify(toExecution(execution))
                  })
                })
              )
            )
          )
          return Sse.response(gate.sseStream(events))
        })
      )
      .handle("versions", ({ path }) => Effect.zipRight(requireScope("read"), mapped(modules.history(path.id))))
      .handle("swap", ({ path, payload }) =>
        Effect.zipRight(
          requireScope("admin"),
          mapped(
            Effect.map(
              modules.swap(path.id, {
                ...(payload.instructions === undefined ? {} : { instructions: payload.instructions }),
                ...(payload.demos === undefined ? {} : { demos: payload.demos as never }),
                ...(payload.state === undefined ? {} : { state: payload.state }),
                ...(payload.ifVersion === undefined ? {} : { ifVersion: payload.ifVersion })
              }),
              toInfo
            )
          )
        )
      )
      .handle("rollback", ({ path, payload }) =>
        Effect.zipRight(
          requireScope("admin"),
          mapped(
            Effect.map(
              modules.rollback(
                path.id,
                payload.toVersion,
                payload.ifVersion === undefined ? {} : { ifVersion: payload.ifVersion }
              ),
              toInfo
            )
          )
        )
      )
      .handle("policy", ({ path }) =>
        Effect.zipRight(
          requireScope("read"),
          mapped(Effect.map(modules.policy(path.id), (status) => (status === undefined ? null : jsonSafe(status))))
        )
      )
      .handle("setPolicy", ({ path, payload }) =>
        Effect.zipRight(
          requireScope("admin"),
          mapped(
            Effect.map(
              modules.setPolicy(path.id, payload.policy, payload.seed === undefined ? {} : { seed: payload.seed }),
              jsonSafe
            )
          )
        )
      )
      .handle("clearPolicy", ({ path }) => Effect.zipRight(requireScope("admin"), mapped(modules.clearPolicy(path.id))))
      .handle("exportRelease", ({ path, urlParams }) =>
        Effect.zipRight(
          requireScope("read"),
          // A tenant exports its own module only: the stored name is its own, read in the system's view.
          mapped(
            Effect.flatMap(Tenant.qualify(path.id), (stored) =>
              Tenant.unscoped(
                ReleaseBundle.exportBundle(
                  stored,
                  urlParams.version === undefined ? {} : { version: urlParams.version }
                )
              )
            )
          ).pipe(Effect.provideService(ReleaseStore.ReleaseStore, releases))
        )
      )
      .handle("importRelease", ({ path, payload }) =>
        Effect.zipRight(
          requireScope("admin"),
          mapped(
            Effect.flatMap(Tenant.qualify(path.id), (stored) =>
              Effect.map(
                Tenant.unscoped(
                  ReleaseBundle.importBundle(payload.bundle, {
                    moduleId: stored,
                    ...(payload.ifVersion === undefined ? {} : { ifVersion: payload.ifVersion })
                  })
                ),
                (info) => toInfo({ ...info, id: path.id })
              )
            )
          ).pipe(
            Effect.provideService(ReleaseStore.ReleaseStore, releases),
            Effect.provideService(ModuleManager.ModuleManager, modules)
          )
        )
      )
      .handle("experiments", ({ urlParams }) =>
        Effect.zipRight(
          requireScope("read"),
          Effect.map(experiments.list(urlParams.moduleId), (all) => all.map(jsonSafe))
        )
      )
      .handle("experiment", ({ path }) =>
        Effect.zipRight(requireScope("read"), mapped(Effect.map(experiments.get(path.id), jsonSafe)))
      )
  })
)

/** A value as plain JSON (classes and undefined fields dropped the way `JSON.stringify` does). */
export const jsonSafe = (value: unknown): unknown => JSON.parse(JSON.stringify(value ?? null))
