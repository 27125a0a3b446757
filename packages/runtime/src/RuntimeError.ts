/**
 * The typed errors of the runtime. Each is a `Schema.TaggedError` with a `message` saying what happened and
 * what to do, a stable `code` (the OTP atom where there is one) and `retryable`. The shape matches the error
 * family of `@effect-dspy/foundation`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const fields = {
  message: Schema.String,
  correlationId: Schema.optional(Schema.String),
  context: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}

/**
 * The target process is dead, was never started, or its name is not registered (OTP `noproc`). Also
 * reported to a caller whose server exits before replying; `reason` then names the exit reason.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoProc extends Schema.TaggedError<NoProc>("@effect-dspy/runtime/NoProc")("NoProc", {
  ...fields,
  target: Schema.String,
  reason: Schema.optional(Schema.String)
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "noproc"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * A `call` got no reply within its timeout (OTP exits the caller with `timeout`). A reply that arrives later
 * is discarded.
 *
 * @since 0.1.0
 * @category errors
 */
export class CallTimeout extends Schema.TaggedError<CallTimeout>("@effect-dspy/runtime/CallTimeout")("CallTimeout", {
  ...fields,
  target: Schema.String,
  timeoutMillis: Schema.Number
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "timeout"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * The name is held by a live process (OTP `{already_registered, Pid}`); `holder` is that process's pid.
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadyRegistered extends Schema.TaggedError<AlreadyRegistered>("@effect-dspy/runtime/AlreadyRegistered")(
  "AlreadyRegistered",
  {
    ...fields,
    name: Schema.String,
    namespace: Schema.String,
    holder: Schema.String
  }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "already_registered"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * A dynamic supervisor already runs `maxChildren` children (OTP `{error, max_children}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxChildren extends Schema.TaggedError<MaxChildren>("@effect-dspy/runtime/MaxChildren")("MaxChildren", {
  ...fields,
  maxChildren: Schema.Number
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "max_children"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * A child of a supervisor failed to start; the supervisor's own start fails with it. `cause` holds the
 * child's failure (the `Cause` of its start effect).
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildStartFailed extends Schema.TaggedError<ChildStartFailed>("@effect-dspy/runtime/ChildStartFailed")(
  "ChildStartFailed",
  { ...fields, childId: Schema.String, cause: Schema.Unknown }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "shutdown"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * No child with that id (or pid) under the supervisor (OTP `{error, not_found}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildNotFound extends Schema.TaggedError<ChildNotFound>("@effect-dspy/runtime/ChildNotFound")(
  "ChildNotFound",
  { ...fields, childId: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "not_found"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * `restartChild` on a child that is running, or `startChild` with an id already in use (OTP `running` /
 * `already_present`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildRunning extends Schema.TaggedError<ChildRunning>("@effect-dspy/runtime/ChildRunning")(
  "ChildRunning",
  { ...fields, childId: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "running"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * Bad options given to a runtime constructor (a negative intensity, a zero mailbox, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>("@effect-dspy/runtime/InvalidOptions")(
  "InvalidOptions",
  { ...fields, option: Schema.String }
) {
  /** @since 0.1.0 */
  get code(): string {
    return "badarg"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * An actor called itself (from a handler or from its `init`): it would wait for its own reply for ever
 * (OTP exits with `calling_self`). Reply from the handler instead, or send yourself a message.
 *
 * @since 0.1.0
 * @category errors
 */
export class CalledSelf extends Schema.TaggedError<CalledSelf>("@effect-dspy/runtime/CalledSelf")("CalledSelf", {
  ...fields,
  target: Schema.String
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "calling_self"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

/**
 * The target's mailbox was full and its overflow policy refused the message: `fail` (the send fails at
 * once), or `dropNewest` / `dropOldest` when the dropped message was a call (its caller gets this error).
 *
 * @since 0.1.0
 * @category errors
 */
export class MailboxFull extends Schema.TaggedError<MailboxFull>("@effect-dspy/runtime/MailboxFull")("MailboxFull", {
  ...fields,
  target: Schema.String,
  capacity: Schema.Number,
  policy: Schema.String
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "mailbox_full"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return true
  }
}

/**
 * A message (or a reply) sent to an actor that isolates its messages holds a part that cannot be copied or
 * frozen: a function, a promise, a Deferred, a Ref, a Fiber... `path` says where (`$.items[2].onDone`). Send
 * data, or an actor ref to talk back.
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageNotIsolatable extends Schema.TaggedError<MessageNotIsolatable>(
  "@effect-dspy/runtime/MessageNotIsolatable"
)("MessageNotIsolatable", {
  ...fields,
  target: Schema.String,
  path: Schema.String,
  isolation: Schema.String
}) {
  /** @since 0.1.0 */
  get code(): string {
    return "not_isolatable"
  }
  /** @since 0.1.0 */
  get retryable(): boolean {
    return false
  }
}

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
