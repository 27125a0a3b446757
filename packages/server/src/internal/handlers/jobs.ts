/** The jobs group's handlers. */
import { Example } from "@effect-dspy/core"
import { OptimizationCoordinator } from "@effect-dspy/services"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Api } from "../../Api.js"
import * as ApiError from "../../ApiError.js"
import type * as JobsApi from "../../api/JobsApi.js"
import { requireScope } from "../../Auth.js"
import * as Sse from "../../Sse.js"
import type { Gate } from "../gate.js"
import { GateTag } from "./context.js"

/** A job as the API shows it (undefined fields left out). */
export const toJob = (job: OptimizationCoordinator.Job): typeof JobsApi.Job.Type => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(job)) if (value !== undefined) out[key] = value
  const progress: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(job.progress)) if (value !== undefined) progress[key] = value
  out.progress = progress
  return out as unknown as typeof JobsApi.Job.Type
}

const toExample = (example: typeof JobsApi.Example.Type) =>
  Example.make({ ...example.fields }).withInputs(...example.inputs)

const mapped = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.mapError(effect, ApiError.fromFailure)

/** A job's updates as SSE events, numbered from 0 (replayed from the job's start). */
export const progressEvents = (
  coordinator: OptimizationCoordinator.Service,
  id: string
): Stream.Stream<Sse.Event, unknown> =>
  Stream.zipWithIndex(coordinator.progress(id)).pipe(
    Stream.map(
      ([update, index]): Sse.Event =>
        update._tag === "Progress"
          ? { id: String(index), event: "progress", data: JSON.stringify(update.event) }
          : { id: String(index), event: "status", data: JSON.stringify(toJob(update.job)) }
    )
  )

/** The handlers of the `jobs` group. */
export const layer = HttpApiBuilder.group(Api, "jobs", (handlers) =>
  Effect.gen(function* () {
    const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
    const gate: Gate = yield* GateTag
    return handlers
      .handle("list", () =>
        Effect.zipRight(
          requireScope("read"),
          Effect.map(coordinator.list, (all) => all.map(toJob))
        )
      )
      .handle("start", ({ payload }) =>
        Effect.zipRight(
          requireScope("admin"),
          mapped(
            coordinator.start({
              moduleId: payload.moduleId,
              optimizer: payload.optimizer,
              trainset: payload.trainset.map(toExample),
              ...(payload.valset === undefined ? {} : { valset: payload.valset.map(toExample) }),
              ...(payload.metric === undefined ? {} : { metric: payload.metric }),
              ...(payload.priority === undefined ? {} : { priority: payload.priority }),
              ...(payload.seed === undefined ? {} : { seed: payload.seed }),
              ...(payload.budget === undefined
                ? {}
                : {
                    budget: {
                      ...(payload.budget.maxLmCalls === undefined ? {} : { maxLmCalls: payload.budget.maxLmCalls }),
                      ...(payload.budget.maxCostUsd === undefined ? {} : { maxCostUsd: payload.budget.maxCostUsd })
                    }
                  })
            })
          )
        )
      )
      .handle("status", ({ path }) =>
        Effect.zipRight(requireScope("read"), mapped(Effect.map(coordinator.status(path.id), toJob)))
      )
      .handle("cancel", ({ path }) =>
        Effect.zipRight(requireScope("admin"), mapped(Effect.map(coordinator.cancel(path.id), toJob)))
      )
      .handle("progress", ({ path, request }) =>
        Effect.gen(function* () {
          yield* requireScope("read")
          yield* mapped(coordinator.status(path.id))
          const events = Sse.resumeAfter(progressEvents(coordinator, path.id), Sse.lastEventId(request.headers))
          return Sse.response(gate.sseStream(events))
        })
      )
  })
)
