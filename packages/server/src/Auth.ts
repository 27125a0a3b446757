/**
 * Authentication and authorization of the HTTP API. Three credentials are accepted, tried in order:
 * `Authorization: Bearer <api key>`; the dashboard's session cookie (`effect_dspy_session`, HttpOnly,
 * SameSite=Strict, set by `POST /auth/session`); a short-lived `access_token` query parameter (from
 * `POST /auth/token`, for clients such as `EventSource` that cannot send headers). Each authenticated request is
 * counted against its key's rate limit (foundation's `RateLimiter`, keyed by the key id); a handler then asks for
 * the scope it needs with {@link requireScope}.
 *
 * @since 0.1.0
 */
import { RateLimiter, Tenant } from "@effect-dspy/foundation"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import { Forbidden, TooManyRequests, Unauthorized } from "./ApiError.js"
import * as ApiKeys from "./ApiKeys.js"

/**
 * The name of the dashboard's session cookie.
 *
 * @since 0.1.0
 * @category constants
 */
export const sessionCookie = "effect_dspy_session"

/**
 * The query parameter of a short-lived token.
 *
 * @since 0.1.0
 * @category constants
 */
export const tokenParameter = "access_token"

/**
 * The principal of the request being served.
 *
 * @since 0.1.0
 * @category tags
 */
export class CurrentPrincipal extends Context.Tag("@effect-dspy/server/CurrentPrincipal")<
  CurrentPrincipal,
  ApiKeys.Principal
>() {}

/**
 * The authentication middleware of the API: bearer key, session cookie or short-lived token; then the key's
 * rate limit.
 *
 * @since 0.1.0
 * @category middleware
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@effect-dspy/server/Authentication", {
  failure: Schema.Union(Unauthorized, TooManyRequests),
  provides: CurrentPrincipal
}) {}

/**
 * Fails with `Forbidden` unless the request's principal holds `scope`.
 *
 * @since 0.1.0
 * @category authorization
 */
export const requireScope = (scope: ApiKeys.Scope): Effect.Effect<ApiKeys.Principal, Forbidden, CurrentPrincipal> =>
  Effect.flatMap(CurrentPrincipal, (principal) => {
    const missing = missingScope(principal, scope)
    return missing === undefined ? Effect.succeed(principal) : Effect.fail(missing)
  })

/**
 * {@link requireScope} of a given principal, synchronously: the `Forbidden` it fails with, or `undefined`.
 *
 * @since 0.1.0
 * @category authorization
 */
export const missingScope = (principal: ApiKeys.Principal, scope: ApiKeys.Scope): Forbidden | undefined =>
  ApiKeys.grants(principal.scopes, scope)
    ? undefined
    : new Forbidden({
        message: `the key "${principal.id}" lacks the "${scope}" scope this endpoint needs`,
        required: scope
      })

/**
 * Fails with `Forbidden` unless the request's principal holds `scope` and runs unscoped: the operator's views
 * (the supervision tree, providers, status, metrics, alerts, metric history, workflow runs) span every tenant, so
 * a tenant's key may not read them (a single-tenant key set runs unscoped and keeps them).
 *
 * @since 0.1.0
 * @category authorization
 */
export const requireOperator = (scope: ApiKeys.Scope): Effect.Effect<ApiKeys.Principal, Forbidden, CurrentPrincipal> =>
  Effect.zipLeft(
    requireScope(scope),
    Effect.mapError(
      Tenant.requireUnscoped("read the operator's views"),
      (e) => new Forbidden({ message: e.message, required: "cross-tenant" })
    )
  )

/**
 * A session or token issued to a principal.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issued {
  readonly token: Redacted.Redacted<string>
  readonly expiresAt: number
}

/**
 * The credentials of a server: its API keys, the sessions and tokens it issued, the per-key rate limiter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly keys: ApiKeys.ApiKeys
  /** Issues a session (the cookie's value) or a short-lived token for `principal`, valid for `ttlMs`. */
  readonly issue: (principal: ApiKeys.Principal, ttlMs: number) => Effect.Effect<Issued>
  /** The principal of an issued session or token, while it is valid. */
  readonly resolve: (token: Redacted.Redacted<string>) => Effect.Effect<ApiKeys.Principal | undefined>
  /** Revokes an issued session or token. */
  readonly revoke: (token: Redacted.Redacted<string>) => Effect.Effect<void>
  /** Counts one request of a key against its rate limit. */
  readonly admit: (principal: ApiKeys.Principal) => Effect.Effect<void, TooManyRequests>
  /** Counts one request of a tenant against its rate limit (Config `tenants.*.requestsPerMinute`). */
  readonly admitTenant: (tenant: Tenant.TenantId) => Effect.Effect<void, TooManyRequests>
}

