/**
 * The actor core: one object per actor holding its state and mailbox, plus one daemon fiber running the
 * receive loop. A `call` is one envelope in the mailbox and one `Effect.async` resumption; no Queue, Ref,
 * Deferred or Scope is allocated per actor or per message.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import type * as Actor from "../Actor.js"
import * as Process from "../Process.js"
import * as RuntimeError from "../RuntimeError.js"
import * as RuntimeEvents from "../RuntimeEvents.js"
import * as Events from "./events.js"
import * as Isolation from "./isolation.js"
import { currentProcess, ProcessCore } from "./process.js"
import * as Timer from "./timer.js"

/** What `handleCall` returns: reply now and continue. @internal */
export class Reply<R, S> {
  constructor(
    readonly reply: R,
    readonly state: S
  ) {}
}

/** What `handleCall` returns: reply now, then run `handleContinue` before the next message. @internal */
export class ReplyContinue<R, S> extends Reply<R, S> {
  constructor(
    reply: R,
    state: S,
    readonly continuation: Continue<S>
  ) {
    super(reply, state)
  }
}

/** What `init` or a handler returns to run `handleContinue(arg)` before the next message (OTP `{continue, Arg}`). @internal */
export class Continue<S> {
  constructor(
    readonly state: S,
    readonly arg: unknown
  ) {}
}

/** A debugging request answered by the runtime itself (OTP `sys:get_state` / `sys:replace_state`). @internal */
export class SysRequest {
  constructor(readonly replace: ((state: unknown) => unknown) | undefined) {}
}

/** What `handleCall` returns: continue without replying yet (reply later through `from`). @internal */
export class NoReply<S> {
  constructor(readonly state: S) {}
}

/** What a handler returns to stop the actor (optionally replying first). @internal */
export class Stop<S, R = never> {
  constructor(
    readonly reason: Process.ExitReason,
    readonly state: S,
    readonly hasReply: boolean,
    readonly reply: R | undefined
  ) {}
}

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/** A pending `call`: the message, how to resume the caller, and its timer. @internal */
export class CallEnvelope {
  done = false
  /** The timeout on the live clock: a plain `setTimeout` (no closure, no fiber). */
  private liveTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** The timeout on any other clock (`TestClock`). */
  private cancelTimer: Timer.Cancel = Timer.noop
  constructor(
    readonly msg: unknown,
    readonly resume: Resume<unknown, RuntimeError.CallError>,
    readonly target: ActorCore
  ) {}

  /** Arms the call timeout on `clock`. */
  startTimer(clock: Clock.Clock, millis: number): void {
    if (this.done || !Number.isFinite(millis)) return
    if (Timer.isLive(clock)) {
      if (millis <= Timer.MAX_TIMER_MILLIS) this.liveTimer = setTimeout(onCallTimeout, millis, this, millis)
    } else {
      this.cancelTimer = Timer.schedule(clock, millis, () => this.timeout(millis))
    }
  }

  private stopTimer(): void {
    if (this.liveTimer !== undefined) {
      clearTimeout(this.liveTimer)
      this.liveTimer = undefined
    } else {
      this.cancelTimer()
    }
  }

  timeout(millis: number): void {
    this.fail(
      new RuntimeError.CallTimeout({
        message: `${this.target.toString()} did not reply within ${millis} ms; raise the timeout or make the handler faster`,
        target: this.target.toString(),
        timeoutMillis: millis
      })
    )
  }

  /** Replies to the caller; `false` if the caller is gone (timed out or interrupted): the reply is dropped. */
  reply(value: unknown): boolean {
    if (this.done) return false
    this.done = true
    this.stopTimer()
    this.resume(Effect.succeed(value))
    return true
  }

  fail(error: RuntimeError.CallError): void {
    if (this.done) return
    this.done = true
    this.stopTimer()
    this.resume(Effect.fail(error))
  }

  die(defect: unknown): void {
    if (this.done) return
    this.done = true
    this.stopTimer()
    this.resume(Effect.die(defect))
  }
}

const onCallTimeout = (envelope: CallEnvelope, millis: number): void => envelope.timeout(millis)

/** A cast or an info message. @internal */
export class Message {
  constructor(
    readonly info: boolean,
    readonly msg: unknown
  ) {}
}

/** An info message from the runtime (a timer, a child's exit, an exit signal): never dropped. @internal */
export class SystemMessage extends Message {}

