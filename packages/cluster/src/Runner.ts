/**
 * A cluster runner: one process of a cluster sharing the optimization jobs on one PostgreSQL database. It joins
 * the cluster (`@effect/cluster`: shards, persisted messages, health checks; see `ClusterConfig`), runs the jobs
 * whose shards it holds (at most `jobWorkers` at once, its LM calls capped at `lmConcurrency`), and provides
 * {@link ClusterJobs} to submit jobs from any runner. `effect-dspy serve --cluster` runs one beside the HTTP
 * application; a program can run one with {@link layer}.
 *
 * @example
 * ```ts
 * import { ClusterJobs, Runner } from "@effect-dspy/cluster"
 * import { Config } from "@effect-dspy/foundation"
 * import { SimLM } from "@effect-dspy/sim"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import * as Redacted from "effect/Redacted"
 *
 * const runner = Runner.layer({
 *   url: Redacted.make("postgres://dspy@127.0.0.1:5432/dspy"),
 *   settings: { runnerPort: 34431 }
 * }).pipe(Layer.provide(Layer.mergeAll(SimLM.layer(), Config.layer())))
 * const program = Effect.flatMap(ClusterJobs.ClusterJobs, (jobs) => jobs.list).pipe(Effect.provide(runner))
 * ```
 *
 * @since 0.1.0
 */
import { LM } from "@effect-dspy/core"
import { Config, type ConfigSchema } from "@effect-dspy/foundation"
import type { Optimizer } from "@effect-dspy/optimizers"
import {
  CheckpointPostgres,
  OptimizationCoordinator,
  ReleaseStore,
  Storage,
  SwapPropagation
} from "@effect-dspy/services"
import type * as Sharding from "@effect/cluster/Sharding"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as ClusterConfig from "./ClusterConfig.js"
import { type ClusterConfigInvalid, ClusterStoreError } from "./ClusterError.js"
import { ClusterJobs } from "./ClusterJobs.js"
import { OptimizationJob } from "./JobEntity.js"
import { EvaluationShard } from "./ScoringEntity.js"
import * as Scoring from "./internal/scoring.js"
import * as jobs from "./internal/jobs.js"
import * as JobTable from "./internal/jobTable.js"
import * as ShardingLayer from "./internal/sharding.js"
import * as Watchdog from "./internal/watchdog.js"
import * as Worker from "./internal/worker.js"
import * as WorkerPool from "./internal/workerPool.js"

/**
 * A runner's options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The cluster's database (`postgres://...`; a secret). */
  readonly url: Redacted.Redacted<string>
  /** This runner's pool size (default 10). */
  readonly maxConnections?: number
  /** The cluster settings (default: `ClusterConfig.defaults`). */
  readonly settings?: Partial<ClusterConfig.Settings>
  /** Optimizers by name: the same on every runner (default `OptimizationCoordinator.defaultOptimizers()`). */
  readonly optimizers?: { readonly [name: string]: OptimizationCoordinator.OptimizerEntry }
  /** Metrics by name: the same on every runner (default `OptimizationCoordinator.defaultMetrics()`). */
  readonly metrics?: { readonly [name: string]: Optimizer.Metric }
}

/** An LM whose completions wait for one of `permits` slots. */
const limited = (lm: LM.Service, permits: number): Effect.Effect<LM.Service> =>
  Effect.map(Effect.makeSemaphore(permits), (slots) => ({
    ...lm,
    complete: (request, options) => slots.withPermits(1)(lm.complete(request, options)),
    embed: (inputs, model) => slots.withPermits(1)(lm.embed(inputs, model))
  }))

const resolve = (
  entries: { readonly [name: string]: OptimizationCoordinator.OptimizerEntry },
  config: ConfigSchema.DSPyConfig
): { readonly [name: string]: Optimizer.Optimizer } =>
  Object.fromEntries(
    Object.entries(entries).map(([name, entry]) => [name, typeof entry === "function" ? entry(config) : entry])
  )

/** The runner's PostgreSQL client. */
const clientOf = (options: Options) =>
  Layer.mapError(
    Storage.layerPostgresClient({
      url: options.url,
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections })
    }),
    (e) =>
      new ClusterStoreError({ operation: "connect", message: `Could not reach the cluster's database: ${e.message}` })
  )

/**
 * The stores a runner works on: the job table, the releases and the checkpoints. A job's swap publishes a
 * `release` notice (`SwapPropagation`) once it commits, so every serving process applies it at once instead of
 * at its next reconcile.
 */
