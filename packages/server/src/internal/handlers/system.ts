/** The system group's handlers: tree, providers, status, health, snapshots, metrics, events. */
import { Events, Tenant } from "@effect-dspy/foundation"
import { Application, Experiments, LMProviders, ModuleManager, OptimizationCoordinator } from "@effect-dspy/services"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as Layer from "effect/Layer"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Api } from "../../Api.js"
import * as ApiError from "../../ApiError.js"
import type * as SystemApi from "../../api/SystemApi.js"
import { type Authentication, requireOperator, requireScope } from "../../Auth.js"
import * as Sse from "../../Sse.js"
import type { Gate } from "../gate.js"
import * as prometheus from "../prometheus.js"
import { type Broadcaster, encode, response } from "../broadcast.js"
import { BroadcasterTag, GateTag } from "./context.js"
import { toJob } from "./jobs.js"
import { jsonSafe } from "./modules.js"
import type { Readable } from "node:stream"

type Check = (typeof SystemApi.Health.Type)["checks"][number]

const toProvider = (p: LMProviders.ProviderStatus): typeof SystemApi.Provider.Type => ({
  name: p.name,
  kind: p.kind,
  ...(p.backup === undefined ? {} : { backup: p.backup }),
  circuit: p.circuit,
  failedOver: p.failedOver,
  generation: p.generation,
  calls: p.calls,
  failures: p.failures,
  failovers: p.failovers,
  recoveries: p.recoveries,
  promptTokens: p.promptTokens,
  completionTokens: p.completionTokens,
  costUsd: p.costUsd
})

const parseTypes = (types: string | undefined): ReadonlyArray<string> | undefined =>
  types === undefined || types === ""
    ? undefined
    : types
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== "")

const connected = new TextEncoder().encode(": connected\n\n")

/**
 * The event tail, encoded, as a client's body: the live events (the client is attached to the broadcaster before
 * anything is read back, so none falls between), after the events since `lastId` when a client reconnects.
 */
export const tail = (
  broadcaster: Broadcaster,
  events: Events.Service,
  types: ReadonlyArray<string> | undefined,
  lastId: string | undefined,
  scope: Option.Option<Tenant.TenantId> = Option.none()
): Effect.Effect<Readable, unknown> =>
  Effect.flatMap(
    broadcaster.attach(types, Option.isNone(scope) ? undefined : (e) => Tenant.eventVisibleTo(scope, e.data)),
    (client) =>
      Effect.gen(function* () {
        let replay: ReadonlyArray<Events.Event> = []
        if (lastId !== undefined) {
          const colon = lastId.indexOf(":")
          const from = Number(lastId.slice(0, colon))
          const id = lastId.slice(colon + 1)
          if (colon > 0 && Number.isFinite(from)) {
            const since = yield* events.query({
              from,
              order: "asc",
              limit: 10_000,
              ...(types === undefined ? {} : { types })
            })
            const at = since.findIndex((e) => e.id === id)
            const visible = Option.isNone(scope) ? since : since.filter((e) => Tenant.eventVisibleTo(scope, e.data))
            replay = at === -1 ? visible : visible.slice(visible.findIndex((e) => e.id === id) + 1)
          }
        }
        const ready = Sse.encode({ event: "ready", data: JSON.stringify({ replayed: replay.length }) })
        broadcaster.start(client, [connected, new TextEncoder().encode(ready), ...replay.map(encode)], replay)
        return client.out as Readable
      }).pipe(
        // A replay that cannot be read, or a request gone meanwhile: the client is detached at once (its body
        // destroyed). A body its response never takes is dropped by the broadcaster's backlog bound.
        Effect.onError(() => Effect.sync(() => client.out.destroy()))
      )
  )

/** The handlers of the `system` group. */
export const layer: Layer.Layer<
  HttpApiGroup.ApiGroup<"effect-dspy", "system">,
  never,
  | Application.Application
  | LMProviders.LMProviders
  | ModuleManager.ModuleManager
  | OptimizationCoordinator.OptimizationCoordinator
  | Experiments.Experiments
  | Events.Events
  | GateTag
  | BroadcasterTag
  | Authentication
