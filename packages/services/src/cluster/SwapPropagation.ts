/**
 * Swap propagation across processes sharing one PostgreSQL database (cluster mode): serving stays stateless per
 * process. Each process serves the promoted versions stored in the release store and learns of a swap, rollback
 * or traffic policy change made by another process within a bounded time, without restarting:
 *
 * - the writer's release store and ModuleManager publish a notice (`ClusterChannel`) after each change commits
 *   ({@link notifyingReleases}, {@link sharingPolicies});
 * - every process listens ({@link make}): a notice makes its ModuleManager serve what the database holds
 *   (`ModuleManager.reload`: only a newer stored version is applied, so a stale or repeated notice changes nothing;
 *   a policy row only when its revision is above the one applied);
 * - notices are lost while a listener is disconnected, so the listener reconciles every module with the database
 *   after each (re)connection and every `reconcileMs` (the safety net: the bound without notices).
 *
 * `Application.layer` wires all of it with `storage.backend: postgres` and `cluster.sync.enabled` (the default).
 *
 * @example
 * ```ts
 * import { Application, ModuleManager } from "@effect-dspy/services"
 * import * as Effect from "effect/Effect"
 *
 * // Run in two processes with EFFECT_DSPY__STORAGE__BACKEND=postgres and the same storage.postgres.url: a swap
 * // made in one is served by the other within milliseconds (at most `cluster.sync.reconcileMs` without notices).
 * const program = Effect.gen(function* () {
 *   const modules = yield* ModuleManager.ModuleManager
 *   yield* modules.create({ id: "qa", kind: "predict", signature: "question -> answer" })
 *   yield* modules.swap("qa", { instructions: { self: "Answer with a number." } })
 * }).pipe(Effect.provide(Application.layerDefault()))
 * ```
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as ModuleManager from "../ModuleManager.js"
import type * as ReleaseStore from "../releases/ReleaseStore.js"
import { type ClusterStoreError, ReleaseStoreError } from "../ServicesError.js"
import * as ClusterChannel from "./ClusterChannel.js"
import { storeError } from "./internal/schema.js"
import type * as PolicyStore from "./PolicyStore.js"

/**
 * Changes made here because another process made them, tagged `kind` (`release`, `policy`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const applied = Metric.counter("dspy.services.cluster.applied", {
  description: "Swaps, rollbacks and policy changes of other processes applied here",
  incremental: true
})

/**
 * What the propagation reports: whether it listens now, how many reconciliations ran and changes it applied, and
 * the last failure (the database unreachable, a module that could not be reloaded).
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly origin: string
  readonly listening: boolean
  readonly reconciliations: number
  readonly applied: number
  readonly lastError: string | undefined
}

/**
 * The swap propagation of one process.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Compares every module served here with the database and applies what is newer; how many changes it applied. */
  readonly reconcile: Effect.Effect<number, ClusterStoreError>
  /** The propagation's state now. */
  readonly status: Effect.Effect<Status>
}

/**
 * The swap propagation tag (in the application's context in cluster mode).
 *
 * @since 0.1.0
 * @category tags
 */
export class SwapPropagation extends Context.Tag("@effect-dspy/services/SwapPropagation")<SwapPropagation, Service>() {}

/**
 * Publishes notices: a failure is logged, never the writer's (its change is committed; the reconciliation of the
 * other processes picks it up).
 *
 * @since 0.1.0
 * @category models
 */
export type Publish = (notice: ClusterChannel.Notice) => Effect.Effect<void>

/**
 * The publisher on the `SqlClient` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const publisher: Effect.Effect<Publish, never, SqlClient.SqlClient> = Effect.map(
  Effect.context<SqlClient.SqlClient>(),
  (context) => (notice) =>
    ClusterChannel.publish(notice).pipe(
      Effect.provide(context),
      Effect.catchAll((e) =>
        Effect.logWarning(`cluster: the notice of module "${notice.moduleId}" was not sent (${e.reason})`)
      )
    )
)

/**
 * The release store with a `release` notice published after every change of a module's promoted version.
 *
 * @since 0.1.0
 * @category constructors
 */
