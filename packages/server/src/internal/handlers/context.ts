/** What the handlers share: the gate and the server's settings. */
import * as Context from "effect/Context"
import type { Broadcaster } from "../broadcast.js"
import type { Gate } from "../gate.js"

/** The gate of the server being built. */
export class GateTag extends Context.Tag("@effect-dspy/server/internal/Gate")<GateTag, Gate>() {}

/** The event tail's fan-out of the server being built. */
export class BroadcasterTag extends Context.Tag("@effect-dspy/server/internal/Broadcaster")<
  BroadcasterTag,
  Broadcaster
>() {}

/** Settings the handlers read. */
export interface Settings {
  readonly sessionTtlMs: number
  readonly tokenTtlMs: number
  /** Whether the session cookie is marked Secure (behind a TLS-terminating proxy). */
  readonly secureCookies: boolean
}

/** The settings of the server being built. */
export class SettingsTag extends Context.Tag("@effect-dspy/server/internal/Settings")<SettingsTag, Settings>() {}
