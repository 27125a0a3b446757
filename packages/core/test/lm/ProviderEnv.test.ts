/**
 * Issue 12: with `OPENAI_API_KEY` set, `LM.layer` asked OpenAI for model `sim-1` (the schema's default applied to
 * every provider kind) and `OPENAI_MODEL` was read only by the demo. The library's defaults now follow the
 * vendors' variables. Each test points the base URL at a loopback fake and reads the model it was asked for.
 */
import { Config } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LM from "../../src/lm/LM.js"
import { completion, serve } from "./loopback.js"

/** The LM layer from Config, under the given environment (nothing else of the process environment). */
const lmFromEnv = (env: Record<string, string>) =>
  LM.layer.pipe(
    Layer.provide(Config.layer()),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )

const ask = LM.complete({ messages: [{ role: "user", content: "hi" }] })

describe("provider defaults from the environment", () => {
  it.scoped("OPENAI_API_KEY alone: the request asks for gpt-4o-mini, not sim-1", () =>
    Effect.gen(function* () {
      const models: Array<unknown> = []
      const { baseURL } = yield* serve((_, res, body) => {
        models.push((JSON.parse(body) as { model: unknown }).model)
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(completion("hello")))
      })
      const lm = yield* Effect.provide(
        Effect.tap(LM.LM, () => ask),
        lmFromEnv({ OPENAI_API_KEY: "sk-x", OPENAI_BASE_URL: baseURL })
      )
      assert.strictEqual(lm.provider, "openai")
      assert.strictEqual(lm.model, "gpt-4o-mini")
      assert.deepStrictEqual(models, ["gpt-4o-mini"])
    })
  )

  it.scoped("OPENAI_MODEL names the model the library asks for", () =>
    Effect.gen(function* () {
      const models: Array<unknown> = []
      const { baseURL } = yield* serve((_, res, body) => {
        models.push((JSON.parse(body) as { model: unknown }).model)
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(completion("hello")))
      })
      yield* Effect.provide(
        ask,
        lmFromEnv({ OPENAI_API_KEY: "sk-x", OPENAI_BASE_URL: baseURL, OPENAI_MODEL: "gpt-4.1-mini" })
      )
      assert.deepStrictEqual(models, ["gpt-4.1-mini"])
    })
  )

  it.scoped("ANTHROPIC_API_KEY: the LM layer chooses the anthropic provider, Messages API, claude-haiku-4-5", () =>
    Effect.gen(function* () {
      const seen: Array<{ url: string | undefined; model: unknown }> = []
      const { baseURL } = yield* serve((req, res, body) => {
        seen.push({ url: req.url, model: (JSON.parse(body) as { model: unknown }).model })
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            id: "msg",
            type: "message",
            role: "assistant",
            model: "claude-haiku-4-5",
            content: [{ type: "text", text: "hello" }],
            stop_reason: "end_turn",
            usage: { input_tokens: 3, output_tokens: 1 }
          })
        )
      })
      const [lm, response] = yield* Effect.provide(
        Effect.zip(LM.LM, ask),
        lmFromEnv({ ANTHROPIC_API_KEY: "sk-ant-x", ANTHROPIC_BASE_URL: baseURL.replace(/\/v1$/, "") })
      )
      assert.strictEqual(lm.provider, "anthropic")
      assert.strictEqual(response.choices[0]!.content, "hello")
      assert.deepStrictEqual(seen, [{ url: "/v1/messages", model: "claude-haiku-4-5" }])
    })
  )
})
