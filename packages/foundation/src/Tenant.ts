/**
 * The tenant a request belongs to, carried by a fiber reference like the correlation id (set by the HTTP API from
 * the caller's key, never from a request body). Stores record it, so that what a tenant owns can be exported,
 * erased or kept for a limited time (the services' `DataRights`).
 *
 * @example
 * ```ts
 * import { Tenant } from "@effect-dspy/foundation"
 * import * as Effect from "effect/Effect"
 *
 * const program = Tenant.current.pipe(Tenant.withTenant(Tenant.make("acme")))
 * Effect.runSync(program) // Option.some("acme")
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * A tenant id: a non-empty string of letters, digits, `-`, `_` and `.` (at most 128).
 *
 * @since 0.1.0
 * @category models
 */
export const TenantId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9._-]{1,128}$/),
  Schema.brand("@effect-dspy/foundation/TenantId")
)

/**
 * A tenant id.
 *
 * @since 0.1.0
 * @category models
 */
export type TenantId = typeof TenantId.Type

/**
 * A tenant id from a string (throws on a malformed one: use `Schema.decodeUnknown(TenantId)` for input).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (id: string): TenantId => TenantId.make(id)

/**
 * The fiber reference holding the current tenant (none outside a tenant's request).
 *
 * @since 0.1.0
 * @category references
 */
export const Tenant: FiberRef.FiberRef<Option.Option<TenantId>> = FiberRef.unsafeMake(Option.none<TenantId>())

/**
 * The current tenant, if any.
 *
 * @since 0.1.0
 * @category accessors
 */
export const current: Effect.Effect<Option.Option<TenantId>> = FiberRef.get(Tenant)

/**
 * Runs an effect as the given tenant (every effect it forks inherits it).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTenant: {
  (tenant: TenantId): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, tenant: TenantId): Effect.Effect<A, E, R>
} = ((...args: Array<unknown>) => {
  if (typeof args[0] === "string") {
    const tenant = args[0] as TenantId
    return <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.locally(self, Tenant, Option.some(tenant))
  }
  return Effect.locally(args[0] as Effect.Effect<unknown>, Tenant, Option.some(args[1] as TenantId))
}) as never