/** How a full mailbox treats one more message. @internal */
export type Overflow = "block" | "fail" | "dropNewest" | "dropOldest"

/** @internal */
export const overflows: ReadonlyArray<Overflow> = ["block", "fail", "dropNewest", "dropOldest"]

/** The mailbox settings of an actor; shared by every actor of a definition with the same isolation. @internal */
export interface Settings {
  readonly capacity: number
  readonly overflow: Overflow
  readonly isolation: Isolation.Mode
}

const settingsCache = new WeakMap<object, Array<Settings | undefined>>()

/**
 * The settings of `definition` with `isolation` (its own, else the default given), or a problem to report.
 *
 * @internal
 */
export const settingsOf = (
  definition: AnyDefinition,
  defaultIsolation: Isolation.Mode
): Settings | RuntimeError.InvalidOptions => {
  const isolation = definition.isolation ?? defaultIsolation
  const index = Isolation.modes.indexOf(isolation)
  let cached = settingsCache.get(definition)
  const hit = cached?.[index]
  if (hit !== undefined) return hit
  const capacity = definition.mailboxCapacity ?? 10_000
  if (!Number.isInteger(capacity) || capacity < 1) {
    return new RuntimeError.InvalidOptions({
      message: `mailboxCapacity must be a positive integer, got ${capacity}`,
      option: "mailboxCapacity"
    })
  }
  const overflow = definition.mailboxOverflow ?? "block"
  if (!overflows.includes(overflow)) {
    return new RuntimeError.InvalidOptions({
      message: `mailboxOverflow must be one of ${overflows.join(", ")}, got ${String(overflow)}`,
      option: "mailboxOverflow"
    })
  }
  if (index < 0) {
    return new RuntimeError.InvalidOptions({
      message: `isolation must be one of ${Isolation.modes.join(", ")}, got ${String(isolation)}`,
      option: "isolation"
    })
  }
  const settings: Settings = { capacity, overflow, isolation }
  if (cached === undefined) {
    cached = []
    settingsCache.set(definition, cached)
  }
  cached[index] = settings
  return settings
}

/** The text shown instead of a state when the definition has no `formatState`. @internal */
export const redactedState = "<state redacted: define formatState to show it>"

