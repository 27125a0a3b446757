/**
 * The cluster's jobs behind the services' `OptimizationCoordinator` interface, so that what starts jobs through
 * the coordinator (the HTTP API's `/jobs`, the dashboard, the CLI against a server) starts cluster jobs when the
 * application runs in cluster mode (`effect-dspy serve --cluster`): durable, resumed on another runner when
 * theirs dies, swapped once. A job's progress is its committed units (`progress.steps`) and the runs' read-back
 * units (`progress.resumedSteps`); its updates are its statuses, polled from the job table.
 *
 * What a cluster job cannot honour is refused, not ignored: a per-job `budget` (the runners' LM caps and the
 * cluster's shared budgets apply) and a `priority` other than 0 (a shard's runner takes its jobs in order).
 *
 * Tenants (docs/tenants.md): a call made in a tenant's scope sees only that tenant's jobs (another's is
 * `OptimizationJobNotFound`), starts jobs on the tenant's own modules (`~tenant/name` in storage; a shared module
 * is optimized for a tenant once the tenant has its own copy), and is held to the tenant's concurrent-job limit.
 *
 * @example
 * ```ts
 * import { ClusterCoordinator, Runner } from "@effect-dspy/cluster"
 * import * as Layer from "effect/Layer"
 * import * as Redacted from "effect/Redacted"
 *
 * // A runner, and the coordinator over its jobs in place of the application's own.
 * const runner = Runner.layer({ url: Redacted.make("postgres://dspy@127.0.0.1:5432/dspy") })
 * const coordinator = ClusterCoordinator.layer().pipe(Layer.provideMerge(runner))
 * ```
 *
 * @since 0.1.0
 */
import { Tenant } from "@effect-dspy/foundation"
import { OptimizationCoordinator, ServicesError, Tenants } from "@effect-dspy/services"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as ClusterJobs from "./ClusterJobs.js"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How often `progress` and `await` read a live job's row (default 250 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** The job workers a runner has (Config `cluster.jobWorkers`), shown by `workers` (default 2). */
  readonly workers?: number
  /** The tenants' limits (`admitJob`); `layer` takes the application's when it has one. */
  readonly tenants?: Tenants.Service
}

/**
 * A cluster job as the coordinator's job: its base version is the version it optimizes, its score the
 * optimized score, its committed units its steps.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toCoordinatorJob = (job: ClusterJobs.Job): OptimizationCoordinator.Job => ({
  id: job.id,
  moduleId: job.moduleId,
  moduleVersion: job.baseVersion,
  optimizer: job.optimizer,
  metric: job.metric,
  priority: 0,
  status: job.status,
  servingScore: undefined,
  optimizedScore: job.score,
  servingVersion: job.status === "swapped" ? job.baseVersion : undefined,
  swappedVersion: job.swappedVersion,
  swapCurrent: undefined,
  error: job.error,
  createdAt: job.createdAt,
  startedAt: job.startedAt,
  finishedAt: job.finishedAt,
  progress: {
    steps: job.units,
    resumedSteps: job.resumedUnits,
    trials: 0,
    bestScore: job.score,
    lmCalls: 0
  }
})

const storeError = (operation: string, error: { readonly message: string }) =>
  new ServicesError.OptimizationStoreError({ operation, message: error.message })

const notFound = (id: string) =>
  new ServicesError.OptimizationJobNotFound({
    jobId: id,
    message: `No optimization job has id "${id}"; list shows those that exist.`
  })

/** The job as its tenant sees it (its module's local name). */
const localJob = (job: OptimizationCoordinator.Job): OptimizationCoordinator.Job =>
  job.moduleId.startsWith(Tenant.marker) ? { ...job, moduleId: Tenant.localName(job.moduleId) } : job

/**
 * A job read in the caller's scope (another tenant's job is not found); a store failure is a defect (the
 * coordinator's `status` has no store error).
 */
const read = (
  jobs: ClusterJobs.Service,
  id: string
): Effect.Effect<ClusterJobs.Job, ServicesError.OptimizationJobNotFound> =>
  Effect.flatMap(Tenant.scope, (scope) =>
    jobs.status(id).pipe(
      Effect.catchTag("ClusterJobNotFound", () => Effect.fail(notFound(id))),
      Effect.catchTag("ClusterStoreError", (e) => Effect.die(e)),
      Effect.filterOrFail(
        (job) => Tenant.visibleTo(scope, job.moduleId),
        () => notFound(id)
      )
    )
  )

/** Every job the caller's scope sees. */
const visible = (jobs: ClusterJobs.Service): Effect.Effect<ReadonlyArray<ClusterJobs.Job>> =>
  Effect.flatMap(Tenant.scope, (scope) =>
    Effect.map(Effect.orDie(jobs.list), (all) => all.filter((job) => Tenant.visibleTo(scope, job.moduleId)))
  )