> = HttpApiBuilder.group(Api, "system", (handlers) =>
  Effect.gen(function* () {
    const app = yield* Application.Application
    const providers = yield* LMProviders.LMProviders
    const modules = yield* ModuleManager.ModuleManager
    const coordinator = yield* OptimizationCoordinator.OptimizationCoordinator
    const experiments = yield* Experiments.Experiments
    const events = yield* Events.Events
    const gate: Gate = yield* GateTag
    const broadcaster = yield* BroadcasterTag

    const status = Effect.gen(function* () {
      const inFlight = yield* app.inFlight
      const workers = yield* coordinator.workers
      return { inFlight: { ...inFlight, http: gate.inFlight }, workers, sseSubscribers: gate.sse }
    })
    const snapshot = Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      const tree = yield* app.describe
      const provs = yield* providers.status
      const mods = yield* modules.list
      const withPolicies = yield* Effect.forEach(mods, (m) =>
        Effect.map(
          Effect.orElseSucceed(modules.policy(m.id), () => undefined),
          (policy) => jsonSafe({ ...m, policy: policy ?? null })
        )
      )
      const jobs = yield* coordinator.list
      const exps = yield* experiments.list()
      return {
        at,
        tree,
        providers: provs.map(toProvider),
        modules: withPolicies,
        jobs: jobs.map((j) => jsonSafe(toJob(j))),
        experiments: exps.map(jsonSafe),
        status: yield* status
      }
    })
    const health = Effect.gen(function* () {
      const tree = yield* app.describe
      const provs = yield* providers.status
      const open = provs.filter((p) => p.circuit === "open")
      const checks: Array<Check> = [
        {
          name: "server",
          status: gate.stopping ? "unavailable" : "ok",
          detail: gate.stopping ? "draining for shutdown" : "accepting requests"
        },
        {
          name: "supervision_tree",
          status: tree.status === "running" ? "ok" : "unavailable",
          detail: `root ${tree.status}, ${tree.children.length} children`
        },
        {
          name: "lm_providers",
          status:
            provs.length > 0 && open.length === provs.length ? "unavailable" : open.length > 0 ? "degraded" : "ok",
          detail:
            open.length === 0
              ? `${provs.length} provider(s), every circuit closed or half-open`
              : `circuit open: ${open.map((p) => p.name).join(", ")}`
        }
      ]
      const overall = checks.some((c) => c.status === "unavailable")
        ? "unavailable"
        : checks.some((c) => c.status === "degraded")
          ? "degraded"
          : "ok"
      return { status: overall, checks } as const
    })

    return handlers
      .handle("tree", () => Effect.zipRight(requireOperator("read"), app.describe))
      .handle("providers", () =>
        Effect.zipRight(
          requireOperator("read"),
          Effect.map(providers.status, (all) => all.map(toProvider))
        )
      )
      .handle("status", () => Effect.zipRight(requireOperator("read"), status))
      .handle("health", () => Effect.zipRight(requireOperator("read"), health))
      .handle("snapshot", () => Effect.zipRight(requireOperator("read"), snapshot))
      .handle("snapshots", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* requireOperator("read")
          const every = Duration.millis(urlParams.intervalMs ?? 1000)
          const stream = Stream.repeatEffectWithSchedule(snapshot, Schedule.spaced(every)).pipe(
            Stream.zipWithIndex,
            Stream.map(([snap, i]): Sse.Event => ({ id: String(i), event: "snapshot", data: JSON.stringify(snap) }))
          )
          return Sse.response(gate.sseStream(stream))
        })
      )
      .handle("metrics", () => Effect.zipRight(requireOperator("read"), prometheus.render))
      .handle("events", ({ urlParams }) =>
        Effect.zipRight(
          requireScope("read"),
          Effect.zipWith(
            Tenant.scope,
            Effect.mapError(
              events.query({
                ...(parseTypes(urlParams.types) === undefined
                  ? {}
                  : { types: parseTypes(urlParams.types) as Array<string> }),
                ...(urlParams.correlationId === undefined ? {} : { correlationId: urlParams.correlationId }),
                ...(urlParams.from === undefined ? {} : { from: urlParams.from }),
                ...(urlParams.to === undefined ? {} : { to: urlParams.to }),
                limit: urlParams.limit ?? 100,
                ...(urlParams.offset === undefined ? {} : { offset: urlParams.offset }),
                ...(urlParams.order === undefined ? {} : { order: urlParams.order })
              }),
              ApiError.fromFailure
            ),
            (scope, all) => (Option.isNone(scope) ? all : all.filter((e) => Tenant.eventVisibleTo(scope, e.data)))
          )
        )
      )
      .handle("tail", ({ urlParams, request }) =>
        Effect.gen(function* () {
          yield* requireScope("read")
          const scope = yield* Tenant.scope
          const body = yield* tail(
            broadcaster,
            events,
            parseTypes(urlParams.types),
            Sse.lastEventId(request.headers),
            scope
          ).pipe(Effect.orDie)
          return response(gate.sseBody(body))
        })
      )
  })
)