/**
 * The credentials service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Credentials extends Context.Tag("@effect-dspy/server/Credentials")<Credentials, Service>() {}

/**
 * Options of the credentials: the keys and the per-key rate limit (`limit` requests per `scaleMs`; none: no
 * limit).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly keys: ReadonlyArray<ApiKeys.Entry>
  readonly rateLimit?: { readonly limit: number; readonly scaleMs: number } | undefined
  /** Each tenant's request limit (the application's `Tenants.admitRequest`); none: no tenant limit. */
  readonly tenantLimit?: ((tenant: Tenant.TenantId) => Effect.Effect<void, Tenant.TenantLimitExceeded>) | undefined
}

/**
 * Makes the credentials service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never> =>
  Effect.gen(function* () {
    const keys = ApiKeys.make(options.keys)
    const limiter =
      options.rateLimit === undefined
        ? undefined
        : yield* RateLimiter.make("api_keys", { ...options.rateLimit, algorithm: "token-bucket" }).pipe(Effect.orDie)
    // Issued tokens by their SHA-256 digest (the token itself is not kept).
    const issued = new Map<string, { readonly principal: ApiKeys.Principal; readonly expiresAt: number }>()
    const digestOf = (token: Redacted.Redacted<string>) =>
      crypto.createHash("sha256").update(Redacted.value(token), "utf8").digest("hex")
    return {
      keys,
      issue: (principal, ttlMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          for (const [digest, entry] of issued) if (entry.expiresAt <= now) issued.delete(digest)
          const token = Redacted.make(crypto.randomBytes(32).toString("base64url"))
          const expiresAt = now + ttlMs
          issued.set(digestOf(token), { principal, expiresAt })
          return { token, expiresAt }
        }),
      resolve: (token) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const digest = digestOf(token)
          const entry = issued.get(digest)
          if (entry === undefined) return undefined
          if (entry.expiresAt <= now) {
            issued.delete(digest)
            return undefined
          }
          return entry.principal
        }),
      revoke: (token) => Effect.sync(() => void issued.delete(digestOf(token))),
      admitTenant: (tenant) =>
        options.tenantLimit === undefined
          ? Effect.void
          : Effect.mapError(
              options.tenantLimit(tenant),
              (e) => new TooManyRequests({ message: e.message, retryAfterMs: e.retryAfterMs ?? 1000 })
            ),
      admit: (principal) =>
        limiter === undefined
          ? Effect.void
          : Effect.asVoid(
              Effect.mapError(
                limiter.hit(principal.id),
                (e) =>
                  new TooManyRequests({
                    message: `the key "${principal.id}" is over its rate limit; retry in ${Math.ceil(e.retryAfterMs)} ms`,
                    retryAfterMs: Math.ceil(e.retryAfterMs)
                  })
              )
            )
    }
  })

const unauthorized = (message: string) => new Unauthorized({ message })

/**
 * What authentication reads of a request: its headers and its URL (an `HttpServerRequest` is one; so is a
 * `node:http` request's head, which the server's fast path passes).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestHead {
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly url: string
}

const cookieValue = (header: string | undefined, name: string): string | undefined => {
  if (header === undefined) return undefined
  for (const part of header.split(";")) {
    const eq = part.indexOf("=")
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

const bearerPattern = /^Bearer +(\S+)$/i

/**
 * The principal of an `Authorization: Bearer <key>` header's key (its text checked by
 * `ApiKeys.authenticateText`), or why there is none. Synchronous: what {@link authenticate} does with the header
 * before the key's rate limit, and what the server's fast path does with it.
 *
 * @since 0.1.0
 * @category authentication
 */
export const bearerPrincipal = (keys: ApiKeys.ApiKeys, authorization: string): ApiKeys.Principal | Unauthorized => {
  const match = bearerPattern.exec(authorization)
  if (match === null) return unauthorized(`the Authorization header must be "Bearer <key>"`)
  return (
    keys.authenticateText(match[1] as string) ??
    unauthorized(`the API key is not valid; present an API key as "Authorization: Bearer <key>"`)
  )
}

/**
 * The principal of a request, from its credential (tried in order: the `Authorization` header, the session
 * cookie, the `access_token` query parameter), counted against its key's rate limit.
 *
 * @since 0.1.0
 * @category authentication
 */
