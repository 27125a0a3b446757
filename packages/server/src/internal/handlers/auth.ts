/** The auth group's and the probes' handlers. */
import { Application } from "@effect-dspy/services"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
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
      .handle("whoami", () =>
        Effect.map(CurrentPrincipal, (p) => ({
          keyId: p.id,
          scopes: p.scopes,
          tenant: p.tenant,
          crossTenant: p.crossTenant
        }))
      )
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

/**
 * The handlers of the public probes, from `Application.health`: liveness (503 when the tree is dead) and readiness
 * (503 while starting, unhealthy or draining), with the reasons.
 */
export const probes: Layer.Layer<
  HttpApiGroup.ApiGroup<"effect-dspy", "probes">,
  never,
  GateTag | Application.Application
> = HttpApiBuilder.group(Api, "probes", (handlers) =>
  Effect.gen(function* () {
    const gate: Gate = yield* GateTag
    const app = yield* Application.Application
    return handlers
      .handle("live", () =>
        Effect.flatMap(app.health, (report) =>
          report.liveness.status === "alive"
            ? Effect.succeed({ status: "ok" as const, reasons: report.liveness.reasons })
            : Effect.fail(
                new NotReady({
                  status: "unavailable",
                  reason: report.liveness.reasons.join("; ") || "the application is not alive",
                  reasons: report.liveness.reasons
                })
              )
        )
      )
      .handle("ready", () =>
        gate.stopping
          ? Effect.fail(new NotReady({ status: "unavailable", reason: "the server is draining for shutdown" }))
          : Effect.flatMap(app.health, (report) =>
              report.readiness.ready
                ? Effect.succeed({
                    status: "ok" as const,
                    readiness: report.readiness.status,
                    reasons: report.readiness.reasons
                  })
                : Effect.fail(
                    new NotReady({
                      status: "unavailable",
                      reason: report.readiness.reasons.join("; ") || `the application is ${report.readiness.status}`,
                      readiness: report.readiness.status,
                      reasons: report.readiness.reasons
                    })
                  )
            )
      )
  })
)