const openStores = (origin: string) =>
  Effect.gen(function* () {
    const table = yield* Effect.mapError(
      JobTable.open,
      (reason) =>
        new ClusterStoreError({
          operation: "open",
          message: `Could not open the cluster's job table: ${reason}. Check that the server is up and the user may create tables.`
        })
    )
    const releases = SwapPropagation.notifyingReleases(
      yield* Effect.mapError(
        ReleaseStore.makePostgres,
        (e) => new ClusterStoreError({ operation: "open", message: e.message })
      ),
      yield* SwapPropagation.publisher,
      origin
    )
    const checkpoints = yield* Effect.mapError(
      CheckpointPostgres.make,
      (e) => new ClusterStoreError({ operation: "open", message: e.message })
    )
    return { table, releases, checkpoints }
  })

/**
 * A runner as a layer: it joins the cluster when built and leaves it (its shards handed over) when released.
 * Needs the LM its jobs call and the Config that sets the default optimizers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<ClusterJobs | Sharding.Sharding, ClusterConfigInvalid | ClusterStoreError, LM.LM | Config.Config> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const settings = yield* Either.match(ClusterConfig.make(options.settings), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      const optimizerEntries = options.optimizers ?? OptimizationCoordinator.defaultOptimizers()
      const metrics = options.metrics ?? OptimizationCoordinator.defaultMetrics()
      // The runner's LM, capped at lmConcurrency: its jobs and the evaluation shards it scores share the cap.
      const lm = yield* limited(yield* LM.LM, settings.lmConcurrency)
      const scoring = EvaluationShard.toLayer(
        Effect.succeed(
          EvaluationShard.of({
            Score: (request) => Scoring.score({ lm, metrics, concurrency: settings.jobConcurrency }, request.payload)
          })
        )
      )
      const origin = `runner ${settings.runnerHost}:${settings.runnerPort}`
      const stores = openStores(origin)
      // What the jobs share, made once per runner: the stores, the LM with its cap and the job workers. (An
      // entity's build effect runs for every entity, that is every job: made there, the caps would be per job, and
      // every job would open the stores again, a migration check each.)
      const entity = Layer.unwrapEffect(
        Effect.gen(function* () {
          const { checkpoints, releases, table } = yield* stores
          const config = yield* Config.Config
          const shards = yield* EvaluationShard.client
          const env: Worker.WorkerEnv = {
            runner: `${settings.runnerHost}:${settings.runnerPort}`,
            origin,
            table,
            receive: Worker.receipts(table, `${settings.runnerHost}:${settings.runnerPort}`),
            releases,
            checkpoints,
            lm,
            optimizers: resolve(optimizerEntries, yield* config.current),
            metrics,
            jobConcurrency: settings.jobConcurrency,
            workers: yield* WorkerPool.make(settings.jobWorkers),
            scoreShardSize: settings.scoreShardSize,
            scoreTimeoutMs: Math.max(5_000, Math.floor(settings.jobStallMs / 2)),
            sendShard: (entityId, payload) => shards(entityId).Score(payload)
          }
          return OptimizationJob.toLayer(
            Effect.succeed(OptimizationJob.of({ Run: (request) => Worker.run(env, request.payload.jobId) }))
          )
        })
      )
      const service = Layer.effect(
        ClusterJobs,
        Effect.flatMap(stores, ({ table }) =>
          jobs.make({ table, optimizers: Object.keys(optimizerEntries), metrics: Object.keys(metrics) })
        )
      )
      const sharding = ShardingLayer.layer(settings).pipe(
        Layer.mapError(
          (e) =>
            new ClusterStoreError({
              operation: "listen",
              message: `The runner could not listen on ${settings.listenHost ?? settings.runnerHost}:${settings.runnerPort}: ${e.message}`
            })
        )
      )
      const watchdog = Watchdog.layer(
        Effect.map(stores, (stores) => stores.table),
        {
          intervalMs: settings.shardLockRefreshMs,
          queuedMs: 3 * settings.shardLockExpirationMs,
          stallMs: settings.jobStallMs
        }
      )
      return Layer.mergeAll(entity, scoring, service, watchdog).pipe(
        Layer.provideMerge(sharding),
        Layer.provide(clientOf(options))
      )
    })
  )

/**
 * A client of the cluster: {@link ClusterJobs} (submit, status, list) without running jobs, for a process that
 * submits work to the runners (a test, a batch script). Same options as {@link layer}; its registries are only
 * used to check requests, and must match the runners'.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options: Options): Layer.Layer<ClusterJobs, ClusterConfigInvalid | ClusterStoreError> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const settings = yield* Either.match(ClusterConfig.make(options.settings), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      const optimizerEntries = options.optimizers ?? OptimizationCoordinator.defaultOptimizers()
      const metrics = options.metrics ?? OptimizationCoordinator.defaultMetrics()
      const service = Layer.effect(
        ClusterJobs,
        Effect.flatMap(openStores("cluster client"), ({ table }) =>
          jobs.make({ table, optimizers: Object.keys(optimizerEntries), metrics: Object.keys(metrics) })
        )
      )
      return service.pipe(Layer.provide(ShardingLayer.layerClient(settings)), Layer.provide(clientOf(options)))
    })
  )
