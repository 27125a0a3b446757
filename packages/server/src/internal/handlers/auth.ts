/** The auth group's and the probes' handlers. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Api } from "../../Api.js"
import { NotReady } from "../../api/HealthApi.js"
import { Credentials, CurrentPrincipal, requireScope, sessionCookie } from "../../Auth.js"
import type { Gate } from "../gate.js"
import { GateTag, SettingsTag } from "./context.js"

const cookieHeader = (value: string, maxAgeSeconds: number, secure: boolean): string =>
  `${sessionCookie}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`

/** The handlers of the `auth` group. */
export const layer = HttpApiBuilder.group(Api, "auth", (handlers) =>
  Effect.gen(function* () {
    const credentials = yield* Credentials
    const settings = yield* SettingsTag
    return handlers
      .handle("whoami", () => Effect.map(CurrentPrincipal, (p) => ({ keyId: p.id, scopes: p.scopes })))
      .handle("session", () =>
        Effect.gen(function* () {
          const principal = yield* requireScope("read")
          const issued = yield* credentials.issue(principal, settings.sessionTtlMs)
          return yield* HttpServerResponse.json({ keyId: principal.id, expiresAt: issued.expiresAt }).pipe(
            Effect.map(
              HttpServerResponse.setHeader(
                "set-cookie",
                cookieHeader(
                  Redacted.value(issued.token),
                  Math.floor(settings.sessionTtlMs / 1000),
                  settings.secureCookies
                )
              )
            ),
            Effect.orDie
          )
        })
      )
      .handle("signOut", ({ request }) =>
        Effect.gen(function* () {
          const cookie = request.cookies[sessionCookie]
          if (cookie !== undefined) yield* credentials.revoke(Redacted.make(cookie))
          return HttpServerResponse.empty({ status: 204 }).pipe(
            HttpServerResponse.setHeader("set-cookie", cookieHeader("", 0, settings.secureCookies))
          )
        })
      )
      .handle("token", () =>
        Effect.gen(function* () {
          const principal = yield* requireScope("read")
          const issued = yield* credentials.issue(principal, settings.tokenTtlMs)
          return { token: Redacted.value(issued.token), expiresAt: issued.expiresAt }
        })
      )
  })
)

/** The handlers of the public probes. */
export const probes = HttpApiBuilder.group(Api, "probes", (handlers) =>
  Effect.gen(function* () {
    const gate: Gate = yield* GateTag
    return handlers
      .handle("live", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () =>
        gate.stopping
          ? Effect.fail(new NotReady({ status: "unavailable", reason: "the server is draining for shutdown" }))
          : Effect.succeed({ status: "ok" as const })
      )
  })
)
