/**
 * Actors with GenServer semantics: a bounded mailbox, private state, `init` before the first message,
 * synchronous `call` with a timeout, fire-and-forget `cast`, info messages and timers (`sendAfter`,
 * `sendInterval`), and `terminate` on the way out.
 *
 * ```ts
 * const Counter = Actor.make({
 *   name: "counter",
 *   init: (start: number) => Effect.succeed(start),
 *   handleCall: (_: "get", n) => Effect.succeed(Actor.reply(n, n)),
 *   handleCast: (by: number, n) => Effect.succeed(n + by)
 * })
 * const counter = yield* Actor.start(Counter, 0)
 * yield* Actor.cast(counter, 2)
 * yield* Actor.call(counter, "get") // 2
 * ```
 *
 * A handler's failure or defect terminates the actor with reason `Failure(cause)`: pending callers get
 * `NoProc`, exit listeners (supervisor, monitors, registry) are told. `terminate` runs after an orderly stop
 * and after a crash, but not when the actor is killed (as in OTP).
 *
 * The mailbox is bounded (`mailboxCapacity`, default 10,000). When it is full, `mailboxOverflow` decides:
 * `block` (default: the sender waits for room; a call's timeout covers that wait), `fail` (the send fails at
 * once with `MailboxFull`), `dropNewest` / `dropOldest` (a message is dropped, with an event; a dropped call
 * fails its caller with `MailboxFull`). Timer messages and runtime signals are never dropped. A stop request
 * takes effect after the message being handled; messages still queued are dropped and their callers get
 * `NoProc`.
 *
 * Messages are shared by reference unless the actor isolates them (`isolation`: `copy` or `freeze`, or the
 * default set by `layerIsolation`); replies are isolated the same way. A cast or info message the actor has
 * no handler for is dropped with an event (OTP logs it); a call to oneself fails at once with `CalledSelf`.
 * A process spawned from an actor's `init` or handlers is linked to it (see `Process`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/actor.js"
import type * as Isolation_ from "./internal/isolation.js"
import { endRun, type ProcessCore, processOf, runAs } from "./internal/process.js"
import * as Process from "./Process.js"
import * as Registry from "./Registry.js"
import * as RuntimeError from "./RuntimeError.js"

/**
 * A running actor: a `Process` that accepts calls of type `Call` (answered with `Reply`), casts of type
 * `Cast` and info messages of type `Info`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActorRef<in Call, out Reply, in Cast = never, in Info = never> extends Process.Process {
  readonly _Call?: (_: Call) => void
  readonly _Reply?: () => Reply
  readonly _Cast?: (_: Cast) => void
  readonly _Info?: (_: Info) => void
}

/**
 * The caller of a `call`, for replying later after `Actor.noReply` (OTP `from`).
 *
 * @since 0.1.0
 * @category models
 */
export interface From<in Reply> {
  readonly _Reply?: (_: Reply) => void
}

/**
 * What `handleCall` returns: `Actor.reply`, `Actor.noReply` or `Actor.stop` / `Actor.stopReply`.
 *
 * @since 0.1.0
 * @category models
 */
export type CallResult<Reply, S> = internal.Reply<Reply, S> | internal.NoReply<S> | internal.Stop<S, Reply>

/**
 * What `handleCast` / `handleInfo` / `handleContinue` return: the next state, `Actor.continueWith` or
 * `Actor.stop`.
 *
 * @since 0.1.0
 * @category models
 */
export type CastResult<S> = S | internal.Stop<S, never> | internal.Continue<S>

/**
 * What `init` returns: the state, or `Actor.continueWith(state, arg)` to run `handleContinue` before the
 * first message.
 *
 * @since 0.1.0
 * @category models
 */
export type InitResult<S> = S | internal.Continue<S>