/**
 * The coordinator over the cluster jobs in `jobs`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (jobs: ClusterJobs.Service, options: Options = {}): OptimizationCoordinator.Service => {
  const interval = Duration.decode(options.pollInterval ?? "250 millis")
  const limit = options.workers ?? 2
  const invalid = (field: string, message: string) =>
    Effect.fail(new ServicesError.OptimizationRequestInvalid({ field, message }))
  const updates = (id: string): Stream.Stream<OptimizationCoordinator.Update, ServicesError.OptimizationJobNotFound> =>
    Stream.paginateEffect(Option.none<string>(), (seen) =>
      Effect.gen(function* () {
        const job = yield* read(jobs, id)
        const key = `${job.status}/${job.units}/${job.runs}/${job.owner ?? ""}`
        const ended = ClusterJobs.isTerminal(job.status)
        if (!ended && Option.isSome(seen) && seen.value === key) yield* Effect.sleep(interval)
        const update: OptimizationCoordinator.Update = { _tag: "Status", job: localJob(toCoordinatorJob(job)) }
        const next = ended ? Option.none() : Option.some(Option.some(key))
        return [Option.isSome(seen) && seen.value === key ? [] : [update], next] as const
      })
    ).pipe(Stream.flattenIterables)
  return {
    start: (request) =>
      Effect.gen(function* () {
        if (request.budget !== undefined) {
          return yield* invalid(
            "budget",
            "Cluster jobs take no per-job budget: the runners' LM caps (cluster.lmConcurrency) and the cluster's shared budgets (cluster.budgets) apply. Leave budget out."
          )
        }
        if (request.priority !== undefined && request.priority !== 0) {
          return yield* invalid(
            "priority",
            "Cluster jobs have no priority: the runner holding a job's shard takes its jobs in order. Leave priority out (or 0)."
          )
        }
        const scope = yield* Tenant.scope
        if (Option.isSome(scope) && options.tenants !== undefined) {
          const tenant = scope.value
          const active = (yield* Effect.orDie(jobs.list)).filter(
            (job) => Tenant.ownerOf(job.moduleId) === tenant && !ClusterJobs.isTerminal(job.status)
          ).length
          yield* options.tenants.admitJob(tenant, active)
        }
        const moduleId = Option.isSome(scope) ? Tenant.qualifyFor(scope.value, request.moduleId) : request.moduleId
        const submitted = yield* jobs
          .submit({
            moduleId,
            optimizer: request.optimizer,
            trainset: request.trainset,
            ...(request.valset === undefined ? {} : { valset: request.valset }),
            ...(request.metric === undefined ? {} : { metric: request.metric }),
            ...(request.seed === undefined ? {} : { seed: request.seed })
          })
          .pipe(
            Effect.catchTags({
              ClusterJobInvalid: (e) =>
                e.field === "moduleId"
                  ? Effect.fail(
                      new ServicesError.ModuleNotFound({
                        moduleId: request.moduleId,
                        message:
                          Option.isSome(scope) && moduleId !== request.moduleId
                            ? `Tenant "${scope.value}" has no module "${request.moduleId}" of its own: cluster jobs optimize a tenant's own modules (create it, or give the shared module a version of the tenant's first).`
                            : e.message
                      })
                    )
                  : invalid(e.field, e.message),
              ClusterStoreError: (e) => Effect.fail(storeError("start", e))
            })
          )
        return { id: submitted.id, merged: false }
      }),
    status: (id) => Effect.map(read(jobs, id), (job) => localJob(toCoordinatorJob(job))),
    list: Effect.map(visible(jobs), (all) => all.map((job) => localJob(toCoordinatorJob(job)))),
    progress: updates,
    await: (id) =>
      Effect.zipRight(
        read(jobs, id),
        ClusterJobs.awaitJob(id, interval).pipe(
          Effect.provideService(ClusterJobs.ClusterJobs, jobs),
          Effect.catchTags({
            ClusterJobNotFound: () => Effect.fail(notFound(id)),
            ClusterStoreError: (e) => Effect.die(e)
          }),
          Effect.map((job) => localJob(toCoordinatorJob(job)))
        )
      ),
    cancel: (id) =>
      Effect.zipRight(read(jobs, id), jobs.cancel(id)).pipe(
        Effect.map((job) => localJob(toCoordinatorJob(job))),
        Effect.catchTags({
          ClusterJobNotFound: () => Effect.fail(notFound(id)),
          ClusterStoreError: (e) => Effect.fail(storeError("cancel", e))
        })
      ),
    workers: Effect.map(visible(jobs), (all) => ({
      limit,
      running: all.filter((job) => job.status === "running").length,
      queued: all.filter((job) => job.status === "queued").length
    }))
  }
}

/**
 * The coordinator over the cluster's jobs, as a layer: provide it over the application's to send every job the
 * coordinator starts to the cluster.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<OptimizationCoordinator.OptimizationCoordinator, never, ClusterJobs.ClusterJobs> =>
  Layer.effect(
    OptimizationCoordinator.OptimizationCoordinator,
    Effect.gen(function* () {
      const jobs = yield* ClusterJobs.ClusterJobs
      const tenants = yield* Effect.serviceOption(Tenants.Tenants)
      return make(jobs, {
        ...options,
        ...(options.tenants === undefined && Option.isSome(tenants) ? { tenants: tenants.value } : {})
      })
    })
  )
