/** The data-rights group's handlers: the `DataRights` in context, else one over the application's stores. */
import { Tenant } from "@effect-dspy/foundation"
import { Archive, DataRights } from "@effect-dspy/services"
import { RunStore } from "@effect-dspy/workflows"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Api } from "../../Api.js"
import { BadRequest, Forbidden, Unavailable } from "../../ApiError.js"
import { requireScope } from "../../Auth.js"

const toApiError = (e: DataRights.DataRightsInvalid | DataRights.DataRightsIncomplete) =>
  e._tag === "DataRightsInvalid"
    ? new BadRequest({ message: e.message, field: e.field })
    : new Unavailable({ message: e.message, retryable: true })

/** The selector of a request: a caller bound to a tenant reaches only its own. */
const scoped = (body: { readonly subject?: string | undefined; readonly tenant?: string | undefined }) =>
  Effect.flatMap(Tenant.scope, (current) => {
    if (Option.isNone(current)) return Effect.succeed(body)
    if (body.tenant !== undefined && body.tenant !== current.value)
      return Effect.fail(
        new Forbidden({ message: "A tenant's key reaches only its own tenant's data.", required: "admin" })
      )
    return Effect.succeed({ ...body, tenant: current.value })
  })

/** The handlers of the `dataRights` group. */
export const layer = HttpApiBuilder.group(Api, "dataRights", (handlers) =>
  Effect.gen(function* () {
    const given = yield* Effect.serviceOption(DataRights.DataRights)
    const runs = yield* Effect.serviceOption(RunStore.RunStore)
    const rights = Option.isSome(given)
      ? given.value
      : yield* Effect.flatMap(DataRights.sourcesFromContext, (sources) =>
          DataRights.make(Option.isSome(runs) ? [...sources, RunStore.rightsSource(runs.value)] : sources)
        )
    return handlers
      .handle("export", ({ payload }) =>
        Effect.gen(function* () {
          yield* requireScope("admin")
          const selector = yield* scoped(payload)
          return Archive.encode(yield* Effect.mapError(rights.export(selector), toApiError))
        })
      )
      .handle("erase", ({ payload }) =>
        Effect.gen(function* () {
          yield* requireScope("admin")
          const selector = yield* scoped(payload)
          const report = yield* Effect.mapError(rights.erase(selector), toApiError)
          return { counts: report.counts, total: report.total, at: report.at }
        })
      )
  })
)
