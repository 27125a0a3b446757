/**
 * The checkpoint store of one run of a job: the PostgreSQL store, with every write fenced by the run's epoch and
 * counted on the job's row, in one statement (`JobTable.writeUnits`). A run that another run superseded writes nothing: its
 * `set` fails and the run stops. Reads come from one snapshot of the run's namespace, taken at its first read
 * (`JobTable.units`: one statement instead of one a unit; none on a job's first run, which no earlier run can
 * have written for); the snapshot is complete because the run has claimed the job, so no older run can write any
 * more. Writes are group-committed: a statement waits a millisecond for the units finishing with the first (a job's
 * concurrent units, whose LM calls end together), and the units that finish while a write is on its way go
 * together in the next statement (`JobTable.writeUnits`); each `set` still returns only once its own unit is
 * committed, so a unit is as durable as with one statement a unit, for fewer round trips.
 */
import { type Checkpoint, OptimizerError } from "@effect-dspy/optimizers"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as GroupCommit from "./groupCommit.js"
import type { JobTable } from "./jobTable.js"

/** The fenced store, its count of units read back (resumed), and whether the run was fenced off. */
export interface Fenced {
  readonly store: Checkpoint.Service
  readonly resumed: () => number
  readonly superseded: () => boolean
}

/**
 * Wraps `inner` for the run `epoch` of `jobId` (call it after the run claimed the job). With `empty` (the job's first
 * run: no earlier run can have written a unit), nothing is read back.
 */
export const make = (
  inner: Checkpoint.Service,
  table: JobTable,
  jobId: string,
  epoch: number,
  options: { readonly empty?: boolean } = {}
): Effect.Effect<Fenced> =>
  Effect.map(
    Effect.cachedFunction((namespace: string) =>
      options.empty === true
        ? Effect.succeed<ReadonlyMap<string, string>>(new Map())
        : Effect.mapError(
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

/** A unit to write. */
interface Unit {
  readonly namespace: string
  readonly key: string
  readonly json: string
}

/** The rows of a batch: one a unit (the last write of a key wins, as with one statement each). */
const rowsOf = (batch: ReadonlyArray<Unit>): ReadonlyArray<Unit> => {
  const last = new Map<string, Unit>()
  for (const unit of batch) last.set(`${unit.namespace}\u0000${unit.key}`, unit)
  return last.size === batch.length ? batch : [...last.values()]
}

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
  // The group commit: a job's concurrent units end together (their LM calls do), so they wait a millisecond for
  // each other and go in one statement.
  const write = GroupCommit.make(
    (batch: ReadonlyArray<Unit>) =>
      Effect.flatMap(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (at) => table.writeUnits(jobId, epoch, rowsOf(batch), at)
      ),
    1
  )
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
        const written = yield* Effect.mapError(
          write({ namespace, key, json }),
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
          message: `Job ${jobId} was taken over by another run or cancelled (epoch ${epoch} is stale): this run stops and writes nothing.`
        })
      }),
    size: inner.size,
    clear: inner.clear
  }
  return { store, resumed: () => resumed, superseded: () => superseded }
}