export const notifyingReleases = (
  store: ReleaseStore.Service,
  publish: Publish,
  origin: string
): ReleaseStore.Service => {
  const notice = (moduleId: string, revision: number) => publish({ kind: "release", moduleId, revision, origin })
  return {
    ...store,
    create: (module, first) => Effect.tap(store.create(module, first), () => notice(module.moduleId, module.promoted)),
    append: (version, options) =>
      options.promote
        ? Effect.tap(store.append(version, options), () => notice(version.moduleId, version.version))
        : store.append(version, options),
    promote: (moduleId, version, at) =>
      Effect.tap(store.promote(moduleId, version, at), () => notice(moduleId, version)),
    promoteIf: (moduleId, expected, version, at) =>
      Effect.tap(store.promoteIf(moduleId, expected, version, at), () => notice(moduleId, version)),
    appendIf: (version, expected) =>
      Effect.tap(store.appendIf(version, expected), () => notice(version.moduleId, version.version))
  }
}

/**
 * The ModuleManager with its traffic policy changes (`setPolicy`, `clearPolicy`) stored in the cluster's policy
 * store and published. A policy that cannot be stored is in force here only, and the call fails with
 * `ReleaseStoreError` (operation `share policy`): set it again once the database answers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sharingPolicies = (
  modules: ModuleManager.Service,
  policies: PolicyStore.Service,
  publish: Publish,
  origin: string,
  revisions: Map<string, number>
): ModuleManager.Service => {
  const share = (moduleId: string, policy: unknown | undefined, seed: number) =>
    policies.put({ moduleId, policy, seed, origin }).pipe(
      Effect.mapError(
        (e) =>
          new ReleaseStoreError({
            operation: "share policy",
            target: "postgres",
            reason: e.reason,
            message: `The traffic policy of module "${moduleId}" is in force in this process, but the other processes were not told (${e.reason}); set it again once the database answers.`
          })
      ),
      Effect.tap((revision) => {
        revisions.set(moduleId, Math.max(revisions.get(moduleId) ?? 0, revision))
        return publish({ kind: "policy", moduleId, revision, origin })
      })
    )
  return {
    ...modules,
    setPolicy: (id, policy, options) =>
      options?.follow === true
        ? modules.setPolicy(id, policy, options)
        : Effect.tap(modules.setPolicy(id, policy, options), (status) => share(id, status.policy, options?.seed ?? 0)),
    clearPolicy: (id) => Effect.tap(modules.clearPolicy(id), () => share(id, undefined, 0))
  }
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database (the listener opens a connection of its own). */
  readonly url: Redacted.Redacted<string>
  /** This process's name in notices (its own notices are skipped). */
  readonly origin: string
  /** The ModuleManager to apply changes to (not the policy-sharing one: applying must not publish again). */
  readonly modules: ModuleManager.Service
  readonly releases: ReleaseStore.Service
  readonly policies: PolicyStore.Service
  /** The policy revisions applied or made here, by module (shared with {@link sharingPolicies}). */
  readonly revisions: Map<string, number>
  /** How often every module is reconciled (default 5 s). */
  readonly reconcileEvery?: Duration.DurationInput
  /**
   * Where this process publishes (default: nowhere): a policy it set that its ModuleManager lifted on its own (a
   * canary's rollback, an experiment's decision) is cleared for the cluster at the next reconciliation.
   */
  readonly publish?: Publish
  /** The first wait before reconnecting (default 500 ms; doubled per failure, at most 30 s). */
  readonly reconnectAfter?: Duration.DurationInput
}