/**
 * How an actor isolates the messages it receives and the replies it sends: `none` shares them by reference
 * (the default: nothing is copied), `copy` deep-copies them, `freeze` deep-freezes them in place (the
 * sender's later writes then throw). A value that cannot be isolated (a function, a Deferred, ...) fails the
 * send with `MessageNotIsolatable`.
 *
 * @since 0.1.0
 * @category models
 */
export type Isolation = Isolation_.Mode

/**
 * What a full mailbox does with one more message.
 *
 * @since 0.1.0
 * @category models
 */
export type Overflow = internal.Overflow

/**
 * An actor's behaviour. `init` receives the start argument and builds the state; handlers return the next
 * state. Every handler gets the actor's own ref (`self`) for timers and self-messages.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<Args, S, Call, Reply, Cast, Info, E, R> {
  /** A label for trees, messages and pids (`counter<0.12.0>`). */
  readonly name?: string
  /** Mailbox capacity. Default 10,000. */
  readonly mailboxCapacity?: number
  /** What a full mailbox does: `block` (default), `fail`, `dropNewest` or `dropOldest`. */
  readonly mailboxOverflow?: Overflow
  /** Message and reply isolation; default `none`, or what `layerIsolation` sets. */
  readonly isolation?: Isolation
  /** Trap exits from the start (exit signals arrive in `handleInfo` as `Process.ExitMessage`). */
  readonly trapExit?: boolean
  /** How the state is shown in errors, events and logs (the runtime never prints it raw; default: redacted). */
  readonly formatState?: (state: S) => unknown
  readonly init: (args: Args, self: ActorRef<Call, Reply, Cast, Info>) => Effect.Effect<InitResult<S>, E, R>
  readonly handleCall?: (
    msg: Call,
    state: S,
    self: ActorRef<Call, Reply, Cast, Info>,
    from: From<Reply>
  ) => Effect.Effect<CallResult<Reply, S>, E, R>
  readonly handleCast?: (
    msg: Cast,
    state: S,
    self: ActorRef<Call, Reply, Cast, Info>
  ) => Effect.Effect<CastResult<S>, E, R>
  readonly handleInfo?: (
    msg: Info,
    state: S,
    self: ActorRef<Call, Reply, Cast, Info>
  ) => Effect.Effect<CastResult<S>, E, R>
  /** Runs after `init` or a handler that returned `Actor.continueWith(state, arg)`, before the next message. */
  readonly handleContinue?: (
    arg: never,
    state: S,
    self: ActorRef<Call, Reply, Cast, Info>
  ) => Effect.Effect<CastResult<S>, E, R>
  readonly terminate?: (
    reason: Process.ExitReason,
    state: S,
    self: ActorRef<Call, Reply, Cast, Info>
  ) => Effect.Effect<void, never, R>
}

/**
 * Builds a definition with its types inferred from the handlers (annotate the message parameters).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Args, S, Call = never, Reply = never, Cast = never, Info = never, E = never, R = never>(
  definition: Definition<Args, S, Call, Reply, Cast, Info, E, R>
): Definition<Args, S, Call, Reply, Cast, Info, E, R> => definition

/**
 * Replies `reply` to the caller and continues with `state`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reply = <Reply, S>(reply: Reply, state: S): CallResult<Reply, S> => new internal.Reply(reply, state)

/**
 * Replies `reply`, continues with `state` and runs `handleContinue(arg)` before the next message (OTP
 * `{reply, Reply, State, {continue, Arg}}`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const replyContinue = <Reply, S>(reply: Reply, state: S, arg: unknown): CallResult<Reply, S> =>
  new internal.ReplyContinue(reply, state, new internal.Continue(state, arg))

/**
 * From `init`, `handleCast`, `handleInfo` or `handleContinue`: continues with `state` and runs
 * `handleContinue(arg)` before the next message (OTP `{continue, Arg}`): slow set-up after `init` without
 * holding up the spawner, or work split in steps that no message can come between.
 *
 * @since 0.1.0
 * @category constructors
 */
export const continueWith = <S>(state: S, arg: unknown): internal.Continue<S> => new internal.Continue(state, arg)

