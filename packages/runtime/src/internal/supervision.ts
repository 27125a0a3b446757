/**
 * What static and dynamic supervisors share: child specs normalised, the restart-intensity window read
 * through `Clock`, stopping a child by its shutdown spec, the child snapshot protocol used by `describe`.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Process from "../Process.js"
import * as ProcessApi from "../Process.js"
import * as RuntimeError from "../RuntimeError.js"
import { ActorCore, CallEnvelope, SystemMessage } from "./actor.js"

/** @internal */
export type RestartType = "permanent" | "transient" | "temporary"

/** @internal */
export type ShutdownSpec = Duration.DurationInput | "infinity" | "brutal_kill"

/** @internal */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one"

/** @internal */
export type ChildStatus = "running" | "restarting" | "stopped"

/** A child spec as supervisors use it (defaults applied). @internal */
export interface Spec {
  readonly id: string
  readonly start: Effect.Effect<Process.Process, unknown, unknown>
  readonly restart: RestartType
  readonly shutdown: ShutdownSpec
  readonly kind: Process.Kind
}

/** One child as seen from outside. @internal */
export interface ChildInfo {
  readonly id: string
  readonly process: Process.Process | undefined
  readonly kind: Process.Kind
  readonly status: ChildStatus
  readonly restart: RestartType
  readonly restarts: number
}

/** The internal call every supervisor answers (used by `describe`). @internal */
export const WhichChildren = { _tag: "WhichChildren" } as const

/** A child exited (posted by the child's exit listener into its supervisor's mailbox). @internal */
export class ChildExit<C> {
  readonly _tag = "ChildExit"
  constructor(
    readonly child: C,
    readonly process: Process.Process,
    readonly reason: Process.ExitReason
  ) {}
}

/** Whether a child of this restart type is restarted after exiting with `reason`. @internal */
export const shouldRestart = (restart: RestartType, reason: Process.ExitReason): boolean =>
  restart === "permanent" || (restart === "transient" && !ProcessApi.isOrderly(reason))

/**
 * Stops a child by its shutdown spec: `brutal_kill` interrupts at once; otherwise an orderly stop with that
 * timeout, then interruption.
 *
 * @internal
 */
export const stopChild = (process: Process.Process, shutdown: ShutdownSpec): Effect.Effect<Process.ExitReason> =>
  shutdown === "brutal_kill"
    ? ProcessApi.kill(process)
    : ProcessApi.stop(process, { reason: ProcessApi.shutdown, timeout: shutdown })

/**
 * Tells `supervisor` (through its mailbox) when `process` exits; returns the listener (remove it with
 * `process.unsafeRemoveExitListener`).
 *
 * @internal
 */
export const watch = <C>(supervisor: ActorCore, child: C, process: Process.Process): Process.ExitListener => {
  const listener: Process.ExitListener = (reason) => {
    supervisor.pushSystem(new SystemMessage(true, new ChildExit(child, process, reason)))
  }
  process.unsafeAddExitListener(listener)
  return listener
}

/** The sliding window of restart times (OTP intensity / period). @internal */
export class Intensity {
  private times: Array<number> = []
  private head = 0
  constructor(
    readonly maxRestarts: number,
    readonly periodMillis: number
  ) {}

  /** Records a restart now; false when that makes more than `maxRestarts` within the period (OTP keeps T >= now - period). */
  add(now: number): boolean {
    const threshold = now - this.periodMillis
    const times = this.times
    while (this.head < times.length && times[this.head]! < threshold) this.head++
    if (this.head > 64 && this.head * 2 > times.length) {
      this.times = times.slice(this.head)
      this.head = 0
    }
    this.times.push(now)
    return this.times.length - this.head <= this.maxRestarts
  }

  /** Restarts inside the current window. */
  get count(): number {
    return this.times.length - this.head
  }
}

/** Records a restart on the Clock; false past the intensity. @internal */
export const addRestart = (intensity: Intensity): Effect.Effect<boolean> =>
  Effect.map(Clock.currentTimeMillis, (now) => intensity.add(now))

/** Validated intensity options. @internal */
export const makeIntensity = (
  maxRestarts: number | undefined,
  maxSeconds: Duration.DurationInput | number | undefined
): Effect.Effect<Intensity, RuntimeError.InvalidOptions> =>
  Effect.suspend(() => {
    const restarts = maxRestarts ?? 3
    if (!Number.isInteger(restarts) || restarts < 0) {
      return Effect.fail(
        new RuntimeError.InvalidOptions({
          message: `maxRestarts must be a non-negative integer, got ${restarts}`,
          option: "maxRestarts"
        })
      )
    }
    const millis =
      maxSeconds === undefined
        ? 5000
        : typeof maxSeconds === "number"
          ? maxSeconds * 1000
          : Duration.toMillis(Duration.decode(maxSeconds))
    if (!(millis > 0) || !Number.isFinite(millis)) {
      return Effect.fail(
        new RuntimeError.InvalidOptions({
          message: `maxSeconds must be a positive, finite period, got ${String(maxSeconds)}`,
          option: "maxSeconds"
        })
      )
    }
    return Effect.succeed(new Intensity(restarts, millis))
  })

/** Wraps a failed child start. @internal */
export const startFailed = (id: string, cause: unknown): RuntimeError.ChildStartFailed =>
  new RuntimeError.ChildStartFailed({
    message: `child "${id}" failed to start; see cause`,
    childId: id,
    cause
  })

/** The snapshot of a supervisor's children, by the internal protocol. @internal */
export const snapshot = (supervisor: Process.Process): Effect.Effect<ReadonlyArray<ChildInfo>, RuntimeError.NoProc> =>
  Effect.suspend(() => {
    if (!(supervisor instanceof ActorCore) || supervisor.kind !== "supervisor") {
      return Effect.fail(
        new RuntimeError.NoProc({
          message: `${supervisor.toString()} is not a supervisor`,
          target: supervisor.toString()
        })
      )
    }
    return callCore<ReadonlyArray<ChildInfo>>(supervisor, WhichChildren)
  })

/**
 * A call into a supervisor (infinite timeout, as OTP's supervisor calls). Supervisors answer with an
 * `Either`-like result so their typed errors reach the caller.
 *
 * @internal
 */
export const callCore = <A = unknown, E = never>(
  core: ActorCore,
  msg: unknown
): Effect.Effect<A, E | RuntimeError.NoProc> =>
  Effect.flatMap(callRaw(core, msg), (result) => {
    const r = result as SupervisorReply
    return r.ok ? Effect.succeed(r.value as A) : Effect.fail(r.error as E)
  })

/** A supervisor's reply. @internal */
export type SupervisorReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: RuntimeError.RuntimeError }

/** @internal */
export const ok = (value: unknown): SupervisorReply => ({ ok: true, value })

/** @internal */
export const err = (error: RuntimeError.RuntimeError): SupervisorReply => ({ ok: false, error })

const callRaw = (core: ActorCore, msg: unknown): Effect.Effect<unknown, RuntimeError.NoProc> =>
  Effect.async<unknown, RuntimeError.NoProc>((resume) => {
    const envelope = new CallEnvelope(msg, resume as never, core)
    if (core.offer(envelope, undefined) === "closed") {
      resume(
        Effect.fail(new RuntimeError.NoProc({ message: `${core.toString()} is not alive`, target: core.toString() }))
      )
      return
    }
  })
