/**
 * Shared set-up of the integration tests: a local simulated-LM server on loopback, and the `LM` service built
 * from `Config` with a provider of kind `openai` pointing at it (the real OpenAIProvider and the real `openai`
 * SDK over HTTP). The cache is off everywhere (no `LMCache` in the context), so every call reaches the server.
 */
import { Config } from "@effect-dspy/foundation"
import { LM } from "@effect-dspy/core"
import { SimServer } from "@effect-dspy/sim"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The dummy API key: it must never show up in history, events, spans, saved files or error messages. */
export const SECRET = "sk-int-DUMMY-3f9c27e1b4a8d6"

/** Provider settings the tests vary (in the configuration file's form). */
export interface ProviderOverrides {
  readonly maxRetries?: number
  readonly timeoutMs?: number
  readonly defaultModel?: string
}

/** The configuration overrides for a provider named `local` of kind `openai` at `url`. */
export const configFor = (url: string, overrides: ProviderOverrides = {}) => ({
  modules: { defaultLmProvider: "local", cacheEnabled: false },
  providers: {
    local: {
      kind: "openai",
      baseUrl: url,
      apiKey: SECRET,
      defaultModel: overrides.defaultModel ?? "sim-1",
      maxRetries: overrides.maxRetries ?? 3,
      timeoutMs: overrides.timeoutMs ?? 10_000
    }
  }
})

/** The LM service from `Config.layerTest` (openai provider at `url`). */
export const lmLayer = (
  url: string,
  overrides: ProviderOverrides = {}
): Layer.Layer<LM.LM, LM.LMConfigError | Config.ConfigInvalid> =>
  LM.layer.pipe(Layer.provide(Config.layerTest(configFor(url, overrides))))

/** The server's counters read from its `GET /stats` endpoint (as an outside observer would). */
export const httpStats = (server: SimServer.Running): Effect.Effect<SimServer.Stats> =>
  Effect.promise(async () => {
    const response = await fetch(server.url.replace(/\/v1$/, "/stats"))
    return (await response.json()) as SimServer.Stats
  })

/** Completion requests served or failed by the server: every chat request that reached it. */
export const chatRequests = (stats: SimServer.Stats): number =>
  stats.completions +
  stats.streams +
  Object.values(stats.faults).reduce((a, b) => a + (b ?? 0), 0) -
  // output faults (malformed, empty) and stream faults are also counted as completions or streams
  (["missing_marker", "truncated_json", "extra_prose", "empty", "slow_stream", "truncated_stream"] as const).reduce(
    (a, k) => a + (stats.faults[k] ?? 0),
    0
  )

/**
 * Starts a server with the given options, then runs `body` with the LM service configured for it. The server
 * is closed when the enclosing scope closes.
 */
export const withServer = <A, E, R>(
  options: SimServer.Options,
  overrides: ProviderOverrides,
  body: (server: SimServer.Running) => Effect.Effect<A, E, R>
) => Effect.flatMap(SimServer.serve(options), (server) => Effect.provide(body(server), lmLayer(server.url, overrides)))
