/**
 * The base of every process: a pid, exit listeners, links and the exit itself. Kept small: a spawned actor is
 * one of these plus a fiber.
 *
 * @internal
 */
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Process from "../Process.js"

type Listeners = Process.ExitListener | Set<Process.ExitListener> | undefined

type Links = ProcessCore | Set<ProcessCore> | undefined

/**
 * The process a fiber runs as: set once on an actor's receive-loop fiber (inherited by fibers it forks). A
 * FiberRef rather than a WeakMap from fibers: a weak table of 100,000 young fibers makes every minor
 * collection slower.
 *
 * @internal
 */
export const currentProcess: FiberRef.FiberRef<ProcessCore | undefined> = FiberRef.unsafeMake<ProcessCore | undefined>(
  undefined
)

/** A fiber running, for a while, as another process (an actor's `init`, a dynamic supervisor's child start). */
interface Running {
  readonly fiber: object
  readonly process: ProcessCore | undefined
}

/** The fibers running as another process right now (a few at most; the latest wins). */
const running: Array<Running> = []

/** The process `fiber` runs as, if any. @internal */
export const processOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): ProcessCore | undefined => {
  for (let i = running.length - 1; i >= 0; i--) {
    const entry = running[i]!
    if (entry.fiber === fiber) return entry.process
  }
  return fiber.getFiberRef(currentProcess)
}

/** Makes `fiber` run as `process` until `endRun` with the returned entry. @internal */
export const runAs = (fiber: object, process: ProcessCore | undefined): Running => {
  const entry: Running = { fiber, process }
  running.push(entry)
  return entry
}

/** Ends a `runAs`. @internal */
export const endRun = (entry: Running): void => {
  const index = running.lastIndexOf(entry)
  if (index >= 0) running.splice(index, 1)
}

/** @internal */
export abstract class ProcessCore implements Process.Process {
  declare readonly [Process.TypeId]: Process.TypeId
  /** The pid number; the `Pid` object is made on first use (most processes never need one). */
  readonly id: number = Process.nextPidNumber()
  private pidObject: Process.Pid | undefined = undefined
  exitReason: Process.ExitReason | undefined = undefined
  private listeners: Listeners = undefined
  private links: Links = undefined
  /** The process that spawned this one (its exit stops a trapping process in order). */
  parent: ProcessCore | undefined = undefined
  trapExits = false

  abstract readonly kind: Process.Kind
  abstract readonly label: string
  abstract unsafeRequestStop(reason: Process.ExitReason): void
  abstract unsafeKill(): void
  abstract unsafeExitSignal(from: Process.Process, reason: Process.ExitReason): void

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

  unsafeTrapExit(trap: boolean): boolean {
    const previous = this.trapExits
    this.trapExits = trap
    return previous
  }

  unsafeLink(other: Process.Process): boolean {
    if (!(other instanceof ProcessCore)) return false
    if (this.exitReason !== undefined || other.exitReason !== undefined) return false
    if (other === this) return true
    this.addLink(other)
    other.addLink(this)
    return true
  }

  unsafeUnlink(other: Process.Process): void {
    if (!(other instanceof ProcessCore)) return
    this.removeLink(other)
    other.removeLink(this)
  }

  private addLink(other: ProcessCore): void {
    const links = this.links
    if (links === undefined) this.links = other
    else if (links instanceof Set) links.add(other)
    else if (links !== other) this.links = new Set([links, other])
  }

  private removeLink(other: ProcessCore): void {
    const links = this.links
    if (links === other) this.links = undefined
    else if (links instanceof Set) links.delete(other)
  }

  /** Records the exit (once), tells every listener, then sends an exit signal to every linked process. */
  protected markExited(reason: Process.ExitReason): void {
    if (this.exitReason !== undefined) return
    this.exitReason = reason
    const current = this.listeners
    this.listeners = undefined
    if (current !== undefined) {
      if (current instanceof Set) for (const listener of current) tell(listener, reason)
      else tell(current, reason)
    }
    const links = this.links
    this.links = undefined
    if (links === undefined) return
    if (links instanceof Set) {
      for (const linked of links) {
        linked.removeLink(this)
        linked.unsafeExitSignal(this, reason)
      }
    } else {
      links.removeLink(this)
      links.unsafeExitSignal(this, reason)
    }
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
