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
      listener(this.exitReason)
      return noop
    }
    const current = this.listeners
    if (current === undefined) this.listeners = listener
    else if (typeof current === "function") this.listeners = new Set([current, listener])
    else current.add(listener)
    return () => this.unsafeRemoveExitListener(listener)
  }

  unsafeRemoveExitListener(listener: Process.ExitListener): void {
    const current = this.listeners
    if (current === listener) this.listeners = undefined
    else if (current !== undefined && typeof current !== "function") current.delete(listener)
  }

  /** Records the exit (once) and tells every listener. */
  protected markExited(reason: Process.ExitReason): void {
    if (this.exitReason !== undefined) return
    this.exitReason = reason
    const current = this.listeners
    this.listeners = undefined
    if (current === undefined) return
    if (typeof current === "function") current(reason)
    else for (const listener of current) listener(reason)
  }

  toString(): string {
    return `${this.label}<0.${this.id}.0>`
  }
}

Object.defineProperty(ProcessCore.prototype, Process.TypeId, { value: Process.TypeId })

const noop = () => {}
