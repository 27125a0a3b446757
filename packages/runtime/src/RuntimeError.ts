/**
 * The typed errors of the runtime: members of `@effect-dspy/foundation`'s error family (`Errors.TaggedError`,
 * so `Errors.isDSPyError` recognises them), each with a `message` saying what happened and what to do, a
 * stable `code` (the OTP atom where there is one) and `retryable`; `isRuntimeError` tells them apart.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * The target process is dead, was never started, or its name is not registered (OTP `noproc`). Also
 * reported to a caller whose server exits before replying; `reason` then names the exit reason.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoProc extends Errors.TaggedError<NoProc>("@effect-dspy/runtime/NoProc")(
  "NoProc",
  { target: Schema.String, reason: Schema.optional(Schema.String) },
  { code: "noproc", retryable: true }
) {}

/**
 * A `call` got no reply within its timeout (OTP exits the caller with `timeout`). A reply that arrives later
 * is discarded.
 *
 * @since 0.1.0
 * @category errors
 */
export class CallTimeout extends Errors.TaggedError<CallTimeout>("@effect-dspy/runtime/CallTimeout")(
  "CallTimeout",
  { target: Schema.String, timeoutMillis: Schema.Number },
  { code: "timeout", retryable: true }
) {}

/**
 * The name is held by a live process (OTP `{already_registered, Pid}`); `holder` is that process's pid.
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadyRegistered extends Errors.TaggedError<AlreadyRegistered>("@effect-dspy/runtime/AlreadyRegistered")(
  "AlreadyRegistered",
  { name: Schema.String, namespace: Schema.String, holder: Schema.String },
  { code: "already_registered", retryable: false }
) {}

/**
 * A dynamic supervisor already runs `maxChildren` children (OTP `{error, max_children}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxChildren extends Errors.TaggedError<MaxChildren>("@effect-dspy/runtime/MaxChildren")(
  "MaxChildren",
  { maxChildren: Schema.Number },
  { code: "max_children", retryable: true }
) {}

/**
 * A child of a supervisor failed to start; the supervisor's own start fails with it. `cause` holds the
 * child's failure (the `Cause` of its start effect).
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildStartFailed extends Errors.TaggedError<ChildStartFailed>("@effect-dspy/runtime/ChildStartFailed")(
  "ChildStartFailed",
  { childId: Schema.String, cause: Schema.Unknown },
  { code: "shutdown", retryable: false }
) {}

/**
 * No child with that id (or pid) under the supervisor (OTP `{error, not_found}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildNotFound extends Errors.TaggedError<ChildNotFound>("@effect-dspy/runtime/ChildNotFound")(
  "ChildNotFound",
  { childId: Schema.String },
  { code: "not_found", retryable: false }
) {}

/**
 * `restartChild` on a child that is running, or `startChild` with an id already in use (OTP `running` /
 * `already_present`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildRunning extends Errors.TaggedError<ChildRunning>("@effect-dspy/runtime/ChildRunning")(
  "ChildRunning",
  { childId: Schema.String },
  { code: "running", retryable: false }
) {}

/**
 * Bad options given to a runtime constructor (a negative intensity, a zero mailbox, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Errors.TaggedError<InvalidOptions>("@effect-dspy/runtime/InvalidOptions")(
  "InvalidOptions",
  { option: Schema.String },
  { code: "badarg", retryable: false }
) {}

/**
 * An actor called itself (from a handler or from its `init`): it would wait for its own reply for ever
 * (OTP exits with `calling_self`). Reply from the handler instead, or send yourself a message.
 *
 * @since 0.1.0
 * @category errors
 */
export class CalledSelf extends Errors.TaggedError<CalledSelf>("@effect-dspy/runtime/CalledSelf")(
  "CalledSelf",
  { target: Schema.String },
  { code: "calling_self", retryable: false }
) {}

/**
 * The target's mailbox was full and its overflow policy refused the message: `fail` (the send fails at
 * once), or `dropNewest` / `dropOldest` when the dropped message was a call (its caller gets this error).
 *
 * @since 0.1.0
 * @category errors
 */
export class MailboxFull extends Errors.TaggedError<MailboxFull>("@effect-dspy/runtime/MailboxFull")(
  "MailboxFull",
  { target: Schema.String, capacity: Schema.Number, policy: Schema.String },
  { code: "mailbox_full", retryable: true }
) {}

/**
 * A message (or a reply) sent to an actor that isolates its messages holds a part that cannot be copied or
 * frozen: a function, a promise, a Deferred, a Ref, a Fiber... `path` says where (`$.items[2].onDone`). Send
 * data, or an actor ref to talk back.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageNotIsolatable extends Errors.TaggedError<MessageNotIsolatable>(
  "@effect-dspy/runtime/MessageNotIsolatable"
)(
  "MessageNotIsolatable",
  { target: Schema.String, path: Schema.String, isolation: Schema.String },
  { code: "not_isolatable", retryable: false }
) {}

/**
 * What a send (`cast`, `send`) can fail with: the target's overflow policy or isolation refused it.
 *
 * @since 0.1.0
 * @category models
 */
export type SendError = MailboxFull | MessageNotIsolatable

/**
 * What a `call` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type CallError = CallTimeout | NoProc | CalledSelf | MailboxFull | MessageNotIsolatable

/**
 * Every error of the runtime.
 *
 * @since 0.1.0
 * @category models
 */
export type RuntimeError =
  | NoProc
  | CallTimeout
  | AlreadyRegistered
  | MaxChildren
  | ChildStartFailed
  | ChildNotFound
  | ChildRunning
  | InvalidOptions
  | CalledSelf
  | MailboxFull
  | MessageNotIsolatable

const tags: ReadonlySet<string> = new Set([
  "NoProc",
  "CallTimeout",
  "AlreadyRegistered",
  "MaxChildren",
  "ChildStartFailed",
  "ChildNotFound",
  "ChildRunning",
  "InvalidOptions",
  "CalledSelf",
  "MailboxFull",
  "MessageNotIsolatable"
])

/**
 * True for the runtime's errors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRuntimeError = (u: unknown): u is RuntimeError => Errors.isDSPyError(u) && tags.has(u._tag)
