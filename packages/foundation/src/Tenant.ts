/**
 * Tenants: the customer a request is served for, carried by a fiber reference (like the correlation id) so every
 * nested effect, forked fiber and store call of that request sees it without passing it by hand. The HTTP API sets
 * it from the caller's key; a request body cannot.
 *
 * Outside any request the fiber is *unscoped* (`Option.none`): the system's own view. (The minimal module the data
 * rights need; the tenants work extends it with name qualification and limits, same names.)
 *
 * @example
 * ```ts
 * import { Tenant } from "@effect-dspy/foundation"
 * import * as Effect from "effect/Effect"
 *
 * const program = Tenant.scope.pipe(Tenant.withTenant("acme"))
 * Effect.runSync(program) // Option.some("acme")
 * ```
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * What a tenant id looks like: lowercase letters, digits, `_` and `-`, at most 63.
 *
 * @since 0.1.0
 * @category constants
 */
export const pattern: RegExp = /^[a-z0-9][a-z0-9_-]{0,62}$/

/**
 * A tenant id.
 *
 * @since 0.1.0
 * @category models
 */
export type TenantId = string & Brand.Brand<"TenantId">

/**
 * The schema of a tenant id.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TenantId: Schema.brand<Schema.filter<typeof Schema.String>, "TenantId"> = Schema.String.pipe(
  Schema.pattern(pattern, { message: () => "a tenant id is lowercase letters, digits, _ and -, at most 63" }),
  Schema.brand("TenantId")
)

/**
 * Makes a tenant id, throwing on a malformed one (use the schema for untrusted input).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (id: string): TenantId => {
  if (!pattern.test(id)) throw new Error(`"${id}" is not a tenant id: lowercase letters, digits, _ and -`)
  return id as TenantId
}

/**
 * The tenant of single-tenant deployments and of keys that name none.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTenant: TenantId = "default" as TenantId

/**
 * The fiber reference holding the current tenant (none: unscoped, the system's own view).
 *
 * @since 0.1.0
 * @category references
 */
export const Tenant: FiberRef.FiberRef<Option.Option<TenantId>> = FiberRef.unsafeMake(Option.none<TenantId>())

/**
 * The current tenant scope: the tenant, or none when the fiber is unscoped.
 *
 * @since 0.1.0
 * @category accessors
 */
export const scope: Effect.Effect<Option.Option<TenantId>> = FiberRef.get(Tenant)

/**
 * The current tenant (`default` when unscoped).
 *
 * @since 0.1.0
 * @category accessors
 */
export const current: Effect.Effect<TenantId> = Effect.map(
  FiberRef.get(Tenant),
  Option.getOrElse(() => defaultTenant)
)

/**
 * Runs an effect scoped to `tenant` (the effects it forks inherit it).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTenant: {
  (tenant: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, tenant: string): Effect.Effect<A, E, R>
} = ((...args: Array<unknown>) => {
  if (typeof args[0] === "string") {
    const tenant = Option.some(make(args[0]))
    return <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.locally(self, Tenant, tenant)
  }
  return Effect.locally(args[0] as Effect.Effect<unknown>, Tenant, Option.some(make(args[1] as string)))
}) as never

/**
 * Runs an effect unscoped: the system's view.
 *
 * @since 0.1.0
 * @category combinators
 */
export const unscoped = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, Tenant, Option.none())
