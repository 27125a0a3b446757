/**
 * Tenants: the customer a request is served for, carried by a fiber reference (like the correlation id) so every
 * nested effect, forked fiber, store call, cache key, event and metric of that request sees it without passing it
 * by hand. The HTTP API sets it from the caller's key; a request body cannot.
 *
 * Outside any request the fiber is *unscoped* (`Option.none`): that is the system's own view (background loops,
 * single-tenant programs, tests) and sees resources by their stored names. Inside a request it is *scoped* to one
 * tenant. A stored name of tenant `acme` is qualified as `~acme/<name>`; the `default` tenant keeps bare names, so a
 * single-tenant deployment stores exactly what it stored before and pays one fiber-reference read per call.
 *
 * @example
 * ```ts
 * import { Tenant } from "@effect-dspy/foundation"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const tenant = yield* Tenant.current // "acme"
 *   const stored = yield* Tenant.qualify("qa") // "~acme/qa"
 *   return { tenant, stored }
 * }).pipe(Tenant.withTenant("acme"))
 *
 * Effect.runPromise(program).then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { TenantForbidden, TenantLimitExceeded } from "./FoundationError.js"
import * as FiberLocal from "./FiberLocal.js"

export {
  /**
   * The caller's tenant may not do this (re-exported from `FoundationError`).
   *
   * @since 0.1.0
   * @category errors
   */
  TenantForbidden,
  /**
   * A tenant's limit is exhausted (re-exported from `FoundationError`).
   *
   * @since 0.1.0
   * @category errors
   */
  TenantLimitExceeded
}

/**
 * What a tenant id looks like: lowercase letters, digits, `_` and `-`, starting with a letter or digit, at most 63
 * characters.
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
 * The tenant of single-tenant deployments and of keys that name none. Its resources keep their bare names.
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
    return <A, E, R>(self: Effect.Effect<A, E, R>) => FiberLocal.locally(self, Tenant, tenant)
  }
  return FiberLocal.locally(args[0] as Effect.Effect<unknown>, Tenant, Option.some(make(args[1] as string)))
}) as never

/**
 * Runs an effect unscoped: the system's view, which sees every tenant's resources by their stored names. Only
 * trusted code (background loops, cross-tenant admin keys) runs unscoped.
 *
 * @since 0.1.0
 * @category combinators
 */
export const unscoped = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  FiberLocal.locally(self, Tenant, Option.none())

/**
 * The prefix that marks a stored name as another tenant's (`~`): names of the default tenant may not start with
 * it.
 *
 * @since 0.1.0
 * @category constants
 */
export const marker = "~"

/**
 * The stored name of `name` for a tenant: `~tenant/name`, or `name` itself for the default tenant.
 *
 * @since 0.1.0
 * @category naming
 */
export const qualifyFor = (tenant: TenantId, name: string): string =>
  tenant === defaultTenant ? name : `${marker}${tenant}/${name}`

/**
 * The tenant a stored name belongs to.
 *
 * @since 0.1.0
 * @category naming
 */
export const ownerOf = (stored: string): TenantId => {
  if (!stored.startsWith(marker)) return defaultTenant
  const slash = stored.indexOf("/")
  return (slash < 0 ? defaultTenant : stored.slice(1, slash)) as TenantId
}

/**
 * A stored name as its tenant sees it (the tenant prefix removed).
 *
 * @since 0.1.0
 * @category naming
 */
export const localName = (stored: string): string => {
  if (!stored.startsWith(marker)) return stored
  const slash = stored.indexOf("/")
  return slash < 0 ? stored : stored.slice(slash + 1)
}

/**
 * Whether the current scope may see a stored name: unscoped sees everything; a tenant sees its own names only.
 *
 * @since 0.1.0
 * @category naming
 */
export const visibleTo = (scoped: Option.Option<TenantId>, stored: string): boolean =>
  Option.isNone(scoped) || ownerOf(stored) === scoped.value

/**
 * The stored name of `name` in the current scope. Unscoped: `name` unchanged. A tenant's name that already names
 * another tenant (starts with `~`) is qualified again, so it can never reach the other tenant's resource.
 *
 * @since 0.1.0
 * @category naming
 */
export const qualify = (name: string): Effect.Effect<string> =>
  Effect.map(FiberRef.get(Tenant), (scoped) => (Option.isNone(scoped) ? name : qualifyScoped(scoped.value, name)))

/**
 * The stored name of `name` for a scoped tenant (see {@link qualify}): the default tenant's names starting with `~`
 * are escaped into its own space, so they cannot address another tenant.
 *
 * @since 0.1.0
 * @category naming
 */
export const qualifyScoped = (tenant: TenantId, name: string): string =>
  tenant === defaultTenant
    ? name.startsWith(marker)
      ? `${marker}${defaultTenant}/${name}`
      : name
    : `${marker}${tenant}/${name}`

/**
 * A cache or storage namespace for the current tenant: `namespace` for the default tenant and unscoped fibers,
 * `namespace@tenant` otherwise. Every cache level (memory, SQLite, Redis) keys by it.
 *
 * @since 0.1.0
 * @category naming
 */
export const namespace = (name: string): Effect.Effect<string> =>
  Effect.map(FiberRef.get(Tenant), (scoped) =>
    Option.isNone(scoped) || scoped.value === defaultTenant ? name : `${name}@${scoped.value}`
  )

/**
 * Fails with {@link TenantForbidden} unless the fiber is unscoped (the system, or a cross-tenant admin key).
 *
 * @since 0.1.0
 * @category guards
 */
export const requireUnscoped = (action: string): Effect.Effect<void, TenantForbidden> =>
  Effect.flatMap(FiberRef.get(Tenant), (scoped) =>
    Option.isNone(scoped)
      ? Effect.void
      : Effect.fail(
          new TenantForbidden({
            message: `tenant "${scoped.value}" may not ${action}; it needs a cross-tenant admin key`,
            tenant: scoped.value,
            action
          })
        )
  )

/**
 * Whether the current scope may see an event: unscoped sees every event; a tenant sees the events of its own
 * modules (their `module_id` or `moduleId` is one of its stored names), and no system-wide event.
 *
 * @since 0.1.0
 * @category naming
 */
export const eventVisibleTo = (scoped: Option.Option<TenantId>, data: { readonly [key: string]: unknown }): boolean => {
  if (Option.isNone(scoped)) return true
  const module = data.module_id ?? data.moduleId
  return typeof module === "string" && ownerOf(module) === scoped.value
}

/**
 * The stored name of a namespace (a cache's module key) in the current scope, idempotently: a name the current
 * tenant already owns is kept, anything else is qualified into its space (see {@link qualifyScoped}).
 *
 * @since 0.1.0
 * @category naming
 */
export const own = (name: string): Effect.Effect<string> =>
  Effect.map(FiberRef.get(Tenant), (scoped) => {
    if (Option.isNone(scoped)) return name
    const tenant = scoped.value
    if (tenant === defaultTenant)
      return name.startsWith(marker) && ownerOf(name) === tenant ? name : qualifyScoped(tenant, name)
    return ownerOf(name) === tenant ? name : qualifyScoped(tenant, name)
  })

/**
 * Runs an effect as the tenant that owns a stored name (background work of a tenant, such as its optimization
 * job); a name of the default tenant leaves the fiber's scope as it is.
 *
 * @since 0.1.0
 * @category combinators
 */
export const asOwnerOf =
  (stored: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const owner = ownerOf(stored)
    return owner === defaultTenant ? self : FiberLocal.locally(self, Tenant, Option.some(owner))
  }
