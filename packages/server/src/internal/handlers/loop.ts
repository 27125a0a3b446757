/** The feedback and loop group's handlers. */
import { Loop } from "@effect-dspy/services"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { Api } from "../../Api.js"
import * as ApiError from "../../ApiError.js"
import * as FeedbackApi from "../../api/FeedbackApi.js"
import { requireScope } from "../../Auth.js"

const messageOf = (error: { readonly message?: unknown; readonly _tag: string }): string =>
  typeof error.message === "string" && error.message !== "" ? error.message : error._tag

/** Maps the loop's feedback errors onto the API's: unknown ids 404, late 409, invalid 422, else by tag. */
const feedbackError = (error: unknown) => {
  const e = error as { readonly _tag: string; readonly message?: unknown } & Record<string, unknown>
  switch (e._tag) {
    case "FeedbackUnknownExecution":
      return new ApiError.NotFound({
        message:
          typeof e.byCorrelationId === "string"
            ? `no execution has the correlation id ${JSON.stringify(e.byCorrelationId)}`
            : `no execution ${JSON.stringify(e.executionId)}`
      })
    case "FeedbackTooLate":
      return new FeedbackApi.FeedbackTooLate({
        message: `the feedback came ${e.ageMs} ms after the execution, past the ${e.windowMs} ms feedback window`,
        executionId: String(e.executionId),
        ageMs: Number(e.ageMs),
        windowMs: Number(e.windowMs)
      })
    case "FeedbackInvalid":
      return new FeedbackApi.FeedbackInvalid({
        message: `invalid feedback: ${messageOf(e)}`,
        field: String(e.field)
      })
    default:
      return ApiError.fromFailure(error)
  }
}

/** Undefined fields left out (the API's optional fields). */
const defined = <A extends object>(value: A): A => {
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v
  return out as A
}

/** The handlers of the `loop` group. */
export const layer = HttpApiBuilder.group(Api, "loop", (handlers) =>
  Effect.gen(function* () {
    const loop = yield* Loop.Loop
    return handlers
      .handle("feedback", ({ payload }) =>
        Effect.zipRight(
          requireScope("execute"),
          Effect.mapError(
            loop.feedback({
              ...(payload.executionId === undefined ? {} : { executionId: payload.executionId }),
              ...(payload.correlationId === undefined ? {} : { correlationId: payload.correlationId }),
              outcome: defined({ ...payload.outcome })
            }),
            feedbackError
          )
        )
      )
      .handle("status", () =>
        Effect.zipRight(
          requireScope("read"),
          Effect.map(loop.status, (status) => ({
            ...status,
            modules: status.modules.map((m) => ({
              moduleId: m.moduleId,
              version: m.version,
              state: m.state,
              quality: m.quality ?? null,
              baseline: m.baseline ?? null,
              threshold: m.threshold,
              rewards: m.rewards,
              jobs: m.jobs
            }))
          }))
        )
      )
      .handle("decisions", ({ urlParams }) =>
        Effect.zipRight(
          requireScope("read"),
          Effect.map(loop.decisions, (all) => {
            const mine = urlParams.moduleId === undefined ? all : all.filter((d) => d.moduleId === urlParams.moduleId)
            return mine.slice(-(urlParams.limit ?? 100)).map(defined)
          })
        )
      )
  })
)
