/**
 * The events the runtime publishes, one typed definition each (see `Events.define` in
 * `@effect-dspy/foundation`). They go to the `Events` service when the context has it, and to the log
 * otherwise. Query them with `Events.queryOf(RuntimeEvents.ProcessDetached)`.
 *
 * @since 0.1.0
 */
import { Events } from "@effect-dspy/foundation"
import * as Schema from "effect/Schema"

/**
 * A killed process's fiber did not end (it was in an uninterruptible region) and was detached: the process
 * is recorded as exited, its name, mailbox, monitors and links released; the fiber may still run. `state`
 * is what the actor's `formatState` shows.
 *
 * @since 0.1.0
 * @category events
 */
export const ProcessDetached = Events.define(
  "runtime_process_detached",
  Schema.Struct({
    pid: Schema.String,
    label: Schema.String,
    kind: Schema.String,
    reason: Schema.String,
    state: Schema.Unknown,
    why: Schema.String
  })
)

/**
 * A cast or info message reached an actor without the handler for it and was dropped (OTP logs it).
 * `message` is the message's `_tag` (or its type), never its content.
 *
 * @since 0.1.0
 * @category events
 */
export const UnexpectedMessage = Events.define(
  "runtime_message_unexpected",
  Schema.Struct({
    pid: Schema.String,
    label: Schema.String,
    kind: Schema.Literal("cast", "info"),
    message: Schema.String,
    fix: Schema.String
  })
)

/**
 * A full mailbox dropped a message (overflow `dropNewest` or `dropOldest`); a dropped call failed its caller
 * with `MailboxFull`.
 *
 * @since 0.1.0
 * @category events
 */
export const MailboxDropped = Events.define(
  "runtime_mailbox_dropped",
  Schema.Struct({
    pid: Schema.String,
    label: Schema.String,
    policy: Schema.String,
    capacity: Schema.Number,
    kind: Schema.Literal("call", "cast", "info"),
    message: Schema.String
  })
)

/**
 * An actor crashed (OTP's crash report): its reason and its state as `formatState` shows it (redacted
 * without one). Logged at debug level when there is no `Events` service.
 *
 * @since 0.1.0
 * @category events
 */
export const ActorCrashed = Events.define(
  "runtime_actor_crashed",
  Schema.Struct({ pid: Schema.String, label: Schema.String, reason: Schema.String, state: Schema.Unknown })
)