/**
 * Continues with `state` without replying yet; reply later with `Actor.replyTo(from, value)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noReply = <S>(state: S): CallResult<never, S> => new internal.NoReply(state)

/**
 * Stops the actor after this message with `reason` (default `Normal`), keeping `state` for `terminate`.
 * From `handleCall`, the caller then gets `NoProc`; use `stopReply` to answer first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stop = <S>(state: S, reason: Process.ExitReason = Process.normal): internal.Stop<S, never> =>
  new internal.Stop<S, never>(reason, state, false, undefined)

/**
 * From `handleCall`: replies, then stops with `reason` (default `Normal`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const stopReply = <Reply, S>(
  reply: Reply,
  state: S,
  reason: Process.ExitReason = Process.normal
): CallResult<Reply, S> => new internal.Stop(reason, state, true, reply)

/**
 * Replies to a caller held since `Actor.noReply`. Returns false when the caller is gone (timed out): the
 * reply is discarded.
 *
 * @since 0.1.0
 * @category combinators
 */
export const replyTo = <Reply>(from: From<Reply>, value: Reply): Effect.Effect<boolean> =>
  Effect.sync(() => {
    const envelope = from as unknown as internal.CallEnvelope
    return envelope.target.replyTo(envelope, value)
  })

/**
 * Options of `spawn` / `start`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpawnOptions {
  /** `worker` (default) or `supervisor` (used by the supervisor modules). */
  readonly kind?: Process.Kind
  /**
   * Link the new actor to the process it is spawned from (the actor whose `init` or handler runs `spawn`;
   * a supervisor for its children). Default true; nothing to link to outside a process.
   */
  readonly link?: boolean
}

/**
 * The default isolation of actors whose definition does not choose one (`layerIsolation` provides it).
 *
 * @since 0.1.0
 * @category services
 */
export class DefaultIsolation extends Context.Tag("@effect-dspy/runtime/Actor/DefaultIsolation")<
  DefaultIsolation,
  Isolation
>() {}