/**
 * Starts the propagation for the scope: the listener (reconnecting, reconciling after each connection) and the
 * periodic reconciliation, both stopped when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { modules, releases, policies, revisions, origin } = options
    const lock = yield* Effect.makeSemaphore(1)
    let status: Status = { origin, listening: false, reconciliations: 0, applied: 0, lastError: undefined }
    const failed = (what: string) => (error: { readonly message: string }) =>
      Effect.zipRight(
        Effect.sync(() => {
          status = { ...status, lastError: `${what}: ${error.message}` }
        }),
        Effect.logWarning(`cluster: ${what}: ${error.message}`)
      )
    const count = (kind: "release" | "policy") =>
      Effect.zipRight(
        Effect.sync(() => {
          status = { ...status, applied: status.applied + 1 }
        }),
        Metric.increment(Metric.tagged(applied, "kind", kind))
      )

    /** Serves the stored promoted version when newer than `atLeast` (a module not served here is skipped). */
    const applyRelease = (moduleId: string, atLeast: number): Effect.Effect<boolean> =>
      Effect.gen(function* () {
        const info = yield* Effect.either(modules.describe(moduleId))
        if (info._tag === "Left" || info.right.version >= atLeast) return false
        const outcome = yield* modules.reload(moduleId)
        if (outcome.applied) yield* count("release")
        return outcome.applied
      }).pipe(Effect.catchAll((e) => Effect.as(failed(`reloading module "${moduleId}"`)(e), false)))

    /** Applies a policy row newer than the one applied here (after the versions it may name). */
    const applyPolicy = (record: PolicyStore.PolicyRecord): Effect.Effect<boolean> =>
      Effect.gen(function* () {
        const id = record.moduleId
        if ((revisions.get(id) ?? 0) >= record.revision) return false
        if (record.origin === origin) {
          revisions.set(id, record.revision)
          return false
        }
        const info = yield* Effect.either(modules.describe(id))
        if (info._tag === "Left") return false
        yield* applyRelease(id, Number.POSITIVE_INFINITY)
        const result = yield* Effect.either(
          record.policy === undefined
            ? modules.clearPolicy(id)
            : Effect.asVoid(modules.setPolicy(id, record.policy, { seed: record.seed, follow: true }))
        )
        // A policy that does not fit here is reported once, not retried at every reconciliation.
        revisions.set(id, record.revision)
        if (result._tag === "Left") {
          yield* failed(`applying the traffic policy of module "${id}" (revision ${record.revision})`)(result.left)
          return false
        }
        yield* count("policy")
        return true
      })

    /** A policy this process shared and its ModuleManager has since lifted: cleared for the cluster. */
    const liftedHere = (record: PolicyStore.PolicyRecord, publish: Publish): Effect.Effect<void, ClusterStoreError> =>
      Effect.gen(function* () {
        const local = yield* Effect.either(modules.policy(record.moduleId))
        if (local._tag === "Left" || local.right !== undefined) return
        const revision = yield* policies.put({ moduleId: record.moduleId, policy: undefined, seed: 0, origin })
        revisions.set(record.moduleId, revision)
        yield* publish({ kind: "policy", moduleId: record.moduleId, revision, origin })
      })

    const onNotice = (notice: ClusterChannel.Notice): Effect.Effect<void> =>
      lock.withPermits(1)(
        notice.origin === origin
          ? Effect.void
          : notice.kind === "release"
            ? Effect.asVoid(applyRelease(notice.moduleId, notice.revision))
            : policies.get(notice.moduleId).pipe(
                Effect.flatMap((record) => (record === undefined ? Effect.void : Effect.asVoid(applyPolicy(record)))),
                Effect.catchAll(failed(`reading the traffic policy of module "${notice.moduleId}"`))
              )
      )

    const reconcile: Effect.Effect<number, ClusterStoreError> = lock.withPermits(1)(
      Effect.gen(function* () {
        const stored = yield* Effect.mapError(releases.modules, (e) => storeError("reconcile")(e.message))
        const served = new Map((yield* modules.list).map((info) => [info.id, info.version]))
        let changes = 0
        for (const record of stored) {
          const version = served.get(record.moduleId)
          if (
            version !== undefined &&
            record.promoted > version &&
            (yield* applyRelease(record.moduleId, record.promoted))
          )
            changes++
        }
        for (const record of yield* policies.all) {
          if (yield* applyPolicy(record)) changes++
          else if (record.origin === origin && record.policy !== undefined && options.publish !== undefined)
            yield* liftedHere(record, options.publish)
        }
        status = { ...status, reconciliations: status.reconciliations + 1 }
        return changes
      })
    )
    const reconcileLogged = Effect.catchAll(Effect.asVoid(reconcile), failed("reconciling with the database"))

    const reconnectMs = Duration.toMillis(options.reconnectAfter ?? "500 millis")
    // Listens until the scope closes: after a drop, waits (doubling, at most 30 s; reset once connected) and
    // listens again; every connection starts with a reconciliation (notices sent meanwhile were lost).
    const listen = Effect.gen(function* () {
      let delay = reconnectMs
      while (true) {
        let connected = false
        const result = yield* Effect.either(
          Stream.runForEach(ClusterChannel.listen(options.url), (event) => {
            if (event._tag === "Notice") return onNotice(event.notice)
            connected = true
            status = { ...status, listening: true }
            return reconcileLogged
          })
        )
        status = { ...status, listening: false }
        if (result._tag === "Left") yield* failed("listening for changes")(result.left)
        if (connected) delay = reconnectMs
        yield* Effect.sleep(delay)
        delay = Math.min(delay * 2, 30_000)
      }
    })
    yield* Effect.forkScoped(listen)
    const every = options.reconcileEvery ?? "5 seconds"
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(every), reconcileLogged)))
    return { reconcile, status: Effect.sync(() => status) }
  })
