/**
 * The checkpoint store of one run of a job: the PostgreSQL store, with every write fenced by the run's epoch and
 * counted on the job's row, in one statement (`JobTable.writeUnit`). A run that another run superseded writes nothing: its
 * `set` fails and the run stops. Reads come from one snapshot of the run's namespace, taken at its first read
 * (`JobTable.units`: one statement instead of one a unit); the snapshot is complete because the run has claimed
 * the job, so no older run can write any more.
 */
import { type Checkpoint, OptimizerError } from "@effect-dspy/optimizers"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { JobTable } from "./jobTable.js"

/** The fenced store, its count of units read back (resumed), and whether the run was fenced off. */
export interface Fenced {
  readonly store: Checkpoint.Service
  readonly resumed: () => number
  readonly superseded: () => boolean
}

/** Wraps `inner` for the run `epoch` of `jobId` (call it after the run claimed the job). */
export const make = (inner: Checkpoint.Service, table: JobTable, jobId: string, epoch: number): Effect.Effect<Fenced> =>
  Effect.map(
    Effect.cachedFunction((namespace: string) =>
      Effect.mapError(
        table.units(namespace),
        (reason) =>
          new OptimizerError.CheckpointError({
            operation: "get",
            key: namespace,
            message: `Checkpoint read failed for ${namespace} in the cluster's store: ${reason}`
          })
      )
    ),
    (snapshot) => fenced(inner, table, jobId, epoch, snapshot)
  )

const fenced = (
  inner: Checkpoint.Service,
  table: JobTable,
  jobId: string,
  epoch: number,
  snapshot: (namespace: string) => Effect.Effect<ReadonlyMap<string, string>, OptimizerError.CheckpointError>
): Fenced => {
  let resumed = 0
  let superseded = false
  // Units this run wrote (a snapshot taken before a write would not hold them).
  const ownUnits = new Map<string, string>()
  const store: Checkpoint.Service = {
    get: (namespace, key) =>
      Effect.flatMap(snapshot(namespace), (units) => {
        const json = ownUnits.get(`${namespace}\u0000${key}`) ?? units.get(key)
        if (json === undefined) return Effect.succeed(Option.none())
        return Effect.try({
          try: () => {
            const value = JSON.parse(json) as unknown
            resumed++
            return Option.some(value)
          },
          catch: (cause) =>
            new OptimizerError.CheckpointError({
              operation: "get",
              key,
              message: `Checkpoint ${key} in the cluster's store is not JSON: ${String(cause)}`
            })
        })
      }),
    set: (namespace, key, value) =>
      Effect.gen(function* () {
        const json = yield* Effect.try({
          try: () => JSON.stringify(value ?? null),
          catch: (cause) =>
            new OptimizerError.CheckpointError({
              operation: "set",
              key,
              message: `Checkpoint set failed for ${key}: the value is not JSON-serialisable: ${String(cause)}`
            })
        })
        const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const written = yield* Effect.mapError(
          table.writeUnit(jobId, epoch, { namespace, key, json, at }),
          (reason) =>
            new OptimizerError.CheckpointError({
              operation: "set",
              key,
              message: `Checkpoint set failed for ${key} in the cluster's store: ${reason}`
            })
        )
        if (written) {
          ownUnits.set(`${namespace}\u0000${key}`, json)
          return
        }
        superseded = true
        return yield* new OptimizerError.CheckpointError({
          operation: "set",
          key,
          message: `Job ${jobId} was taken over by another run (epoch ${epoch} is stale): this run stops and writes nothing.`
        })
      }),
    size: inner.size,
    clear: inner.clear
  }
  return { store, resumed: () => resumed, superseded: () => superseded }
}