/**
 * Sets the isolation of every actor spawned with this layer in its context that does not choose its own:
 * `Actor.layerIsolation("copy")` in tests catches a sender that changes a message after sending it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerIsolation = (isolation: Isolation): Layer.Layer<DefaultIsolation> =>
  Layer.succeed(DefaultIsolation, isolation)

const spawnWith = <Args, S, Call, Reply, Cast, Info, E, R>(
  definition: Definition<Args, S, Call, Reply, Cast, Info, E, R>,
  args: Args,
  kind: Process.Kind,
  linkTo: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => ProcessCore | undefined
): Effect.Effect<ActorRef<Call, Reply, Cast, Info>, E | RuntimeError.InvalidOptions, R> =>
  Effect.withFiberRuntime(
    (fiber): Effect.Effect<ActorRef<Call, Reply, Cast, Info>, E | RuntimeError.InvalidOptions, R> => {
      const defaultIsolation =
        definition.isolation === undefined
          ? (Context.getOrElse(fiber.currentContext, DefaultIsolation, () => "none" as const) as Isolation)
          : "none"
      const settings = internal.settingsOf(definition, defaultIsolation)
      if (settings instanceof RuntimeError.InvalidOptions) return Effect.fail(settings)
      const core = new internal.ActorCore(definition, settings, kind)
      const self = core as unknown as ActorRef<Call, Reply, Cast, Info>
      const parent = linkTo(fiber)
      // init runs on the spawning fiber (no hand-off before the actor exists), as the new process: what it
      // spawns is linked to it. The loop fiber is forked after.
      const running = runAs(fiber, core)
      return Effect.uninterruptibleMask((restore) =>
        Effect.matchCauseEffect(restore(definition.init(args, self)), {
          onFailure: (cause) => {
            endRun(running)
            core.finish(Cause.isInterruptedOnly(cause) ? Process.killed : Process.failure(cause))
            return Effect.failCause(cause)
          },
          onSuccess: (state) => {
            endRun(running)
            core.initialState(state)
            if (parent !== undefined) {
              core.parent = parent
              // A parent that exited meanwhile signals its exit at once.
              if (!parent.unsafeLink(core) && parent.exitReason !== undefined) {
                core.unsafeExitSignal(parent, parent.exitReason)
              }
            }
            return Effect.as(core.startLoop() as Effect.Effect<void, never, R>, self)
          }
        })
      )
    }
  )

const currentParent = (fiber: Fiber.RuntimeFiber<unknown, unknown>): ProcessCore | undefined => processOf(fiber)
const noParent = (): undefined => undefined

/**
 * Spawns an actor without tying it to a scope (a supervisor owns it, or you stop it). `init` runs before the
 * actor takes any message; when it fails, the spawn fails with its error and the actor exits with
 * `Failure`. Messages sent to `self` during `init` are handled first. Spawned from inside a process (its
 * `init` or a handler), the actor is linked to that process unless `link: false`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = <Args, S, Call, Reply, Cast, Info, E, R>(
  definition: Definition<Args, S, Call, Reply, Cast, Info, E, R>,
  args: Args,
  options?: SpawnOptions
): Effect.Effect<ActorRef<Call, Reply, Cast, Info>, E | RuntimeError.InvalidOptions, R> =>
  spawnWith(definition, args, options?.kind ?? "worker", options?.link === false ? noParent : currentParent)

/**
 * Spawns an actor linked to `to` (OTP `spawn_link`), or to the current process when `to` is not given;
 * outside a process and without `to`, fails with `InvalidOptions`. If `to` has already exited, the new
 * actor gets its exit signal at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawnLink = <Args, S, Call, Reply, Cast, Info, E, R>(
  definition: Definition<Args, S, Call, Reply, Cast, Info, E, R>,
  args: Args,
  options?: { readonly kind?: Process.Kind; readonly to?: Process.Process }
): Effect.Effect<ActorRef<Call, Reply, Cast, Info>, E | RuntimeError.InvalidOptions, R> =>
  Effect.withFiberRuntime((fiber) => {
    const to = options?.to ?? processOf(fiber)
    if (to === undefined) {
      return Effect.fail(
        new RuntimeError.InvalidOptions({
          message: "spawnLink outside a process needs the process to link to: pass { to }",
          option: "to"
        })
      )
    }
    return spawnWith(definition, args, options?.kind ?? "worker", () => to as ProcessCore)
  })

/**
 * Starts an actor tied to the current scope: closing the scope stops it (reason `Shutdown`, 5 second
 * timeout, then it is killed).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <Args, S, Call, Reply, Cast, Info, E, R>(
  definition: Definition<Args, S, Call, Reply, Cast, Info, E, R>,
  args: Args,
  options?: SpawnOptions & { readonly shutdownTimeout?: Process.StopTimeout }
): Effect.Effect<ActorRef<Call, Reply, Cast, Info>, E | RuntimeError.InvalidOptions, R | Scope.Scope> =>
  Effect.acquireRelease(spawn(definition, args, options), (ref) =>
    Process.stop(ref, { timeout: options?.shutdownTimeout ?? 5000 })
  )

/**
 * The target of a message: a ref, or a registered name (looked up in the `Registry` at each send).
 *
 * @since 0.1.0
 * @category models
 */
export type Target<Call, Reply, Cast, Info> =
  | ActorRef<Call, Reply, Cast, Info>
  | Registry.Name<ActorRef<Call, Reply, Cast, Info>>

const DEFAULT_CALL_TIMEOUT = 5000

const toCore = (ref: Process.Process): internal.ActorCore | undefined =>
  ref instanceof internal.ActorCore ? ref : undefined

const noProc = (target: Process.Process | string, why: string): RuntimeError.NoProc =>
  new RuntimeError.NoProc({ message: `${String(target)} ${why}`, target: String(target) })

