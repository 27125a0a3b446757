/**
 * The process abstraction shared by actors and supervisors: a pid, an awaitable exit reason, an orderly stop
 * with a timeout (then interruption), and `kill` for fault injection.
 *
 * Exit reasons follow OTP: `Normal` and `Shutdown` are orderly; `Failure` carries the `Cause` of a crash;
 * `Killed` is what a process that was interrupted (`kill`, or a stop that outlived its timeout) exits with.
 *
 * Links (OTP `link`): when a process exits, every process linked to it gets an exit signal with its reason.
 * A process that does not trap exits ignores `Normal` and exits with any other reason; a process that traps
 * exits (`trapExit`) gets a `Process.ExitMessage` in its `handleInfo` instead, except from its parent, whose
 * exit makes it stop in order (running `terminate`), as an OTP gen_server does. Supervisors trap exits.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RuntimeError from "./RuntimeError.js"
import * as Timer from "./internal/timer.js"

/**
 * The brand of every process.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@effect-dspy/runtime/Process")

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

let nextPid = 0

/**
 * The next process number (pids are unique within this JavaScript realm).
 *
 * @since 0.1.0
 * @category constructors
 */
export const nextPidNumber = (): number => ++nextPid

/**
 * A process identifier, unique within this JavaScript realm. Printed the Erlang way: `<0.42.0>`. Compare
 * pids by `id`.
 *
 * @since 0.1.0
 * @category models
 */
export class Pid {
  /** @since 0.1.0 */
  readonly id: number
  constructor(id: number = nextPidNumber()) {
    this.id = id
  }
  /** @since 0.1.0 */
  toString(): string {
    return `<0.${this.id}.0>`
  }
  /** @since 0.1.0 */
  toJSON(): string {
    return this.toString()
  }
}

/**
 * The process stopped normally (returned `Actor.stop` with reason normal, OTP `normal`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Normal {
  readonly _tag: "Normal"
}

/**
 * The process was asked to shut down (by its supervisor, a scope or `Process.stop`), or a supervisor gave up
 * after too many restarts (OTP `shutdown`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Shutdown {
  readonly _tag: "Shutdown"
}

/**
 * The process crashed: a handler failed or died; `cause` is the `Cause` of it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  readonly _tag: "Failure"
  readonly cause: Cause.Cause<unknown>
}

/**
 * The process was interrupted without cleanup (`kill`, `brutal_kill`, or a stop past its timeout; OTP
 * `killed`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Killed {
  readonly _tag: "Killed"
}

/**
 * Why a process exited.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitReason = Normal | Shutdown | Failure | Killed

/**
 * @since 0.1.0
 * @category constructors
 */