export const authenticate = (
  credentials: Service,
  request: RequestHead
): Effect.Effect<ApiKeys.Principal, Unauthorized | TooManyRequests> => {
  const admitted = (
    principal: ApiKeys.Principal | undefined,
    what: string
  ): Effect.Effect<ApiKeys.Principal, Unauthorized | TooManyRequests> =>
    principal === undefined
      ? Effect.fail(unauthorized(`${what}; present an API key as "Authorization: Bearer <key>"`))
      : Effect.as(credentials.admit(principal), principal)
  const authorization = request.headers.authorization
  if (authorization !== undefined) {
    const principal = bearerPrincipal(credentials.keys, authorization)
    return principal instanceof Unauthorized
      ? Effect.fail(principal)
      : Effect.as(credentials.admit(principal), principal)
  }
  const session = cookieValue(request.headers.cookie, sessionCookie)
  if (session !== undefined && session !== "") {
    return Effect.flatMap(credentials.resolve(Redacted.make(session)), (p) =>
      admitted(p, "the session has expired or is unknown (sign in again)")
    )
  }
  const query = new URL(request.url, "http://localhost").searchParams.get(tokenParameter)
  if (query !== null && query !== "") {
    return Effect.flatMap(credentials.resolve(Redacted.make(query)), (p) =>
      admitted(p, "the access token has expired or is unknown")
    )
  }
  return Effect.fail(unauthorized(`no credential; present an API key as "Authorization: Bearer <key>"`))
}

/**
 * The header a cross-tenant admin key names the tenant to act as with (left out, its requests run unscoped).
 *
 * @since 0.1.0
 * @category constants
 */
export const tenantHeader = "x-effect-dspy-tenant"

/**
 * The tenant scope of a request: the key's tenant; for a cross-tenant admin key, the tenant its
 * {@link tenantHeader} names, else unscoped. A single-tenant key set (no key names a tenant) runs unscoped, as
 * before tenants existed. A request body never sets it.
 *
 * @since 0.1.0
 * @category authentication
 */
export const tenantScope = (
  keys: ApiKeys.ApiKeys,
  principal: ApiKeys.Principal,
  request: RequestHead
): Effect.Effect<Option.Option<Tenant.TenantId>, Unauthorized> => {
  const scope = tenantScopeOf(keys, principal, request)
  return scope instanceof Unauthorized ? Effect.fail(scope) : Effect.succeed(scope)
}

/**
 * {@link tenantScope}, synchronously: the scope, or why the request has none.
 *
 * @since 0.1.0
 * @category authentication
 */
export const tenantScopeOf = (
  keys: ApiKeys.ApiKeys,
  principal: ApiKeys.Principal,
  request: RequestHead
): Option.Option<Tenant.TenantId> | Unauthorized => {
  if (!principal.crossTenant) return keys.multiTenant ? Option.some(principal.tenant) : unscoped
  const named = request.headers[tenantHeader]
  if (named === undefined || named === "") return unscoped
  return Tenant.pattern.test(named)
    ? Option.some(named as Tenant.TenantId)
    : unauthorized(`the ${tenantHeader} header must be a tenant id (lowercase letters, digits, _ and -)`)
}

const unscoped: Option.Option<Tenant.TenantId> = Option.none()

/**
 * Authenticates a request ({@link authenticate}), then scopes the current fiber to the principal's tenant (see
 * {@link tenantScope}), counted against the tenant's request limit: what the authentication middleware does, and
 * what the server's fast path of `POST /modules/{id}/execute` does with the same code.
 *
 * @since 0.1.0
 * @category authentication
 */
export const authorize = (
  credentials: Service,
  request: RequestHead
): Effect.Effect<ApiKeys.Principal, Unauthorized | TooManyRequests> =>
  Effect.flatMap(authenticate(credentials, request), (principal) =>
    Effect.flatMap(tenantScope(credentials.keys, principal, request), (scope) =>
      // The handler runs next in this same fiber, so the reference holds for the whole request.
      Effect.as(
        Option.isNone(scope)
          ? FiberRef.set(Tenant.Tenant, scope)
          : Effect.zipRight(credentials.admitTenant(scope.value), FiberRef.set(Tenant.Tenant, scope)),
        principal
      )
    )
  )

/**
 * The authentication middleware's implementation, over the {@link Credentials} in context: {@link authorize}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAuthentication: Layer.Layer<Authentication, never, Credentials> = Layer.effect(
  Authentication,
  Effect.map(Credentials, (credentials) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => authorize(credentials, request))
  )
)
