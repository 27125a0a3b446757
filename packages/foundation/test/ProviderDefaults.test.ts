/**
 * Provider defaults by kind and from the vendors' own variables (issue 12): a provider of kind `openai` used to
 * inherit the simulated LM's `sim-1` as its model, and `OPENAI_MODEL` was read only by the demo.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as util from "node:util"
import * as Config from "../src/Config.js"
import * as ConfigSchema from "../src/ConfigSchema.js"

const SECRET = "sk-ant-THIS-MUST-NEVER-APPEAR-987"

const current = (env: Record<string, string>, options: Config.Options = {}) =>
  Effect.flatMap(Config.make(options), (c) => c.current).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

describe("provider defaults", () => {
  it.effect("each kind gets its own default model when none is named", () =>
    Effect.gen(function* () {
      const decode = Schema.decodeUnknownSync(ConfigSchema.ProviderSettings)
      assert.strictEqual(decode({ kind: "openai" }).defaultModel, "gpt-4o-mini")
      assert.strictEqual(decode({ kind: "anthropic" }).defaultModel, "claude-haiku-4-5")
      assert.strictEqual(decode({}).defaultModel, "sim-1")
      assert.strictEqual(decode({ kind: "openai", defaultModel: "gpt-4.1" }).defaultModel, "gpt-4.1")
      // A file that changes the default provider's kind brings that kind's model, not the simulated one's.
      const c = yield* current({}, { defaults: { providers: { default: { kind: "openai", baseUrl: "http://x/v1" } } } })
      assert.strictEqual(c.providers.default?.defaultModel, "gpt-4o-mini")
    })
  )

  it.effect("OPENAI_API_KEY alone asks for gpt-4o-mini, not sim-1; OPENAI_MODEL names another", () =>
    Effect.gen(function* () {
      const plain = yield* current({ OPENAI_API_KEY: "sk-x" })
      assert.strictEqual(plain.providers.openai?.defaultModel, "gpt-4o-mini")
      const named = yield* current({ OPENAI_API_KEY: "sk-x", OPENAI_MODEL: "gpt-4.1-mini" })
      assert.strictEqual(named.providers.openai?.defaultModel, "gpt-4.1-mini")
    })
  )

  it.effect("ANTHROPIC_API_KEY adds the `anthropic` provider (default when no OpenAI key), key Redacted", () =>
    Effect.gen(function* () {
      const c = yield* current({
        ANTHROPIC_API_KEY: SECRET,
        ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
        ANTHROPIC_MODEL: "claude-sonnet-5-5"
      })
      assert.strictEqual(c.modules.defaultLmProvider, "anthropic")
      assert.deepStrictEqual(Object.keys(c.providers), ["anthropic"])
      const p = c.providers.anthropic!
      assert.strictEqual(p.kind, "anthropic")
      assert.strictEqual(p.baseUrl, "http://127.0.0.1:9")
      assert.strictEqual(p.defaultModel, "claude-sonnet-5-5")
      assert.strictEqual(Redacted.value(p.apiKey!), SECRET)
      assert.notInclude(JSON.stringify(c), SECRET)
      assert.notInclude(util.inspect(c, { depth: 10 }), SECRET)
      const bare = yield* current({ ANTHROPIC_API_KEY: SECRET })
      assert.strictEqual(bare.providers.anthropic?.defaultModel, "claude-haiku-4-5")
    })
  )

  it.effect("with both keys, both providers are configured and OpenAI is the default", () =>
    Effect.gen(function* () {
      const c = yield* current({ OPENAI_API_KEY: "sk-x", ANTHROPIC_API_KEY: SECRET })
      assert.strictEqual(c.modules.defaultLmProvider, "openai")
      assert.deepStrictEqual(Object.keys(c.providers).sort(), ["anthropic", "openai"])
      // EFFECT_DSPY__* still wins.
      const chosen = yield* current({
        OPENAI_API_KEY: "sk-x",
        ANTHROPIC_API_KEY: SECRET,
        EFFECT_DSPY__MODULES__DEFAULT_LM_PROVIDER: "anthropic"
      })
      assert.strictEqual(chosen.modules.defaultLmProvider, "anthropic")
    })
  )

  it.effect("capability overrides are validated: a bad value names the path", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        current({}, { defaults: { providers: { default: { capabilities: { contextWindow: -1 } } } } })
      )
      assert.strictEqual(error._tag, "ConfigInvalid")
      assert.include(error.message, "providers.default.capabilities.contextWindow")
      const ok = yield* current({}, { defaults: { providers: { default: { capabilities: { contextWindow: 4096 } } } } })
      assert.strictEqual(ok.providers.default?.capabilities?.contextWindow, 4096)
    })
  )
})
