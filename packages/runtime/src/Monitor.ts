/**
 * Monitors: a one-shot notification of a process's exit (OTP `Process.monitor`). The `Down` carries the exit
 * reason; monitoring a process that is already dead delivers `NoProc` at once.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Process from "./Process.js"

/**
 * The reason of a `Down`: the exit reason, or `NoProc` when the process was already dead when monitored.
 *
 * @since 0.1.0
 * @category models
 */
export type DownReason = Process.ExitReason | { readonly _tag: "NoProc" }

/**
 * The one notification a monitor delivers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Down {
  readonly _tag: "Down"
  readonly pid: Process.Pid
  readonly reason: DownReason
}

/**
 * A monitor on one process.
 *
 * @since 0.1.0
 * @category models
 */
export interface Monitor {
  readonly pid: Process.Pid
  /** Waits for the `Down`; every await of the same monitor sees the same one. */
  readonly await: Effect.Effect<Down>
  /** The `Down` if it has been delivered. */
  readonly poll: Effect.Effect<Option.Option<Down>>
  /** Stops monitoring (OTP `demonitor`); a `Down` not yet delivered never will be. */
  readonly demonitor: Effect.Effect<void>
}

const noProcReason: DownReason = { _tag: "NoProc" }

/**
 * Monitors `process`. If it is already dead, the `Down` (reason `NoProc`) is there at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const monitor = (process: Process.Process): Effect.Effect<Monitor> =>
  Effect.sync(() => {
    let down: Down | undefined
    let active = true
    const waiters = new Set<(effect: Effect.Effect<Down>) => void>()
    const deliver = (reason: DownReason) => {
      if (!active || down !== undefined) return
      down = { _tag: "Down", pid: process.pid, reason }
      for (const resume of waiters) resume(Effect.succeed(down))
      waiters.clear()
    }
    let remove: () => void = () => {}
    if (process.unsafeExitReason() !== undefined) deliver(noProcReason)
    else remove = process.unsafeAddExitListener(deliver)
    return {
      pid: process.pid,
      await: Effect.async<Down>((resume) => {
        if (down !== undefined) return resume(Effect.succeed(down))
        waiters.add(resume)
        return Effect.sync(() => {
          waiters.delete(resume)
        })
      }),
      poll: Effect.sync(() => Option.fromNullable(down)),
      demonitor: Effect.sync(() => {
        active = false
        remove()
      })
    }
  })
