/**
 * The job watchdog, a cluster singleton (one runner runs it at a time; it moves with its shard): sends a job's
 * `Run` message again when the job waits unclaimed for `queuedMs`, or runs without committing a unit for
 * `stallMs`. A persisted message is normally redelivered by the shard's next owner; this covers a message read by
 * a runner that lost the shard while the shards were moving (it is marked read, so the next owner skips it for
 * ten minutes). A resent message is harmless: a finished job's run answers at once, and a run that takes over a
 * live one fences it off.
 */
import type * as Sharding from "@effect/cluster/Sharding"
import * as Singleton from "@effect/cluster/Singleton"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { OptimizationJob } from "../JobEntity.js"
import type { JobTable } from "./jobTable.js"

/** The watchdog's timing. */
export interface Timing {
  readonly intervalMs: number
  readonly queuedMs: number
  readonly stallMs: number
}

/** The watchdog singleton over the job table `table` opens. */
export const layer = <R>(
  table: Effect.Effect<JobTable, unknown, R>,
  timing: Timing
): Layer.Layer<never, never, Sharding.Sharding | R> =>
  Singleton.make(
    "effect-dspy/cluster/job-watchdog",
    Effect.gen(function* () {
      const jobs = yield* Effect.orDie(table)
      const clientFor = yield* OptimizationJob.client
      const resent = new Map<string, number>()
      const sweep = Effect.gen(function* () {
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const live = yield* jobs.live
        for (const row of live) {
          // Unclaimed and never received by a runner: its message went missing.
          const unseen = row.status === "queued" && row.owner === null
          const since = unseen ? row.createdAt : (row.progressedAt ?? row.createdAt)
          const limit = unseen ? timing.queuedMs : timing.stallMs
          const last = Math.max(since, resent.get(row.id) ?? 0)
          if (now - last < limit) continue
          resent.set(row.id, now)
          yield* Effect.logWarning(
            `cluster job ${row.id} is ${unseen ? "unreceived" : row.status} with no progress for ${now - since} ms: sent again`
          )
          yield* Effect.ignore(clientFor(row.id).Run({ jobId: row.id }, { discard: true }))
          yield* Effect.ignore(jobs.resent(row.id))
        }
        for (const id of resent.keys()) if (!live.some((row) => row.id === id)) resent.delete(id)
      })
      while (true) {
        yield* Effect.catchAllCause(sweep, (cause) => Effect.logWarning("cluster job watchdog sweep failed", cause))
        yield* Effect.sleep(timing.intervalMs)
      }
    })
  )