const calledSelf = (core: internal.ActorCore): RuntimeError.CalledSelf =>
  new RuntimeError.CalledSelf({
    message: `${core.toString()} called itself: it would wait for its own reply for ever; reply from the handler or send yourself a message instead`,
    target: core.toString()
  })

const callRef = (ref: Process.Process, msg: unknown, millis: number): Effect.Effect<unknown, RuntimeError.CallError> =>
  Effect.withFiberRuntime((fiber) => {
    const core = toCore(ref)
    if (core === undefined) return Effect.fail(noProc(ref, "is not an actor: it takes no calls"))
    if (fiber === core.fiber || (core.fiber === undefined && processOf(fiber) === core)) {
      return Effect.fail(calledSelf(core))
    }
    let payload = msg
    if (core.settings.isolation !== "none") {
      const isolated = core.isolate(msg)
      if (isolated instanceof RuntimeError.MessageNotIsolatable) return Effect.fail(isolated)
      payload = isolated.value
    }
    return Effect.clockWith((clock) =>
      Effect.async<unknown, RuntimeError.CallError>((resume) => {
        const envelope = new internal.CallEnvelope(payload, resume, core)
        switch (core.offer(envelope, undefined)) {
          case "closed":
            return resume(Effect.fail(noProc(core, "is not alive (noproc)")))
          case "full":
            return resume(Effect.fail(core.mailboxFull()))
          case "dropped":
            return // the envelope has failed with MailboxFull
        }
        envelope.startTimer(clock, millis)
        // No canceler: an interrupted caller's resumption is ignored by the runtime, and its envelope is
        // dropped when handled or timed out (a canceler would add an interrupt handler to every call).
      })
    )
  })

const resolve = <P extends Process.Process>(
  target: P | Registry.Name<P>
): Effect.Effect<P, RuntimeError.NoProc, Registry.Registry> =>
  Registry.isName(target) ? Registry.lookup(target) : Effect.succeed(target)

const callTimeoutMillis = (timeout: Duration.DurationInput | "infinity" | undefined): number =>
  timeout === undefined
    ? DEFAULT_CALL_TIMEOUT
    : timeout === "infinity"
      ? Number.POSITIVE_INFINITY
      : Duration.toMillis(Duration.decode(timeout))

/**
 * Sends `msg` and waits for the reply (OTP `GenServer.call`). Fails with `CallTimeout` after `timeout`
 * (default 5 seconds; `"infinity"` waits for ever); a reply arriving later is discarded. Fails with `NoProc`
 * when the actor is dead, unknown, or exits before replying; with `CalledSelf` at once when an actor calls
 * itself; with `MailboxFull` or `MessageNotIsolatable` when its mailbox or isolation refuses the message.
 *
 * @since 0.1.0
 * @category messaging
 */
export const call: {
  <Call, Reply, Cast, Info>(
    target: ActorRef<Call, Reply, Cast, Info>,
    msg: Call,
    timeout?: Duration.DurationInput | "infinity"
  ): Effect.Effect<Reply, RuntimeError.CallError>
  <Call, Reply, Cast, Info>(
    target: Registry.Name<ActorRef<Call, Reply, Cast, Info>>,
    msg: Call,
    timeout?: Duration.DurationInput | "infinity"
  ): Effect.Effect<Reply, RuntimeError.CallError, Registry.Registry>
} = (<Call, Reply, Cast, Info>(
  target: Target<Call, Reply, Cast, Info>,
  msg: Call,
  timeout?: Duration.DurationInput | "infinity"
) => {
  const millis = callTimeoutMillis(timeout)
  if (Registry.isName(target)) return Effect.flatMap(resolve(target), (ref) => callRef(ref, msg, millis))
  return callRef(target, msg, millis)
}) as never

