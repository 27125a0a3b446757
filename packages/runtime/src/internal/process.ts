/**
 * The base of every process: a pid, exit listeners and the exit itself. Kept small: a spawned actor is one
 * of these plus a fiber.
 *
 * @internal
 */
import * as Process from "../Process.js"

type Listeners = Process.ExitListener | Set<Process.ExitListener> | undefined

/** @internal */
export abstract class ProcessCore implements Process.Process {
  declare readonly [Process.TypeId]: Process.TypeId
  /** The pid number; the `Pid` object is made on first use (most processes never need one). */
  readonly id: number = Process.nextPidNumber()
  private pidObject: Process.Pid | undefined = undefined
  exitReason: Process.ExitReason | undefined = undefined
  private listeners: Listeners = undefined

  abstract readonly kind: Process.Kind
  abstract readonly label: string
  abstract unsafeRequestStop(reason: Process.ExitReason): void
  abstract unsafeKill(): void

  get pid(): Process.Pid {
    if (this.pidObject === undefined) this.pidObject = new Process.Pid(this.id)
    return this.pidObject
  }

  unsafeExitReason(): Process.ExitReason | undefined {
    return this.exitReason
  }

  unsafeAddExitListener(listener: Process.ExitListener): () => void {
    if (this.exitReason !== undefined) {
      tell(listener, this.exitReason)
      return noop
    }
    const current = this.listeners
    if (current === undefined) this.listeners = listener
    else if (current instanceof Set) current.add(listener)
    else this.listeners = new Set([current, listener])
    return () => this.unsafeRemoveExitListener(listener)
  }

  unsafeRemoveExitListener(listener: Process.ExitListener): void {
    const current = this.listeners
    if (current === listener) this.listeners = undefined
    else if (current instanceof Set) current.delete(listener)
  }

  /** Records the exit (once) and tells every listener. */
  protected markExited(reason: Process.ExitReason): void {
    if (this.exitReason !== undefined) return
    this.exitReason = reason
    const current = this.listeners
    this.listeners = undefined
    if (current === undefined) return
    if (current instanceof Set) for (const listener of current) tell(listener, reason)
    else tell(current, reason)
  }

  toString(): string {
    return `${this.label}<0.${this.id}.0>`
  }
}

Object.defineProperty(ProcessCore.prototype, Process.TypeId, { value: Process.TypeId })

const noop = () => {}

const tell = (listener: Process.ExitListener, reason: Process.ExitReason): void => {
  if (typeof listener === "function") listener(reason)
  else listener.onExit(reason)
}
