/**
 * Publishing the runtime's events: to foundation's `Events` when the context has it, to the log otherwise.
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

/**
 * Publishes the event, or logs it (at `level`) when no `Events` service is in the context. Never fails.
 *
 * @internal
 */
export const publish = <A extends { readonly [key: string]: unknown }, I extends Events.Data>(
  definition: Events.Definition<string, A, I>,
  data: NoInfer<A>,
  level: "Warning" | "Debug" = "Warning"
): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Events.Events), (events) =>
    Option.isSome(events)
      ? Effect.asVoid(Events.publishOrLog(definition, data, { events }))
      : (level === "Debug" ? Effect.logDebug(definition.type) : Effect.logWarning(definition.type)).pipe(
          Effect.annotateLogs(data)
        )
  )

/**
 * Publishes from outside any fiber (a timer, a mailbox, a fiber observer), with the services of `fiber` (the
 * process's own). A debug-level fallback that the fiber's log level would not print costs nothing.
 *
 * @internal
 */
export const publishDetached = <A extends { readonly [key: string]: unknown }, I extends Events.Data>(
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined,
  definition: Events.Definition<string, A, I>,
  data: NoInfer<A>,
  level: "Warning" | "Debug" = "Warning"
): void => {
  if (fiber === undefined) {
    Effect.runFork(publish(definition, data, level))
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
  Effect.runFork(Effect.provide(publish(definition, data, level), context))
}