const sendMessage = (ref: Process.Process, info: boolean, msg: unknown): Effect.Effect<void, RuntimeError.SendError> =>
  Effect.suspend((): Effect.Effect<void, RuntimeError.SendError> => {
    const core = toCore(ref)
    if (core === undefined || core.closed) return Effect.void
    let payload = msg
    if (core.settings.isolation !== "none") {
      const isolated = core.isolate(msg)
      if (isolated instanceof RuntimeError.MessageNotIsolatable) return Effect.fail(isolated)
      payload = isolated.value
    }
    const message = new internal.Message(info, payload)
    if (core.hasRoom()) {
      core.offer(message, undefined)
      return Effect.void
    }
    if (core.settings.overflow !== "block") {
      return core.offer(message, undefined) === "full" ? Effect.fail(core.mailboxFull()) : Effect.void
    }
    // The mailbox is full: wait for room (or for the actor to exit, which drops the message).
    return Effect.async<void>((resume) => {
      if (core.offer(message, () => resume(Effect.void)) !== "blocked") resume(Effect.void)
    })
  })

/**
 * Sends `msg` to `handleCast` (OTP `GenServer.cast`). Succeeds even when nobody is there. When the mailbox
 * is full it waits for room (`block`), fails with `MailboxFull` (`fail`), or succeeds while a message is
 * dropped (`dropNewest` / `dropOldest`), by the actor's `mailboxOverflow`. Fails with
 * `MessageNotIsolatable` when the actor isolates messages and `msg` cannot be.
 *
 * @since 0.1.0
 * @category messaging
 */
export const cast: {
  <Call, Reply, Cast, Info>(
    target: ActorRef<Call, Reply, Cast, Info>,
    msg: Cast
  ): Effect.Effect<void, RuntimeError.SendError>
  <Call, Reply, Cast, Info>(
    target: Registry.Name<ActorRef<Call, Reply, Cast, Info>>,
    msg: Cast
  ): Effect.Effect<void, RuntimeError.SendError, Registry.Registry>
} = (<Call, Reply, Cast, Info>(target: Target<Call, Reply, Cast, Info>, msg: Cast) =>
  Registry.isName(target)
    ? Effect.flatMap(Effect.option(resolve(target)), (ref) =>
        ref._tag === "Some" ? sendMessage(ref.value, false, msg) : Effect.void
      )
    : sendMessage(target, false, msg)) as never

/**
 * Sends an info message to `handleInfo` (OTP `send/2`). Succeeds even when nobody is there; a full mailbox
 * and isolation behave as for `cast`.
 *
 * @since 0.1.0
 * @category messaging
 */
export const send: {
  <Call, Reply, Cast, Info>(
    target: ActorRef<Call, Reply, Cast, Info>,
    msg: Info
  ): Effect.Effect<void, RuntimeError.SendError>
  <Call, Reply, Cast, Info>(
    target: Registry.Name<ActorRef<Call, Reply, Cast, Info>>,
    msg: Info
  ): Effect.Effect<void, RuntimeError.SendError, Registry.Registry>
} = (<Call, Reply, Cast, Info>(target: Target<Call, Reply, Cast, Info>, msg: Info) =>
  Registry.isName(target)
    ? Effect.flatMap(Effect.option(resolve(target)), (ref) =>
        ref._tag === "Some" ? sendMessage(ref.value, true, msg) : Effect.void
      )
    : sendMessage(target, true, msg)) as never

/**
 * A timer started by `sendAfter` / `sendInterval`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TimerRef {
  readonly _TimerRef: unique symbol
}

const startTimer = (
  ref: Process.Process,
  msg: unknown,
  delay: Duration.DurationInput,
  interval: Duration.DurationInput | undefined
): Effect.Effect<TimerRef> =>
  Effect.clockWith((clock) =>
    Effect.sync(() => {
      const core = toCore(ref)
      const delayMillis = Duration.toMillis(Duration.decode(delay))
      const intervalMillis = interval === undefined ? undefined : Duration.toMillis(Duration.decode(interval))
      if (core === undefined) return new internal.TimerHandle(undefined as never, msg, undefined) as unknown as TimerRef
      return core.startTimer(clock, msg, delayMillis, intervalMillis) as unknown as TimerRef
    })
  )

/**
 * Delivers `msg` to the actor's `handleInfo` after `delay`, read through Effect's `Clock` (OTP
 * `Process.send_after`). The timer dies with the actor.
 *
 * @since 0.1.0
 * @category timers
 */
