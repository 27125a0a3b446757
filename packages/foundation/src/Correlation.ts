/**
 * Correlation ids: one id per request, carried by a fiber reference so that every nested effect, event and
 * span of that request shares it without passing it by hand.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as FiberLocal from "./FiberLocal.js"

let counter = 0

/**
 * A fresh correlation id: `prefix_<time base36><counter base36><random>`; unique within a process and
 * practically unique across processes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeId = (prefix = "req"): string => {
  counter = (counter + 1) % 0x1000000
  return `${prefix}_${Date.now().toString(36)}${counter.toString(36).padStart(4, "0")}${Math.floor(Math.random() * 0xffff).toString(36)}`
}

/**
 * The fiber reference holding the current correlation id (none outside a request).
 *
 * @since 0.1.0
 * @category references
 */
export const currentCorrelationId: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none<string>())

/**
 * The fiber reference holding the id of the current parent event or step (for parent ids of nested events).
 *
 * @since 0.1.0
 * @category references
 */
export const currentParentId: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none<string>())

/**
 * The current correlation id, if any.
 *
 * @since 0.1.0
 * @category accessors
 */
export const current: Effect.Effect<Option.Option<string>> = FiberRef.get(currentCorrelationId)

/**
 * The current correlation id, or a new one when the effect runs outside a request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const currentOrMake: Effect.Effect<string> = Effect.map(
  FiberRef.get(currentCorrelationId),
  Option.getOrElse(() => makeId())
)

/**
 * Runs an effect under the given correlation id (and all effects it forks inherit it).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withCorrelationId: {
  (id: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, id: string): Effect.Effect<A, E, R>
} = ((...args: Array<unknown>) => {
  if (typeof args[0] === "string") {
    const id = args[0]
    return <A, E, R>(self: Effect.Effect<A, E, R>) => FiberLocal.locally(self, currentCorrelationId, Option.some(id))
  }
  return FiberLocal.locally(args[0] as Effect.Effect<unknown>, currentCorrelationId, Option.some(args[1] as string))
}) as never

/**
 * Runs an effect under the current correlation id, or a fresh one when there is none.
 *
 * @since 0.1.0
 * @category combinators
 */
export const ensureCorrelationId = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // One fiber read; a fiber that has an id already runs `self` as it is (no FiberRef write and restore).
  Effect.withFiberRuntime((fiber) =>
    Option.isSome(fiber.getFiberRef(currentCorrelationId))
      ? self
      : FiberLocal.locally(self, currentCorrelationId, Option.some(makeId()))
  )

/**
 * Runs an effect with the given id as the parent of the events it records.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withParentId =
  (id: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    FiberLocal.locally(self, currentParentId, Option.some(id))
