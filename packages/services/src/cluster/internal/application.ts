/**
 * Cluster mode in the application: with `storage.backend: postgres`, a small pool of its own on the database, and
 * on it the shared rate limits and budgets (`cluster.limits`, `cluster.budgets`) and the swap propagation
 * (`cluster.sync`). Each part is an identity when its setting is off (or the backend is SQLite).
 */
import type { LM } from "@effect-dspy/core"
import type { ConfigSchema, Protection } from "@effect-dspy/foundation"
import { RuntimeError } from "@effect-dspy/runtime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as os from "node:os"
import type * as ModuleManager from "../../ModuleManager.js"
import type * as ReleaseStore from "../../releases/ReleaseStore.js"
import * as Pg from "../../internal/postgres.js"
import * as PolicyStore from "../PolicyStore.js"
import * as SharedBudget from "../SharedBudget.js"
import * as SharedCounter from "../SharedCounter.js"
import * as SharedRateLimiter from "../SharedRateLimiter.js"
import * as SwapPropagation from "../SwapPropagation.js"

/** The application's cluster parts (identities outside cluster mode). */
export interface Cluster {
  readonly protection: (service: Protection.Service) => Protection.Service
  readonly lm: (service: LM.Service) => LM.Service
  readonly releases: (store: ReleaseStore.Service) => ReleaseStore.Service
  /** The shared counters (with shared limits or budgets): the tenants' budgets count through them too. */
  readonly counter: SharedCounter.Service | undefined
  /** Starts the propagation over the application's ModuleManager; the ModuleManager to serve (sharing policies). */
  readonly serve: (
    modules: ModuleManager.Service,
    releases: ReleaseStore.Service
  ) => Effect.Effect<{ readonly modules: ModuleManager.Service; readonly propagation?: SwapPropagation.Service }>
}

const none: Cluster = {
  protection: (s) => s,
  lm: (s) => s,
  releases: (s) => s,
  counter: undefined,
  serve: (modules) => Effect.succeed({ modules })
}

const startFailed = (reason: string, cause?: unknown) =>
  new RuntimeError.ChildStartFailed({
    childId: "cluster",
    cause: cause ?? reason,
    message: `Cluster mode did not start on PostgreSQL: ${reason}`
  })

/** Opens the cluster parts for the scope's lifetime (none unless `storage.backend` is `postgres` with a URL). */
export const open = (
  config: ConfigSchema.DSPyConfig,
  scope: Scope.Scope
): Effect.Effect<Cluster, RuntimeError.ChildStartFailed> =>
  Effect.gen(function* () {
    const url = config.storage.postgres.url
    if (config.storage.backend !== "postgres" || url === undefined) return none
    const { sync, limits, budgets } = config.cluster
    const budgeted = budgets.dailyLmCalls !== undefined || budgets.dailyCostUsd !== undefined
    if (!sync.enabled && !limits.shared && !budgeted) return none
    const client = yield* Layer.buildWithScope(Pg.layerClient({ url, maxConnections: 3 }), scope).pipe(
      Effect.mapError((e) => startFailed(e.message, e))
    )
    const counter = limits.shared || budgeted ? yield* Effect.provide(SharedCounter.make, client) : undefined
    const policies = sync.enabled ? yield* Effect.provide(PolicyStore.make, client) : undefined
    const publish = yield* Effect.provide(SwapPropagation.publisher, client)
    const origin = `${os.hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`
    const revisions = new Map<string, number>()
    const leasing = { lease: limits.lease, onOutage: limits.onOutage }
    const cluster: Cluster = {
      protection: (service) =>
        counter === undefined || !limits.shared ? service : SharedRateLimiter.protection(service, counter, leasing),
      lm: (service) =>
        counter === undefined || !budgeted ? service : SharedBudget.lm(service, counter, { ...budgets, ...leasing }),
      releases: (store) => (policies === undefined ? store : SwapPropagation.notifyingReleases(store, publish, origin)),
      counter,
      serve: (modules, releases) =>
        policies === undefined
          ? Effect.succeed({ modules })
          : Effect.map(
              SwapPropagation.make({
                url,
                origin,
                modules,
                releases,
                policies,
                revisions,
                publish,
                reconcileEvery: `${sync.reconcileMs} millis`,
                reconnectAfter: `${sync.reconnectMs} millis`
              }).pipe(Effect.provideService(Scope.Scope, scope)),
              (propagation) => ({
                modules: SwapPropagation.sharingPolicies(modules, policies, publish, origin, revisions),
                propagation
              })
            )
    }
    return cluster
  }).pipe(Effect.catchTag("ClusterStoreError", (e) => Effect.fail(startFailed(e.message, e))))
