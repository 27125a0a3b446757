/**
 * The runtime's events: published to foundation's `Events` when the context has it, logged otherwise.
 *
 * @internal
 */
import { Events } from "@effect-dspy/foundation"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"

/** A stuck process was detached after its stop or kill could not interrupt it. @internal */
export const processDetached = "runtime.process.detached"
/** A cast or info message reached an actor without the handler for it and was dropped. @internal */
export const unexpectedMessage = "runtime.message.unexpected"
/** A full mailbox dropped a message (policy `dropNewest` / `dropOldest`). @internal */
export const mailboxDropped = "runtime.mailbox.dropped"
/** An actor crashed; its state is shown through `formatState` only. @internal */
export const actorCrashed = "runtime.actor.crashed"

/**
 * Publishes the event, or logs it (at `level`) when no `Events` service is in the context. Never fails.
 *
 * @internal
 */
export const publish = (
  type: string,
  data: { readonly [key: string]: unknown },
  level: "Warning" | "Debug" = "Warning"
): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Events.Events), (events) =>
    Option.isSome(events)
      ? Effect.catchAll(Effect.asVoid(events.value.publish({ type, data })), (error) =>
          Effect.logWarning(`${type} (could not be published: ${error.message})`).pipe(Effect.annotateLogs(data))
        )
      : (level === "Debug" ? Effect.logDebug(type) : Effect.logWarning(type)).pipe(Effect.annotateLogs(data))
  )

/**
 * Publishes from outside any fiber (a timer, a mailbox, a fiber observer), with the services of `fiber` (the
 * process's own). A debug-level fallback that the fiber's log level would not print costs nothing.
 *
 * @internal
 */
export const publishDetached = (
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined,
  type: string,
  data: { readonly [key: string]: unknown },
  level: "Warning" | "Debug" = "Warning"
): void => {
  if (fiber === undefined) {
    Effect.runFork(publish(type, data, level))
    return
  }
  const context = fiber.currentContext
  if (
    level === "Debug" &&
    Option.isNone(Context.getOption(context, Events.Events)) &&
    LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Debug)
  ) {
    return
  }
  Effect.runFork(Effect.provide(publish(type, data, level), context))
}