export const sendAfter = <Call, Reply, Cast, Info>(
  ref: ActorRef<Call, Reply, Cast, Info>,
  msg: Info,
  delay: Duration.DurationInput
): Effect.Effect<TimerRef> => startTimer(ref, msg, delay, undefined)

/**
 * Delivers `msg` to `handleInfo` every `interval` (first after one interval) until cancelled or the actor
 * exits (OTP `:timer.send_interval`).
 *
 * @since 0.1.0
 * @category timers
 */
export const sendInterval = <Call, Reply, Cast, Info>(
  ref: ActorRef<Call, Reply, Cast, Info>,
  msg: Info,
  interval: Duration.DurationInput
): Effect.Effect<TimerRef> => startTimer(ref, msg, interval, interval)

/**
 * Cancels a timer; true if it was still pending.
 *
 * @since 0.1.0
 * @category timers
 */
export const cancelTimer = (timer: TimerRef): Effect.Effect<boolean> =>
  Effect.sync(() => {
    const handle = timer as unknown as internal.TimerHandle
    if (handle.actor === undefined) return false
    return handle.actor.cancelTimer(handle)
  })

/**
 * The number of messages waiting in the actor's mailbox (0 once it has exited).
 *
 * @since 0.1.0
 * @category getters
 */
export const mailboxSize = (ref: Process.Process): Effect.Effect<number> =>
  Effect.sync(() => toCore(ref)?.mailboxSize ?? 0)

const sysCall = (ref: Process.Process, request: internal.SysRequest): Effect.Effect<unknown, RuntimeError.NoProc> =>
  Effect.async<unknown, RuntimeError.NoProc>((resume) => {
    const core = toCore(ref)
    if (core === undefined) return resume(Effect.fail(noProc(ref, "is not an actor: it has no state")))
    const envelope = new internal.CallEnvelope(request, resume as never, core)
    if (core.pushSystem(envelope) === false) resume(Effect.fail(noProc(core, "is not alive (noproc)")))
  })

/**
 * The actor's state, read in mailbox order (OTP `sys:get_state`), for debugging. Isolated like a reply.
 * Fails with `NoProc` when the actor is not alive.
 *
 * @since 0.1.0
 * @category debugging
 */
export const getState = (ref: Process.Process): Effect.Effect<unknown, RuntimeError.NoProc> =>
  sysCall(ref, new internal.SysRequest(undefined))

/**
 * Replaces the actor's state with `f(state)` in mailbox order and returns the new state (OTP
 * `sys:replace_state`), for debugging. A throwing `f` leaves the state as it was and fails with its defect.
 *
 * @since 0.1.0
 * @category debugging
 */
export const replaceState = (
  ref: Process.Process,
  f: (state: unknown) => unknown
): Effect.Effect<unknown, RuntimeError.NoProc> => sysCall(ref, new internal.SysRequest(f))

/**
 * The actor's state as its `formatState` shows it (redacted without one): what errors, events and logs
 * print.
 *
 * @since 0.1.0
 * @category debugging
 */
export const formatState = (ref: Process.Process): Effect.Effect<unknown> =>
  Effect.sync(() => {
    const core = toCore(ref)
    return core === undefined ? internal.redactedState : core.formattedState()
  })

/**
 * True for actor refs.
 *
 * @since 0.1.0
 * @category guards
 */
export const isActorRef = (u: unknown): u is ActorRef<unknown, unknown, unknown, unknown> =>
  u instanceof internal.ActorCore
