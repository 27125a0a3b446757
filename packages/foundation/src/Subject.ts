/**
 * The end user a request acts for (a subject key: an account id, an email, any stable key the caller gives),
 * carried by a fiber reference like the correlation id, so that every execution, cache entry and workflow run
 * made for that user is recorded under it and can be exported or erased (the services' `DataRights`).
 *
 * @example
 * ```ts
 * import { Subject } from "@effect-dspy/foundation"
 * import * as Effect from "effect/Effect"
 *
 * const program = Subject.current.pipe(Subject.withSubject("user-42"))
 * Effect.runSync(program) // Option.some("user-42")
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as CanonicalJson from "./CanonicalJson.js"
import * as FiberLocal from "./FiberLocal.js"

/**
 * The fiber reference holding the current subject key (none outside a request made for an end user).
 *
 * @since 0.1.0
 * @category references
 */
export const currentSubject: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none<string>())

/**
 * The current subject key, if any.
 *
 * @since 0.1.0
 * @category accessors
 */
export const current: Effect.Effect<Option.Option<string>> = FiberRef.get(currentSubject)

/**
 * Runs an effect for the given end user (every effect it forks inherits the key).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withSubject: {
  (subject: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, subject: string): Effect.Effect<A, E, R>
} = ((...args: Array<unknown>) => {
  if (typeof args[0] === "string") {
    const subject = args[0]
    return <A, E, R>(self: Effect.Effect<A, E, R>) => FiberLocal.locally(self, currentSubject, Option.some(subject))
  }
  return FiberLocal.locally(args[0] as Effect.Effect<unknown>, currentSubject, Option.some(args[1] as string))
}) as never

/**
 * A subject key's digest (hex sha256, first 32 characters): what names it where the key itself must not appear
 * (cache namespaces, audit events).
 *
 * @since 0.1.0
 * @category constructors
 */
export const digest = (subject: string): string => CanonicalJson.sha256(`subject:${subject}`).slice(0, 32)