export const normal: ExitReason = { _tag: "Normal" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const shutdown: ExitReason = { _tag: "Shutdown" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const killed: ExitReason = { _tag: "Killed" }

/**
 * @since 0.1.0
 * @category constructors
 */
export const failure = (cause: Cause.Cause<unknown>): ExitReason => ({ _tag: "Failure", cause })

/**
 * True for the reasons a `transient` child is not restarted for (`Normal`, `Shutdown`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isOrderly = (reason: ExitReason): boolean => reason._tag === "Normal" || reason._tag === "Shutdown"

/**
 * A short text of a reason, for messages and trees.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatReason = (reason: ExitReason): string => {
  switch (reason._tag) {
    case "Normal":
      return "normal"
    case "Shutdown":
      return "shutdown"
    case "Killed":
      return "killed"
    case "Failure":
      return `failure: ${describeCause(reason.cause)}`
  }
}

const describeCause = (cause: Cause.Cause<unknown>): string => {
  switch (cause._tag) {
    case "Fail":
      return describeValue(cause.error)
    case "Die":
      return `defect ${describeValue(cause.defect)}`
    case "Interrupt":
      return "interrupted"
    case "Empty":
      return "empty"
    case "Sequential":
    case "Parallel":
      return `${describeCause(cause.left)}; ${describeCause(cause.right)}`
  }
}

const describeValue = (u: unknown): string => {
  if (u instanceof Error) return u.message.length > 0 ? `${u.name}: ${u.message}` : u.name
  if (typeof u === "object" && u !== null && "_tag" in u) return String((u as { _tag: unknown })._tag)
  return String(u)
}

/**
 * What kind of process: a worker (an actor) or a supervisor (which supervises other processes).
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "worker" | "supervisor"

/**
 * A listener called once, synchronously, when a process exits.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitListener = ((reason: ExitReason) => void) | ExitObserver

/**
 * An object told of a process's exit (a listener without a closure, for runtimes that watch many processes).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitObserver {
  onExit(reason: ExitReason): void
}

/**
 * How long an orderly stop may take before the process is interrupted.
 *
 * @since 0.1.0
 * @category models
 */
export type StopTimeout = Duration.DurationInput | "infinity"

/**
 * A process. Actors and supervisors implement it; the `unsafe*` members are the low-level hooks the runtime
 * builds monitors, registries and supervisors on (synchronous, no Effect).
 *
 * @since 0.1.0
 * @category models
 */
export interface Process {
  readonly [TypeId]: TypeId
  readonly pid: Pid
  readonly kind: Kind
  /** A label for trees and messages (the actor definition's name). */
  readonly label: string
  /** The exit reason, or `undefined` while alive. */
  unsafeExitReason(): ExitReason | undefined
  /** Calls `listener` once on exit (at once if already dead); returns a function that removes it. */
  unsafeAddExitListener(listener: ExitListener): () => void
  /** Removes a listener added with `unsafeAddExitListener`. */
  unsafeRemoveExitListener(listener: ExitListener): void
  /** Asks for an orderly stop with `reason`; the process finishes its current work, cleans up and exits. */
  unsafeRequestStop(reason: ExitReason): void
  /**
   * Interrupts the process at once; it exits with `Killed`. A process that cannot be interrupted (an
   * uninterruptible region that does not end) is detached: recorded as exited, its mailbox closed and its
   * listeners told, while its fiber is left to end on its own.
   */
  unsafeKill(): void
  /** Links this process with `other` (both ways); false if either has exited. */
  unsafeLink(other: Process): boolean
  /** Removes the link with `other`, both ways. */
  unsafeUnlink(other: Process): void
  /** Delivers an exit signal from `from` (see the module documentation for what it does). */
  unsafeExitSignal(from: Process, reason: ExitReason): void
  /** Sets whether exit signals arrive as messages; returns the previous setting. */
  unsafeTrapExit(trap: boolean): boolean
}

/**
 * The message a process that traps exits receives in `handleInfo` when a linked process exits (OTP
 * `{'EXIT', Pid, Reason}`). Include it in the actor's `Info` type.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitMessage {
  readonly _tag: "Exit"
  readonly pid: Pid
  readonly process: Process
  readonly reason: ExitReason
}

/**
 * True for exit messages.
 *
 * @since 0.1.0
 * @category guards
 */
export const isExitMessage = (u: unknown): u is ExitMessage =>
  typeof u === "object" &&
  u !== null &&
  (u as { _tag?: unknown })._tag === "Exit" &&
  isProcess((u as ExitMessage).process)

/**
 * @since 0.1.0
 * @category constructors
 */
export const exitMessage = (process: Process, reason: ExitReason): ExitMessage => ({
  _tag: "Exit",
  pid: process.pid,
  process,
  reason
})

/**
 * True for processes.
 *
 * @since 0.1.0
 * @category guards
 */
export const isProcess = (u: unknown): u is Process => typeof u === "object" && u !== null && TypeId in u

const _await = (self: Process): Effect.Effect<ExitReason> =>
  Effect.async<ExitReason>((resume) => {
    const remove = self.unsafeAddExitListener((reason) => resume(Effect.succeed(reason)))
    return Effect.sync(remove)
  })

export {
  /**
   * Waits for the process to exit and returns its exit reason.
   *
   * @since 0.1.0
   * @category combinators
   */
  _await as await
}

/**
 * True while the process has not exited.
 *
 * @since 0.1.0
 * @category getters
 */
export const isAlive = (self: Process): Effect.Effect<boolean> =>
  Effect.sync(() => self.unsafeExitReason() === undefined)

/**
 * The exit reason, once exited.
 *
 * @since 0.1.0
 * @category getters
 */
export const exitReason = (self: Process): Effect.Effect<Option.Option<ExitReason>> =>
  Effect.sync(() => Option.fromNullable(self.unsafeExitReason()))

/**
 * Stops a process in order: it gets `reason` (default `Shutdown`), finishes the message it is handling, runs
 * its cleanup (`terminate`; a supervisor stops its children), and exits. If it has not exited within
 * `timeout` (default 5 seconds; `"infinity"` waits for ever) it is interrupted and exits with `Killed`.
 * Returns the exit reason. Stopping a dead process returns its reason at once.
 *
 * @since 0.1.0
 * @category combinators
 */
export const stop = (
  self: Process,
  options?: { readonly reason?: ExitReason; readonly timeout?: StopTimeout }
): Effect.Effect<ExitReason> =>
  Effect.clockWith((clock) =>
    Effect.async<ExitReason>((resume) => {
      const timeout = options?.timeout ?? 5000
      const millis = timeout === "infinity" ? Number.POSITIVE_INFINITY : toMillis(timeout)
      let cancelTimer: () => void = noop
      const remove = self.unsafeAddExitListener((reason) => {
        cancelTimer()
        resume(Effect.succeed(reason))
      })
      if (self.unsafeExitReason() !== undefined) return
      self.unsafeRequestStop(options?.reason ?? shutdown)
      if (self.unsafeExitReason() !== undefined) return
      cancelTimer = Timer.schedule(clock, millis, () => self.unsafeKill())
      return Effect.sync(() => {
        remove()
        cancelTimer()
      })
    })
  )

/**
 * Interrupts a process at once (OTP `exit(Pid, kill)`): no cleanup runs; it exits with `Killed`. Returns when
 * it has exited. For fault injection and `brutal_kill`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const kill = (self: Process): Effect.Effect<ExitReason> =>
  Effect.suspend(() => {
    self.unsafeKill()
    return _await(self)
  })

/**
 * Links two processes (OTP `link`): when either exits, the other gets an exit signal. Fails with `NoProc`
 * when either has already exited. Linking a process with itself, or twice, does nothing more.
 *
 * @since 0.1.0
 * @category links
 */
export const link = (self: Process, other: Process): Effect.Effect<void, RuntimeError.NoProc> =>
  Effect.suspend(() => {
    if (self === other || self.unsafeLink(other)) return Effect.void
    const dead = self.unsafeExitReason() !== undefined ? self : other
    return Effect.fail(
      new RuntimeError.NoProc({
        message: `cannot link ${self.toString()} and ${other.toString()}: ${dead.toString()} is not alive (noproc)`,
        target: dead.toString()
      })
    )
  })

/**
 * Removes the link between two processes, both ways (OTP `unlink`). Does nothing when they are not linked.
 *
 * @since 0.1.0
 * @category links
 */
export const unlink = (self: Process, other: Process): Effect.Effect<void> =>
  Effect.sync(() => self.unsafeUnlink(other))

/**
 * Makes `self` trap exits (OTP `process_flag(trap_exit, true)`): exit signals from linked processes then
 * arrive as `ExitMessage`s in its `handleInfo` instead of stopping it. Returns the previous setting.
 *
 * @since 0.1.0
 * @category links
 */
export const trapExit = (self: Process, trap: boolean): Effect.Effect<boolean> =>
  Effect.sync(() => self.unsafeTrapExit(trap))

const noop = () => {}

const toMillis = Timer.toMillis
