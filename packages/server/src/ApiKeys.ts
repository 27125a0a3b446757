/**
 * API keys with scopes. A key is 32 random bytes (base64url, prefixed `edk_`); the server keeps only its SHA-256
 * digest, so a leaked key file grants nothing. A presented key is hashed once, looked up by its digest and
 * compared with the stored digest in constant time (`crypto.timingSafeEqual`), and travels as a `Redacted` value: it is never logged.
 *
 * Scopes: `read` (GET endpoints, the dashboard), `execute` (module executions), `admin` (changes: modules,
 * policies, jobs). `admin` implies `execute` and `read`; `execute` implies `read`.
 *
 * @example
 * ```ts
 * import { ApiKeys } from "@effect-dspy/server"
 * import * as Redacted from "effect/Redacted"
 *
 * const { key, entry } = ApiKeys.generate("ops", ["admin"])
 * const keys = ApiKeys.make([entry])
 * console.log(keys.authenticate(key)?.id) // "ops"
 * console.log(keys.authenticate(Redacted.make("edk_wrong"))) // undefined
 * ```
 *
 * @since 0.1.0
 */
import { Tenant } from "@effect-dspy/foundation"
import * as crypto from "node:crypto"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * A scope a key grants.
 *
 * @since 0.1.0
 * @category models
 */
export type Scope = "read" | "execute" | "admin"

/**
 * The scopes, weakest first.
 *
 * @since 0.1.0
 * @category constants
 */
export const scopes: ReadonlyArray<Scope> = ["read", "execute", "admin"]

/**
 * A stored key: its id (shown in logs and rate limits), the SHA-256 digest of the key (hex) and its scopes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Entry = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  sha256: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/), Schema.annotations({ title: "hex SHA-256 digest" })),
  scopes: Schema.Array(Schema.Literal("read", "execute", "admin")).pipe(Schema.minItems(1)),
  /** The tenant the key belongs to (default: `default`); every request made with it is scoped to that tenant. */
  tenant: Schema.optional(Tenant.TenantId),
  /**
   * An admin key that may act across tenants: its requests run unscoped (seeing every tenant), or as the tenant
   * named by the `x-effect-dspy-tenant` header. Only `admin` keys may carry it.
   */
  crossTenant: Schema.optional(Schema.Boolean)
}).pipe(
  Schema.filter((entry) =>
    entry.crossTenant === true && !entry.scopes.includes("admin")
      ? `the key "${entry.id}" is crossTenant but lacks the "admin" scope`
      : undefined
  )
)

/**
 * A stored key.
 *
 * @since 0.1.0
 * @category models
 */
export type Entry = typeof Entry.Type

/**
 * A key file: `{"version":1,"keys":[...]}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const KeyFile = Schema.Struct({ version: Schema.Literal(1), keys: Schema.Array(Entry) })

/**
 * Who made a request: the key's id, its scopes, its tenant and whether it may act across tenants.
 *
 * @since 0.1.0
 * @category models
 */
export interface Principal {
  readonly id: string
  readonly scopes: ReadonlyArray<Scope>
  /** The tenant of the key (`default` when the key names none). */
  readonly tenant: Tenant.TenantId
  /** An admin key that may act across tenants. */
  readonly crossTenant: boolean
}

/**
 * Whether the scopes grant `scope` (`admin` implies `execute` and `read`; `execute` implies `read`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const grants = (held: ReadonlyArray<Scope>, scope: Scope): boolean => {
  const needed = scopes.indexOf(scope)
  return held.some((s) => scopes.indexOf(s) >= needed)
}

/**
 * The SHA-256 digest of a key, hex.
 *
 * @since 0.1.0
 * @category hashing
 */
export const digest = (key: Redacted.Redacted<string>): string =>
  crypto.createHash("sha256").update(Redacted.value(key), "utf8").digest("hex")

/**
 * A new random key and its stored entry. Show the key once; keep the entry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (
  id: string,
  keyScopes: ReadonlyArray<Scope>,
  options?: { readonly tenant?: string | undefined; readonly crossTenant?: boolean | undefined }
): { readonly key: Redacted.Redacted<string>; readonly entry: Entry } => {
  const key = Redacted.make(`edk_${crypto.randomBytes(32).toString("base64url")}`)
  return {
    key,
    entry: {
      id,
      sha256: digest(key),
      scopes: [...keyScopes],
      ...(options?.tenant === undefined ? {} : { tenant: Tenant.make(options.tenant) }),
      ...(options?.crossTenant === true ? { crossTenant: true } : {})
    }
  }
}

/**
 * The key set of a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiKeys {
  /** The principal of a presented key, or `undefined` (hashed once, looked up by digest, compared in constant time). */
  readonly authenticate: (key: Redacted.Redacted<string>) => Principal | undefined
  /**
   * {@link ApiKeys.authenticate} of a key's text as it arrived (a header's), without wrapping it: the same check;
   * a key that passed it is remembered (up to one entry per stored key), so its next requests skip the hash.
   */
  readonly authenticateText: (key: string) => Principal | undefined
  readonly size: number
  /**
   * Whether some key names a tenant: then every request is scoped to its key's tenant (`default` included). In a
   * single-tenant key set, requests run unscoped, exactly as before tenants existed.
   */
  readonly multiTenant: boolean
}

// One-shot hashing where Node has it (20.12+; about twice as fast as a Hash object for a key).
const sha256: (text: string) => Buffer =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("sha256", text, "buffer")
    : (text) => crypto.createHash("sha256").update(text, "utf8").digest()

/**
 * A key set over stored entries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (entries: ReadonlyArray<Entry>): ApiKeys => {
  // Stored by digest: a presented key is hashed once and looked up (no work per stored key), then its digest is
  // compared with the candidate's in constant time. The lookup's timing depends on the presented key's SHA-256
  // digest only, which an attacker cannot steer toward a stored one without the key itself.
  const byDigest = new Map<string, { readonly principal: Principal; readonly digest: Buffer }>()
  for (const entry of entries) {
    if (!byDigest.has(entry.sha256)) {
      byDigest.set(entry.sha256, {
        principal: {
          id: entry.id,
          scopes: entry.scopes,
          tenant: entry.tenant ?? Tenant.defaultTenant,
          crossTenant: entry.crossTenant === true && entry.scopes.includes("admin")
        },
        digest: Buffer.from(entry.sha256, "hex")
      })
    }
  }
  // The keys that passed the digest check, by their text. Only a key that passed is added, so the map holds at most
  // one entry per stored key (a wrong key can neither grow nor churn it) and a wrong key always takes the digest
  // path; a lookup compares a presented key's text with a held one only when their (seeded) string hashes agree,
  // and what a hit or a miss tells is what the response tells anyway: whether the key is valid.
  const verified = new Map<string, Principal>()
  const authenticateText = (key: string): Principal | undefined => {
    const known = verified.get(key)
    if (known !== undefined) return known
    const presented = sha256(key)
    const candidate = byDigest.get(presented.toString("hex"))
    if (candidate === undefined || !crypto.timingSafeEqual(candidate.digest, presented)) return undefined
    if (verified.size < byDigest.size) verified.set(key, candidate.principal)
    return candidate.principal
  }
  return {
    size: entries.length,
    multiTenant: entries.some((entry) => entry.tenant !== undefined),
    authenticate: (key) => authenticateText(Redacted.value(key)),
    authenticateText
  }
}
