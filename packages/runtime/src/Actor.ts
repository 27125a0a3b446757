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
 * The mailbox is bounded (`mailboxCapacity`, default 10,000): `call` / `cast` / `send` wait for room when it
 * is full (a call's timeout covers that wait); timer messages and supervisor signals are never dropped.
 * A stop request takes effect after the message being handled; messages still queued are dropped and their
 * callers get `NoProc`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/actor.js"
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
 * What `handleCast` / `handleInfo` return: the next state, or `Actor.stop`.
 *
 * @since 0.1.0
 * @category models
 */
export type CastResult<S> = S | internal.Stop<S, never>

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
  /** Mailbox capacity; senders wait for room past it. Default 10,000. */
  readonly mailboxCapacity?: number
  readonly init: (args: Args, self: ActorRef<Call, Reply, Cast, Info>) => Effect.Effect<S, E, R>
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
  Effect.sync(() => (from as unknown as internal.CallEnvelope).reply(value))

/**
 * Options of `spawn` / `start`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpawnOptions {
  /** `worker` (default) or `supervisor` (used by the supervisor modules). */
  readonly kind?: Process.Kind
}

/**
 * Spawns an actor without tying it to a scope (a supervisor owns it, or you stop it). `init` runs before the
 * actor takes any message; when it fails, the spawn fails with its error and the actor exits with
 * `Failure`. Messages sent to `self` during `init` are handled first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = <Args, S, Call, Reply, Cast, Info, E, R>(
  definition: Definition<Args, S, Call, Reply, Cast, Info, E, R>,
  args: Args,
  options?: SpawnOptions
): Effect.Effect<ActorRef<Call, Reply, Cast, Info>, E | RuntimeError.InvalidOptions, R> =>
  Effect.suspend((): Effect.Effect<ActorRef<Call, Reply, Cast, Info>, E | RuntimeError.InvalidOptions, R> => {
    const capacity = definition.mailboxCapacity ?? 10_000
    if (!Number.isInteger(capacity) || capacity < 1) {
      return Effect.fail(
        new RuntimeError.InvalidOptions({
          message: `mailboxCapacity must be a positive integer, got ${capacity}`,
          option: "mailboxCapacity"
        })
      )
    }
    const core = new internal.ActorCore(definition, capacity, options?.kind ?? "worker")
    const self = core as unknown as ActorRef<Call, Reply, Cast, Info>
    // init runs on the spawning fiber (no hand-off before the actor exists); the loop fiber is forked after.
    return Effect.uninterruptibleMask((restore) =>
      Effect.matchCauseEffect(restore(definition.init(args, self)), {
        onFailure: (cause) => {
          core.finish(Cause.isInterruptedOnly(cause) ? Process.killed : Process.failure(cause))
          return Effect.failCause(cause)
        },
        onSuccess: (state) => {
          core.state = state
          return Effect.as(core.startLoop() as Effect.Effect<void, never, R>, self)
        }
      })
    )
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

const callRef = (
  ref: Process.Process,
  msg: unknown,
  millis: number
): Effect.Effect<unknown, RuntimeError.CallTimeout | RuntimeError.NoProc> =>
  Effect.clockWith((clock) =>
    Effect.async<unknown, RuntimeError.CallTimeout | RuntimeError.NoProc>((resume) => {
      const core = toCore(ref)
      if (core === undefined) {
        resume(Effect.fail(noProc(ref, "is not an actor: it takes no calls")))
        return
      }
      const envelope = new internal.CallEnvelope(msg, resume, core)
      if (core.offer(envelope, undefined) === "closed") {
        resume(Effect.fail(noProc(core, "is not alive (noproc)")))
        return
      }
      envelope.startTimer(clock, millis)
      // No canceler: an interrupted caller's resumption is ignored by the runtime, and its envelope is
      // dropped when handled or timed out (a canceler would add an interrupt handler to every call).
    })
  )

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
 * when the actor is dead, unknown, or exits before replying.
 *
 * @since 0.1.0
 * @category messaging
 */
export const call: {
  <Call, Reply, Cast, Info>(
    target: ActorRef<Call, Reply, Cast, Info>,
    msg: Call,
    timeout?: Duration.DurationInput | "infinity"
  ): Effect.Effect<Reply, RuntimeError.CallTimeout | RuntimeError.NoProc>
  <Call, Reply, Cast, Info>(
    target: Registry.Name<ActorRef<Call, Reply, Cast, Info>>,
    msg: Call,
    timeout?: Duration.DurationInput | "infinity"
  ): Effect.Effect<Reply, RuntimeError.CallTimeout | RuntimeError.NoProc, Registry.Registry>
} = (<Call, Reply, Cast, Info>(
  target: Target<Call, Reply, Cast, Info>,
  msg: Call,
  timeout?: Duration.DurationInput | "infinity"
) => {
  const millis = callTimeoutMillis(timeout)
  if (Registry.isName(target)) return Effect.flatMap(resolve(target), (ref) => callRef(ref, msg, millis))
  return callRef(target, msg, millis)
}) as never

const sendMessage = (ref: Process.Process, info: boolean, msg: unknown): Effect.Effect<void> =>
  Effect.suspend(() => {
    const core = toCore(ref)
    if (core === undefined || core.closed) return Effect.void
    const message = new internal.Message(info, msg)
    if (core.hasRoom()) {
      core.offer(message, undefined)
      return Effect.void
    }
    // The mailbox is full: wait for room (or for the actor to exit, which drops the message).
    return Effect.async<void>((resume) => {
      if (core.offer(message, () => resume(Effect.void)) !== "blocked") resume(Effect.void)
    })
  })

/**
 * Sends `msg` to `handleCast` (OTP `GenServer.cast`). Always succeeds, even when nobody is there; waits for
 * room when the mailbox is full.
 *
 * @since 0.1.0
 * @category messaging
 */
export const cast: {
  <Call, Reply, Cast, Info>(target: ActorRef<Call, Reply, Cast, Info>, msg: Cast): Effect.Effect<void>
  <Call, Reply, Cast, Info>(
    target: Registry.Name<ActorRef<Call, Reply, Cast, Info>>,
    msg: Cast
  ): Effect.Effect<void, never, Registry.Registry>
} = (<Call, Reply, Cast, Info>(target: Target<Call, Reply, Cast, Info>, msg: Cast) =>
  Registry.isName(target)
    ? Effect.flatMap(Effect.option(resolve(target)), (ref) =>
        ref._tag === "Some" ? sendMessage(ref.value, false, msg) : Effect.void
      )
    : sendMessage(target, false, msg)) as never

/**
 * Sends an info message to `handleInfo` (OTP `send/2`). Always succeeds, like `cast`.
 *
 * @since 0.1.0
 * @category messaging
 */
export const send: {
  <Call, Reply, Cast, Info>(target: ActorRef<Call, Reply, Cast, Info>, msg: Info): Effect.Effect<void>
  <Call, Reply, Cast, Info>(
    target: Registry.Name<ActorRef<Call, Reply, Cast, Info>>,
    msg: Info
  ): Effect.Effect<void, never, Registry.Registry>
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

/**
 * True for actor refs.
 *
 * @since 0.1.0
 * @category guards
 */
export const isActorRef = (u: unknown): u is ActorRef<unknown, unknown, unknown, unknown> =>
  u instanceof internal.ActorCore
