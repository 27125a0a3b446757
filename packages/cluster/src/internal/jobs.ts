/** The ClusterJobs service over the job table, the release store and the job entity's client. */
import * as EntityId from "@effect/cluster/EntityId"
import * as Sharding from "@effect/cluster/Sharding"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import { ClusterJobInvalid, ClusterJobNotFound, ClusterStoreError } from "../ClusterError.js"
import type { Job, Service, Status } from "../ClusterJobs.js"
import { OptimizationJob } from "../JobEntity.js"
import type { JobRow, JobTable } from "./jobTable.js"
import { type Owners, ownersOf, RoundRobin } from "./placement.js"

const undef = <A>(value: A | null): A | undefined => (value === null ? undefined : value)

/** A row as the public job. */
export const toJob = (row: JobRow): Job => ({
  id: row.id,
  moduleId: row.moduleId,
  optimizer: row.optimizer,
  metric: row.metric,
  status: row.status as Status,
  baseVersion: row.baseVersion,
  owner: undef(row.owner),
  runs: row.runs,
  units: row.units,
  resumedUnits: row.resumedUnits,
  swappedVersion: undef(row.swappedVersion),
  score: undef(row.score),
  error: undef(row.error),
  createdAt: row.createdAt,
  startedAt: undef(row.startedAt),
  progressedAt: undef(row.progressedAt),
  finishedAt: undef(row.finishedAt),
  receivedAt: undef(row.receivedAt),
  resends: row.resends
})

const storeError = (operation: string) => (reason: string) =>
  new ClusterStoreError({ operation, message: `The cluster's ${operation} failed: ${reason}` })

/** Builds the service (needs the cluster's `Sharding` to send jobs to their entities). */
export const make = (deps: {
  readonly table: JobTable
  readonly optimizers: ReadonlyArray<string>
  readonly metrics: ReadonlyArray<string>
}): Effect.Effect<Service, never, Sharding.Sharding> =>
  Effect.gen(function* () {
    const clientFor = yield* OptimizationJob.client
    const sharding = yield* Sharding.Sharding
    // Placement (internal/placement.ts): ids drawn to spread jobs round-robin over the runners holding shards, by
    // the shard locks read at most once a second (none known: a random id).
    const placement = new RoundRobin()
    const currentOwners: Effect.Effect<Owners> = yield* Effect.cachedWithTTL(
      Effect.map(
        Effect.either(deps.table.shardOwners),
        (rows): Owners => (rows._tag === "Right" ? ownersOf(rows.right) : new Map())
      ),
      "1 second"
    )
    const draw = () => `job_${crypto.randomUUID()}`
    const shardOf = (id: string) => {
      const entityId = EntityId.make(id)
      return sharding.getShardId(entityId, OptimizationJob.getShardGroup(entityId)).toString()
    }
    const invalid = (field: string, message: string) => Effect.fail(new ClusterJobInvalid({ field, message }))
    const service: Service = {
      submit: (request) =>
        Effect.gen(function* () {
          if (!deps.optimizers.includes(request.optimizer)) {
            return yield* invalid(
              "optimizer",
              `Unknown optimizer "${request.optimizer}"; the runners know: ${deps.optimizers.join(", ")}.`
            )
          }
          const metric = request.metric ?? "exact_match"
          if (!deps.metrics.includes(metric)) {
            return yield* invalid("metric", `Unknown metric "${metric}"; the runners know: ${deps.metrics.join(", ")}.`)
          }
          if (request.trainset.length === 0)
            return yield* invalid("trainset", "The trainset is empty: give at least one example.")
          if (request.valset !== undefined && request.valset.length === 0) {
            return yield* invalid("valset", "The valset is empty: give at least one example or leave it out.")
          }
          const seed = request.seed ?? 0
          if (!Number.isInteger(seed)) return yield* invalid("seed", `The seed must be an integer, got ${seed}.`)
          const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
          const id = placement.pick(yield* currentOwners, draw, shardOf)
          const data = {
            trainset: request.trainset.map((e) => e.toJSON()),
            ...(request.valset === undefined ? {} : { valset: request.valset.map((e) => e.toJSON()) })
          }
          // One statement: the job is stored on its module's promoted version, or not at all.
          const stored = yield* Effect.mapError(
            deps.table.insertOnPromoted({
              id,
              moduleId: request.moduleId,
              optimizer: request.optimizer,
              metric,
              seed,
              data: JSON.stringify(data),
              createdAt: now
            }),
            storeError("submit")
          )
          if (Option.isNone(stored)) {
            return yield* invalid(
              "moduleId",
              `No module "${request.moduleId}" in the release store: create it (on any runner) before optimizing it.`
            )
          }
          yield* clientFor(id)
            .Run({ jobId: id }, { discard: true })
            .pipe(Effect.mapError((e) => storeError("submit")(String(e))))
          return { id }
        }),
      status: (id) =>
        Effect.flatMap(Effect.mapError(deps.table.get(id), storeError("status")), (row) =>
          Option.match(row, {
            onNone: () => Effect.fail(new ClusterJobNotFound({ jobId: id, message: `No cluster job has id "${id}".` })),
            onSome: (row) => Effect.succeed(toJob(row))
          })
        ),
      list: Effect.map(Effect.mapError(deps.table.list, storeError("list")), (rows) => rows.map(toJob)),
      cancel: (id) =>
        Effect.clockWith((clock) => clock.currentTimeMillis).pipe(
          Effect.flatMap((at) => Effect.mapError(deps.table.cancel(id, at), storeError("cancel"))),
          Effect.flatMap((row) =>
            Option.match(row, {
              onNone: () =>
                Effect.fail(new ClusterJobNotFound({ jobId: id, message: `No cluster job has id "${id}".` })),
              onSome: (row) => Effect.succeed(toJob(row))
            })
          )
        )
    }
    return service
  })
