/**
 * The checkpoint store of one run of a job: the PostgreSQL store, with every write fenced by the run's epoch and
 * counted on the job's row, in one statement (`JobTable.writeUnit`). A run that another run superseded writes nothing: its
 * `set` fails and the run stops.
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

/** Wraps `inner` for the run `epoch` of `jobId`. */
export const make = (inner: Checkpoint.Service, table: JobTable, jobId: string, epoch: number): Fenced => {
  let resumed = 0
  let superseded = false
  const store: Checkpoint.Service = {
    get: (namespace, key) =>
      Effect.tap(inner.get(namespace, key), (found) =>
        Effect.sync(() => {
          if (Option.isSome(found)) resumed++
        })
      ),
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
        if (written) return
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
