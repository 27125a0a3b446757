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
import type * as Actor from "../Actor.js"
import * as Process from "../Process.js"
import * as RuntimeError from "../RuntimeError.js"
import { ProcessCore } from "./process.js"
import * as Timer from "./timer.js"

/** What `handleCall` returns: reply now and continue. @internal */
export class Reply<R, S> {
  constructor(
    readonly reply: R,
    readonly state: S
  ) {}
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
    readonly resume: Resume<unknown, RuntimeError.CallTimeout | RuntimeError.NoProc>,
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

  fail(error: RuntimeError.CallTimeout | RuntimeError.NoProc): void {
    if (this.done) return
    this.done = true
    this.stopTimer()
    this.resume(Effect.fail(error))
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
type AnyDefinition = Actor.Definition<any, any, any, any, any, any, any, any>

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
  closed = false
  private killRequested = false
  private buffer: Array<Envelope | undefined> = empty
  private head = 0
  private waiter: Resume<ActorCore, never> | undefined = undefined
  private blocked: Array<Blocked> | undefined = undefined
  private inflight: CallEnvelope | undefined = undefined
  private timers: Set<TimerHandle> | undefined = undefined

  constructor(
    readonly definition: AnyDefinition,
    readonly capacity: number,
    kind: Process.Kind
  ) {
    super()
    this.kind = kind
    this.label = definition.name ?? "actor"
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
  offer(envelope: Envelope, admitted: (() => void) | undefined): "ok" | "blocked" | "closed" {
    if (this.closed) return "closed"
    if (this.buffer.length - this.head < this.capacity) {
      this.push(envelope)
      this.wake()
      return "ok"
    }
    if (this.blocked === undefined) this.blocked = []
    this.blocked.push({ envelope, admitted })
    return "blocked"
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
    const envelope = this.poll()
    if (envelope === undefined) return this.waitMessage()
    const definition = this.definition
    if (envelope instanceof CallEnvelope) {
      if (definition.handleCall === undefined) {
        return Effect.dieMessage(`${this.toString()} received a call but its definition has no handleCall`)
      }
      this.inflight = envelope
      return Effect.map(
        definition.handleCall(envelope.msg, this.state, this, envelope as Actor.From<unknown>),
        (result: unknown) => {
          this.inflight = undefined
          if (result instanceof Reply) {
            this.state = result.state
            envelope.reply(result.reply)
          } else if (result instanceof NoReply) {
            this.state = result.state
          } else if (result instanceof Stop) {
            this.state = result.state
            this.stopReason = result.reason
            if (result.hasReply) envelope.reply(result.reply)
          } else {
            throw new Error(
              `${this.toString()}: handleCall must return Actor.reply, Actor.noReply or Actor.stop, got ${String(result)}`
            )
          }
          return this
        }
      )
    }
    const handler = envelope.info ? definition.handleInfo : definition.handleCast
    if (handler === undefined) {
      return Effect.dieMessage(
        `${this.toString()} received ${envelope.info ? "an info message" : "a cast"} but its definition has no ${
          envelope.info ? "handleInfo" : "handleCast"
        }`
      )
    }
    return Effect.map(handler(envelope.msg, this.state, this), (result: unknown) => {
      if (result instanceof Stop) {
        this.state = result.state
        this.stopReason = result.reason
      } else {
        this.state = result
      }
      return this
    })
  }

  /** The body of the actor's fiber: the receive loop, then `terminate`. */
  main(): Effect.Effect<void, unknown, unknown> {
    const loop = Effect.suspend(() => receiveLoop(this))
    const terminate = this.definition.terminate
    if (terminate === undefined) return loop
    return Effect.matchCauseEffect(loop, {
      onFailure: (cause) =>
        Effect.zipRight(terminate(Process.failure(cause), this.state, this), Effect.failCause(cause)),
      onSuccess: () => terminate(this.stopReason ?? Process.normal, this.state, this)
    })
  }

  /** Called once with the fiber's exit (a fiber observer, so it runs even if killed before it started). */
  readonly onFiberExit = (exit: Exit.Exit<void, unknown>): void => {
    let reason: Process.ExitReason
    if (exit._tag === "Success") reason = this.stopReason ?? Process.normal
    else if (Cause.isInterruptedOnly(exit.cause)) reason = Process.killed
    else reason = Process.failure(exit.cause)
    this.finish(reason)
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
      if (this.killRequested) fiber.unsafeInterruptAsFork(interruptedFiberId)
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
      this.pushSystem(new Message(true, msg))
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
