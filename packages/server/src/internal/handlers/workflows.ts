/** The workflows group's handlers (on the `WorkflowEngine` in context, if any). */
import { Correlation, Tenant } from "@effect-dspy/foundation"
import { Statechart, Workflow, WorkflowEngine } from "@effect-dspy/workflows"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Api } from "../../Api.js"
import * as ApiError from "../../ApiError.js"
import * as WorkflowsApi from "../../api/WorkflowsApi.js"
import { requireScope } from "../../Auth.js"
import { jsonSafe } from "./modules.js"

/** A workflow's failures as the API's: invalid 422, bad inputs 400, unknown run 404, not resumable 409. */
const workflowError = (error: unknown) => {
  const e = error as { readonly _tag?: unknown; readonly message?: unknown } & Record<string, unknown>
  const message = typeof e.message === "string" && e.message !== "" ? e.message : String(e._tag)
  switch (e._tag) {
    case "WorkflowInvalid":
      return new WorkflowsApi.WorkflowInvalid({
        message,
        issues: (e.issues as ReadonlyArray<typeof WorkflowsApi.Issue.Type>).map((i) => ({ ...i }))
      })
    case "WorkflowInputInvalid":
      return new ApiError.BadRequest({ message, field: "inputs" })
    case "RunNotFound":
      return new ApiError.NotFound({ message })
    case "RunNotResumable":
      return new ApiError.Conflict({ message })
    default:
      return ApiError.fromFailure(error)
  }
}

const parse = (source: typeof WorkflowsApi.Source.Type) =>
  Effect.mapError(
    Workflow.parse(source.workflow, source.file ?? "workflow.yaml", { subWorkflows: "none" }),
    workflowError
  )

const toResult = (result: WorkflowEngine.Result): typeof WorkflowsApi.RunResult.Type => ({
  runId: result.runId,
  workflow: result.workflow,
  status: result.status,
  outputs: jsonSafe(result.outputs),
  restored: jsonSafe(result.restored),
  steps: result.steps.map(jsonSafe)
})

/** The handlers of the `workflows` group. */
export const layer = HttpApiBuilder.group(Api, "workflows", (handlers) =>
  Effect.gen(function* () {
    const found = yield* Effect.serviceOption(WorkflowEngine.WorkflowEngine)
    const engine = Option.match(found, {
      onNone: () =>
        Effect.fail(
          new ApiError.Unavailable({
            message: "this server runs no workflow engine: build it with WorkflowEngine.layer below Server.layer",
            retryable: false
          })
        ),
      onSome: (e) => Effect.succeed(e)
    })
    return handlers
      .handle("validate", ({ payload }) =>
        Effect.zipRight(
          requireScope("read"),
          Effect.map(parse(payload), (w) => ({
            valid: true as const,
            name: w.name,
            inputs: Object.keys(w.inputs),
            steps: w.definition.steps.map((s) => s.id)
          }))
        )
      )
      .handle("describe", ({ payload }) =>
        Effect.zipRight(
          requireScope("read"),
          Effect.map(parse(payload), (w) => ({ name: w.name, mermaid: Statechart.mermaid(w) }))
        )
      )
      .handle("run", ({ payload }) =>
        Effect.gen(function* () {
          yield* requireScope("execute")
          const e = yield* engine
          const w = yield* parse(payload)
          // A tenant's run is stored under its own run id (`~tenant/<id>`), so another tenant cannot reach it.
          const scope = yield* Tenant.scope
          const runId =
            Option.isNone(scope) || scope.value === Tenant.defaultTenant
              ? payload.runId
              : Tenant.qualifyScoped(scope.value, payload.runId ?? Correlation.makeId(w.name))
          const result = yield* Effect.mapError(
            e.run(w, payload.inputs, runId === undefined ? {} : { runId }),
            workflowError
          )
          return toResult({ ...result, runId: Tenant.localName(result.runId) })
        })
      )
      .handle("status", ({ path }) =>
        Effect.gen(function* () {
          yield* requireScope("read")
          const e = yield* engine
          const record = yield* Effect.mapError(
            Effect.flatMap(Tenant.qualify(path.id), (id) => e.record(id)),
            workflowError
          )
          return jsonSafe({ ...record, runId: Tenant.localName(record.runId) })
        })
      )
      .handle("resume", ({ path, payload }) =>
        Effect.gen(function* () {
          yield* requireScope("execute")
          const e = yield* engine
          const w = yield* parse(payload)
          const result = yield* Effect.mapError(
            Effect.flatMap(Tenant.qualify(path.id), (id) => e.resume(w, id)),
            workflowError
          )
          return toResult({ ...result, runId: Tenant.localName(result.runId) })
        })
      )
  })
)
