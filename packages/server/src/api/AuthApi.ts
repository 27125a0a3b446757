/**
 * Sessions and short-lived tokens for browsers: `POST /auth/session` (with the API key as a bearer) sets the
 * dashboard's session cookie (HttpOnly, SameSite=Strict); `POST /auth/token` gives a token for the
 * `access_token` query parameter (for clients that cannot send headers, such as `EventSource` across origins);
 * `DELETE /auth/session` signs out. `GET /auth/whoami` names the credential's key and scopes.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Failed, Forbidden, NotFound, Unavailable } from "../ApiError.js"
import { Authentication } from "../Auth.js"

/**
 * Who a credential is.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WhoAmI = Schema.Struct({
  keyId: Schema.String,
  scopes: Schema.Array(Schema.Literal("read", "execute", "admin")),
  /** The tenant the key's requests are scoped to. */
  tenant: Schema.optional(Schema.String),
  /** Whether the key may act across tenants. */
  crossTenant: Schema.optional(Schema.Boolean)
})

/**
 * An issued session: until when it is valid.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Session = Schema.Struct({ keyId: Schema.String, expiresAt: Schema.Number })

/**
 * An issued short-lived token.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Token = Schema.Struct({ token: Schema.String, expiresAt: Schema.Number })

/**
 * The auth group.
 *
 * @since 0.1.0
 * @category groups
 */
export class AuthApi extends HttpApiGroup.make("auth")
  .add(HttpApiEndpoint.get("whoami", "/auth/whoami").addSuccess(WhoAmI))
  .add(HttpApiEndpoint.post("session", "/auth/session").addSuccess(Session))
  .add(HttpApiEndpoint.del("signOut", "/auth/session").addSuccess(HttpApiSchema.NoContent))
  .add(HttpApiEndpoint.post("token", "/auth/token").addSuccess(Token))
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Unavailable)
  .addError(Failed)
  .addError(Forbidden)
  .middleware(Authentication) {}
