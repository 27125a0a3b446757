/**
 * `pnpm demo -- --serve PORT`: the server (API and dashboard) over the demo's application, on loopback, for as long
 * as the demo's scope lives. A read-only key is made for the dashboard and printed once.
 */
import { ApiKeys, Server } from "@effect-dspy/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Setup from "./Setup.js"

/** Starts the server on 127.0.0.1:`port` in the current scope and prints where the dashboard is. */
export const start = (
  port: number,
  log: (line: string) => void
): Effect.Effect<void, unknown, Setup.Services | Scope.Scope> =>
  Effect.gen(function* () {
    const viewer = ApiKeys.generate("dashboard", ["read"])
    const context = yield* Layer.build(Server.layer({ port, host: "127.0.0.1", keys: [viewer.entry] }))
    const { url } = Context.get(context, Server.Server)
    log(`Dashboard: ${url}/dashboard/ (sign in with the read-only key ${Redacted.value(viewer.key)})`)
  })
