/**
 * A run as a process of the runtime: the run's fiber itself under the `workflow_runs` dynamic supervisor, without
 * an actor's mailbox and loop fiber (a run takes no messages). An orderly stop or a kill interrupts the fiber; the
 * process exits when the fiber ends: `Normal` when the run ended on its own (succeeded or failed: the run's
 * result is its caller's), else the stop's reason. It keeps no links (the supervisor watches it, and the fiber
 * belongs to the engine's scope, which stops it with the engine); an exit signal other than `Normal` stops it.
 */
import { Process } from "@effect-dspy/runtime"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"

const noop = () => {}

const tell = (listener: Process.ExitListener, reason: Process.ExitReason): void => {
  if (typeof listener === "function") listener(reason)
  else listener.onExit(reason)
}

/** A run's process: its fiber, seen by the supervisor. */
export class RunProcess implements Process.Process {
  readonly [Process.TypeId]: Process.TypeId = Process.TypeId
  readonly kind: Process.Kind = "worker"
  readonly label = "workflow_run"
  private readonly id = Process.nextPidNumber()
  private pidObject: Process.Pid | undefined = undefined
  private exitReason: Process.ExitReason | undefined = undefined
  private stopReason: Process.ExitReason | undefined = undefined
  private listeners: Set<Process.ExitListener> | undefined = undefined

  constructor(private readonly fiber: Fiber.RuntimeFiber<unknown, unknown>) {
    // Told at once when the fiber has already ended.
    fiber.addObserver(() => this.exit(this.stopReason ?? Process.normal))
  }

  get pid(): Process.Pid {
    if (this.pidObject === undefined) this.pidObject = new Process.Pid(this.id)
    return this.pidObject
  }

  private exit(reason: Process.ExitReason): void {
    if (this.exitReason !== undefined) return
    this.exitReason = reason
    const listeners = this.listeners
    this.listeners = undefined
    if (listeners !== undefined) for (const listener of listeners) tell(listener, reason)
  }

  unsafeExitReason(): Process.ExitReason | undefined {
    return this.exitReason
  }

  unsafeAddExitListener(listener: Process.ExitListener): () => void {
    if (this.exitReason !== undefined) {
      tell(listener, this.exitReason)
      return noop
    }
    if (this.listeners === undefined) this.listeners = new Set()
    this.listeners.add(listener)
    return () => this.unsafeRemoveExitListener(listener)
  }

  unsafeRemoveExitListener(listener: Process.ExitListener): void {
    this.listeners?.delete(listener)
  }

  unsafeRequestStop(reason: Process.ExitReason): void {
    if (this.exitReason !== undefined) return
    if (this.stopReason === undefined) this.stopReason = reason
    this.fiber.unsafeInterruptAsFork(FiberId.none)
  }

  unsafeKill(): void {
    this.unsafeRequestStop(Process.killed)
  }

  unsafeLink(_other: Process.Process): boolean {
    return false
  }

  unsafeUnlink(_other: Process.Process): void {}

  unsafeExitSignal(_from: Process.Process, reason: Process.ExitReason): void {
    if (reason._tag !== "Normal") this.unsafeRequestStop(reason)
  }

  unsafeTrapExit(_trap: boolean): boolean {
    return false
  }

  toString(): string {
    return `${this.label}<0.${this.id}.0>`
  }
}