const describeMessage = (msg: unknown): string => {
  if (typeof msg === "object" && msg !== null) {
    const tag = (msg as { _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    return msg.constructor?.name ?? "object"
  }
  return typeof msg
}

const describeResult = (result: unknown): string =>
  result === null ? "null" : typeof result === "object" ? `an object (${describeMessage(result)})` : typeof result

/** How long (in event-loop turns) a killed fiber may take to end before it is detached. */
const DETACH_TURNS = 3

const checkDetached = (core: ActorCore, turn: number): void => {
  if (core.exitReason !== undefined) return
  if (turn < DETACH_TURNS) setImmediate(checkDetached, core, turn + 1)
  else core.detach()
}

type Envelope = CallEnvelope | Message

/** The shared empty buffer of an actor that never got a message (replaced at the first one). */
const empty: Array<Envelope | undefined> = []

/** A sender waiting for room in a full mailbox. */
interface Blocked {
  readonly envelope: Envelope
  readonly admitted: (() => void) | undefined
}

/** A timer started with `sendAfter` / `sendInterval`. @internal */
export class TimerHandle {
  cancel: Timer.Cancel = Timer.noop
  active = true
  constructor(
    readonly actor: ActorCore,
    readonly msg: unknown,
    readonly intervalMillis: number | undefined
  ) {}
}

const interruptedFiberId = FiberId.none

// biome-ignore lint/suspicious/noExplicitAny: the core is shared by every actor type; the public API is typed.
export type AnyDefinition = Actor.Definition<any, any, any, any, any, any, any, any>

/** The receive loop, shared by every actor: the core flows through as the value, so nothing is allocated per actor. */
const receiveLoop = (core: ActorCore): Effect.Effect<void, unknown, unknown> =>
  core.stopReason !== undefined ? Effect.void : Effect.flatMap(core.step(), receiveLoop)

/** @internal */
export class ActorCore extends ProcessCore {
  readonly kind: Process.Kind
  readonly label: string
  state: unknown = undefined
  fiber: Fiber.RuntimeFiber<void, unknown> | undefined = undefined
  stopReason: Process.ExitReason | undefined = undefined
  /** The reason of an exit signal that is killing this process (it exits with it instead of `Killed`). */
  private signalReason: Process.ExitReason | undefined = undefined
  /** A `handleContinue` to run before the next message. */
  private continuation: Continue<unknown> | undefined = undefined
  closed = false
  private killRequested = false
  private detaching = false
  private buffer: Array<Envelope | undefined> = empty
  private head = 0
  private waiter: Resume<ActorCore, never> | undefined = undefined
  private blocked: Array<Blocked> | undefined = undefined
  private inflight: CallEnvelope | undefined = undefined
  private timers: Set<TimerHandle> | undefined = undefined

  constructor(
    readonly definition: AnyDefinition,
    readonly settings: Settings,
    kind: Process.Kind
  ) {
    super()
    this.kind = kind
    this.label = definition.name ?? "actor"
    if (definition.trapExit === true) this.trapExits = true
  }

  get capacity(): number {
    return this.settings.capacity
  }

  // ---------------------------------------------------------------- isolation and state

  /** `value` isolated by this actor's isolation mode, or the typed error for a part that cannot be. */
  isolate(value: unknown): { readonly value: unknown } | RuntimeError.MessageNotIsolatable {
    const mode = this.settings.isolation
    if (mode === "none") return { value }
    try {
      return { value: Isolation.isolate(value, mode) }
    } catch (e) {
      if (!(e instanceof Isolation.Refused)) throw e
      return new RuntimeError.MessageNotIsolatable({
        message: `a message for ${this.toString()} (isolation "${mode}") holds ${e.what} at ${e.path}; send data (or a process ref to reply to) instead`,
        target: this.toString(),
        path: e.path,
        isolation: mode
      })
    }
  }

  /** Replies to a caller, isolating the reply like messages; false when the caller is gone. */
  replyTo(envelope: CallEnvelope, value: unknown): boolean {
    if (envelope.done) return false
    if (this.settings.isolation === "none") return envelope.reply(value)
    const isolated = this.isolate(value)
    if (isolated instanceof RuntimeError.MessageNotIsolatable) {
      envelope.fail(isolated)
      return false
    }
    return envelope.reply(isolated.value)
  }

  /** The state as the definition's `formatState` shows it (redacted without one). */
  formattedState(): unknown {
    const format = this.definition.formatState
    if (format === undefined) return redactedState
    try {
      return format(this.state)
    } catch {
      return "<formatState failed>"
    }
  }

  private formattedStateText(): string {
    const formatted = this.formattedState()
    if (typeof formatted === "string") return formatted
    try {
      return JSON.stringify(formatted) ?? String(formatted)
    } catch {
      return "<formatState returned a value that cannot be printed>"
    }
  }

  // ---------------------------------------------------------------- mailbox

  get mailboxSize(): number {
    return this.buffer.length - this.head
  }

  hasRoom(): boolean {
    return this.buffer.length - this.head < this.capacity
  }

  /** Enqueues regardless of capacity (timers, supervisor signals). False when the actor is gone. */
  pushSystem(envelope: Envelope): boolean {
    if (this.closed) return false
    this.push(envelope)
    this.wake()
    return true
  }

  /**
   * Enqueues if there is room; otherwise parks the sender (`admitted` runs when it gets in). False when the
   * actor is gone.
   */
  offer(envelope: Envelope, admitted: (() => void) | undefined): "ok" | "blocked" | "closed" | "full" | "dropped" {
    if (this.closed) return "closed"
    const settings = this.settings
    if (this.buffer.length - this.head < settings.capacity) {
      this.push(envelope)
      this.wake()
      return "ok"
    }
    switch (settings.overflow) {
      case "block": {
        if (this.blocked === undefined) this.blocked = []
        this.blocked.push({ envelope, admitted })
        return "blocked"
      }
      case "fail":
        return "full"
      case "dropNewest":
        this.drop(envelope)
        return "dropped"
      case "dropOldest": {
        const oldest = this.evictOldest()
        if (oldest !== undefined) this.drop(oldest)
        this.push(envelope)
        this.wake()
        return "ok"
      }
    }
  }

  /** The error of a send refused by a full mailbox. */
  mailboxFull(): RuntimeError.MailboxFull {
    return new RuntimeError.MailboxFull({
      message: `the mailbox of ${this.toString()} is full (${this.settings.capacity} messages, overflow "${this.settings.overflow}"); slow the sender down, raise mailboxCapacity or choose another mailboxOverflow`,
      target: this.toString(),
      capacity: this.settings.capacity,
      policy: this.settings.overflow
    })
  }

  /** Drops a message of a full mailbox: its caller (for a call) gets `MailboxFull`; an event says so. */
  private drop(envelope: Envelope): void {
    if (envelope instanceof CallEnvelope) envelope.fail(this.mailboxFull())
    Events.publishDetached(this.fiber, RuntimeEvents.MailboxDropped, {
      pid: this.pid.toString(),
      label: this.label,
      policy: this.settings.overflow,
      capacity: this.settings.capacity,
      kind:
        envelope instanceof CallEnvelope ? ("call" as const) : envelope.info ? ("info" as const) : ("cast" as const),
      message: describeMessage(envelope.msg)
    })
  }

  /** Removes the oldest message that is not the runtime's own. */
  private evictOldest(): Envelope | undefined {
    const buffer = this.buffer
    for (let i = this.head; i < buffer.length; i++) {
      const envelope = buffer[i]!
      if (envelope instanceof SystemMessage) continue
      buffer.splice(i, 1)
      return envelope
    }
    return undefined
  }

  private push(envelope: Envelope): void {
    if (this.buffer === empty) this.buffer = [envelope]
    else this.buffer.push(envelope)
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter(Effect.succeed(this))
    }
  }

  private poll(): Envelope | undefined {
    const buffer = this.buffer
    if (this.head >= buffer.length) return undefined
    const envelope = buffer[this.head]
    buffer[this.head++] = undefined
    if (this.head === buffer.length) {
      buffer.length = 0
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= buffer.length) {
      buffer.splice(0, this.head)
      this.head = 0
    }
    const blocked = this.blocked
    if (blocked !== undefined && blocked.length > 0) {
      const next = blocked.shift()!
      buffer.push(next.envelope)
      next.admitted?.()
    }
    return envelope
  }

  // ---------------------------------------------------------------- loop

  private waitMessage(): Effect.Effect<ActorCore> {
    return Effect.async<ActorCore>((resume) => {
      this.waiter = resume
    })
  }

  /** One receive: the next message's handler, or a wait for one. Yields the core so the loop needs no closure. */
  step(): Effect.Effect<ActorCore, unknown, unknown> {
    if (this.continuation !== undefined) return this.runContinue()
    const envelope = this.poll()
    if (envelope === undefined) return this.waitMessage()
    const definition = this.definition
    if (envelope instanceof CallEnvelope) {
      const msg = envelope.msg
      if (msg instanceof SysRequest) return this.system(envelope, msg)
      if (definition.handleCall === undefined) {
        return Effect.dieMessage(`${this.toString()} received a call but its definition has no handleCall`)
      }
      this.inflight = envelope
      return Effect.map(
        definition.handleCall(msg, this.state, this, envelope as Actor.From<unknown>),
        (result: unknown) => {
          if (result instanceof Reply) {
            this.inflight = undefined
            this.state = result.state
            this.replyTo(envelope, result.reply)
            if (result instanceof ReplyContinue) this.continuation = result.continuation
          } else if (result instanceof NoReply) {
            this.inflight = undefined
            this.state = result.state
          } else if (result instanceof Stop) {
            this.inflight = undefined
            this.state = result.state
            this.stopReason = result.reason
            if (result.hasReply) this.replyTo(envelope, result.reply)
          } else {
            // The caller stays in flight: the crash fails it with NoProc.
            throw new Error(
              `${this.toString()}: handleCall must return Actor.reply, Actor.noReply or Actor.stop, got ${describeResult(result)} (state: ${this.formattedStateText()})`
            )
          }
          return this
        }
      )
    }
    const handler = envelope.info ? definition.handleInfo : definition.handleCast
    if (handler === undefined) return this.unexpected(envelope)
    return Effect.map(handler(envelope.msg, this.state, this), (result: unknown) => this.next(result))
  }

  /** Applies what a cast, info or continue handler returned. */
  private next(result: unknown): ActorCore {
    if (result instanceof Stop) {
      this.state = result.state
      this.stopReason = result.reason
    } else if (result instanceof Continue) {
      this.state = result.state
      this.continuation = result
    } else {
      this.state = result
    }
    return this
  }

  private runContinue(): Effect.Effect<ActorCore, unknown, unknown> {
    const continuation = this.continuation!
    this.continuation = undefined
    const handler = this.definition.handleContinue
    if (handler === undefined) {
      return Effect.dieMessage(
        `${this.toString()} returned Actor.continueWith but its definition has no handleContinue`
      )
    }
    return Effect.map(handler(continuation.arg as never, this.state, this), (result: unknown) => this.next(result))
  }

  /** A cast or info message without its handler: logged and dropped, as OTP does. */
  private unexpected(envelope: Message): Effect.Effect<ActorCore> {
    const kind = envelope.info ? ("info" as const) : ("cast" as const)
    return Effect.as(
      Events.publish(RuntimeEvents.UnexpectedMessage, {
        pid: this.pid.toString(),
        label: this.label,
        kind,
        message: describeMessage(envelope.msg),
        fix: `define ${envelope.info ? "handleInfo" : "handleCast"} to handle it, or stop sending it`
      }),
      this
    )
  }

  /** `getState` / `replaceState`, answered in mailbox order. */
  private system(envelope: CallEnvelope, request: SysRequest): Effect.Effect<ActorCore> {
    return Effect.sync(() => {
      if (request.replace !== undefined) {
        try {
          this.state = request.replace(this.state)
        } catch (defect) {
          envelope.die(defect)
          return this
        }
      }
      this.replyTo(envelope, this.state)
      return this
    })
  }

  /** Applies `init`'s result: the state, and a continuation if it asked for one. */
  initialState(result: unknown): void {
    if (result instanceof Continue) {
      this.state = result.state
      this.continuation = result
    } else {
      this.state = result
    }
  }

  /** The body of the actor's fiber: the receive loop, then `terminate`. */
  main(): Effect.Effect<void, unknown, unknown> {
    // The loop fiber runs as this process: what its handlers spawn is linked to it.
    const loop = Effect.zipRight(
      FiberRef.set(currentProcess, this),
      Effect.suspend(() => receiveLoop(this))
    )
    const terminate = this.definition.terminate
    if (terminate === undefined) return loop
    return Effect.matchCauseEffect(loop, {
      onFailure: (cause) =>
        Effect.zipRight(terminate(Process.failure(cause), this.state, this), Effect.failCause(cause)),
      onSuccess: () => terminate(this.stopReason ?? Process.normal, this.state, this)
    })
  }

  /** OTP's crash report: the reason and the state as `formatState` shows it (never raw). */
  private crashReport(reason: Process.ExitReason): void {
    Events.publishDetached(
      this.fiber,
      RuntimeEvents.ActorCrashed,
      {
        pid: this.pid.toString(),
        label: this.label,
        reason: Process.formatReason(reason),
        state: this.formattedState()
      },
      "Debug"
    )
  }

  /** Called once with the fiber's exit (a fiber observer, so it runs even if killed before it started). */
  readonly onFiberExit = (exit: Exit.Exit<void, unknown>): void => {
    let reason: Process.ExitReason
    if (exit._tag === "Success") reason = this.stopReason ?? Process.normal
    else if (Cause.isInterruptedOnly(exit.cause)) reason = this.signalReason ?? Process.killed
    else reason = Process.failure(exit.cause)
    this.finish(reason)
    if (exit._tag === "Failure" && reason._tag === "Failure" && this.signalReason === undefined)
      this.crashReport(reason)
  }

  /** Closes the mailbox, fails pending callers with `NoProc`, cancels timers and records the exit. */
  finish(reason: Process.ExitReason): void {
    if (this.exitReason !== undefined) return
    this.closed = true
    this.waiter = undefined
    const pending: Array<Envelope> = []
    if (this.inflight !== undefined) pending.push(this.inflight)
    this.inflight = undefined
    for (let i = this.head; i < this.buffer.length; i++) pending.push(this.buffer[i]!)
    this.buffer = empty
    this.head = 0
    const blocked = this.blocked
    this.blocked = undefined
    if (this.timers !== undefined) {
      for (const timer of this.timers) {
        timer.active = false
        timer.cancel()
      }
      this.timers = undefined
    }
    this.markExited(reason)
    let error: RuntimeError.NoProc | undefined
    const fail = (envelope: Envelope) => {
      if (envelope instanceof CallEnvelope && !envelope.done) {
        error ??= new RuntimeError.NoProc({
          message: `${this.toString()} exited (${Process.formatReason(reason)}) before replying`,
          target: this.toString(),
          reason: Process.formatReason(reason)
        })
        envelope.fail(error)
      }
    }
    for (const envelope of pending) fail(envelope)
    if (blocked !== undefined) {
      for (const entry of blocked) {
        fail(entry.envelope)
        entry.admitted?.()
      }
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts the receive loop on a daemon fiber (after `init` succeeded on the spawning fiber). */
  startLoop(): Effect.Effect<void, never, unknown> {
    // Forked from an interruptible region so the fiber is killable, even when spawned from an uninterruptible
    // one (an acquireRelease acquire); the flag change stays on the spawner's stack, not the actor's.
    return Effect.flatMap(Effect.exit(Effect.interruptible(Effect.forkDaemon(this.main()))), (exit) => {
      if (exit._tag === "Failure") {
        this.finish(Process.killed)
        return Effect.failCause(exit.cause) as Effect.Effect<never>
      }
      const fiber = exit.value
      this.fiber = fiber
      fiber.addObserver(this.onFiberExit)
      if (this.killRequested) this.unsafeKill()
      return Effect.void
    })
  }

  unsafeRequestStop(reason: Process.ExitReason): void {
    if (this.exitReason !== undefined || this.stopReason !== undefined) return
    this.stopReason = reason
    this.wake()
  }

  unsafeKill(): void {
    if (this.exitReason !== undefined) return
    if (this.fiber === undefined) {
      this.killRequested = true
      return
    }
    this.fiber.unsafeInterruptAsFork(interruptedFiberId)
    // A fiber in an uninterruptible region does not end: after a few event-loop turns it is detached.
    if (!this.detaching) {
      this.detaching = true
      setImmediate(checkDetached, this, 0)
    }
  }

  /**
   * Gives up on a fiber that did not end when interrupted: the process is recorded as exited (its name,
   * mailbox, callers and monitors released, its links signalled) and an event names it. The fiber is left
   * to end on its own; it can no longer receive anything.
   */
  detach(): void {
    if (this.exitReason !== undefined) return
    const reason = this.signalReason ?? Process.killed
    this.finish(reason)
    Events.publishDetached(this.fiber, RuntimeEvents.ProcessDetached, {
      pid: this.pid.toString(),
      label: this.label,
      kind: this.kind,
      reason: Process.formatReason(reason),
      state: this.formattedState(),
      why: "its fiber did not end when interrupted (an uninterruptible region); it was detached and may still run"
    })
  }

  unsafeExitSignal(from: Process.Process, reason: Process.ExitReason): void {
    if (this.exitReason !== undefined) return
    if (this.trapExits) {
      // As an OTP gen_server: the parent's exit stops a trapping process in order (terminate runs).
      if (from === this.parent) {
        this.unsafeRequestStop(reason)
        return
      }
      // A supervisor learns of its children's exits through its watchers; other exits do not concern it.
      if (this.kind === "supervisor") return
      this.pushSystem(new SystemMessage(true, Process.exitMessage(from, reason)))
      return
    }
    if (reason._tag === "Normal") return
    this.signalReason = reason
    this.unsafeKill()
  }

  // ---------------------------------------------------------------- timers

  startTimer(clock: Clock.Clock, msg: unknown, delayMillis: number, intervalMillis: number | undefined): TimerHandle {
    const timer = new TimerHandle(this, msg, intervalMillis)
    if (this.closed) {
      timer.active = false
      return timer
    }
    if (this.timers === undefined) this.timers = new Set()
    this.timers.add(timer)
    const fire = (): void => {
      if (!timer.active) return
      this.pushSystem(new SystemMessage(true, msg))
      if (intervalMillis === undefined) {
        timer.active = false
        this.timers?.delete(timer)
      } else if (timer.active) {
        timer.cancel = Timer.schedule(clock, intervalMillis, fire)
      }
    }
    timer.cancel = Timer.schedule(clock, delayMillis, fire)
    return timer
  }

  cancelTimer(timer: TimerHandle): boolean {
    if (!timer.active) return false
    timer.active = false
    timer.cancel()
    this.timers?.delete(timer)
    return true
  }
}
