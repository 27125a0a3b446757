/**
 * Provider capability metadata: what is known of OpenAI's and Anthropic's models, the JSON mode the LM service
 * chooses from it, the early fit check (exact counts with gpt-tokenizer, the approximation elsewhere) and the
 * overrides of `providers.<name>.capabilities`.
 */
import { Config } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Capabilities from "../../src/lm/Capabilities.js"
import type * as Completion from "../../src/lm/Completion.js"
import * as LM from "../../src/lm/LM.js"
import type * as Provider from "../../src/lm/Provider.js"
import * as ProviderKind from "../../src/lm/ProviderKind.js"
import * as Tokens from "../../src/lm/Tokens.js"
import { fakeProvider } from "./fixtures.js"

const schemaFormat: Completion.ResponseFormat = {
  type: "json_schema",
  name: "out",
  schema: { type: "object", properties: { answer: { type: "string" } } },
  strict: true
}
const ask = (content: string, extra: Partial<LM.Request> = {}): LM.Request => ({
  messages: [{ role: "user", content }],
  ...extra
})

/** A fake provider that declares the given capabilities for every model. */
const declaring = (capabilities: Capabilities.Capabilities) => {
  const fake = fakeProvider()
  const provider: Provider.Provider = { ...fake.provider, capabilities: () => Effect.succeed(capabilities) }
  return { provider, calls: fake.calls }
}

describe("Capabilities", () => {
  it.effect("OpenAI's models come from gpt-tokenizer's table; unknown models assume nothing", () =>
    Effect.gen(function* () {
      const mini = yield* Capabilities.openai("gpt-4o-mini")
      assert.strictEqual(mini.contextWindow, 128_000)
      assert.strictEqual(mini.maxOutputTokens, 16_384)
      assert.isTrue(mini.jsonSchema && mini.tools && mini.images)
      assert.strictEqual(mini.tokenizer, "o200k_base")
      // a dated snapshot reads as its model
      assert.strictEqual((yield* Capabilities.openai("gpt-4o-mini-2099-01-01")).contextWindow, 128_000)
      const old = yield* Capabilities.openai("gpt-3.5-turbo")
      assert.isFalse(old.jsonSchema)
      assert.strictEqual(old.tokenizer, "cl100k_base")
      assert.deepStrictEqual(yield* Capabilities.openai("llama3.1:8b"), Capabilities.unknown)
      assert.deepStrictEqual(yield* Capabilities.forKind("simulated", "sim-1"), Capabilities.unknown)
    })
  )

  it("Anthropic's models by prefix: windows, structured outputs, never json_object", () => {
    const haiku = Capabilities.anthropic("claude-haiku-4-5-20251001")
    assert.strictEqual(haiku.contextWindow, 200_000)
    assert.strictEqual(haiku.maxOutputTokens, 64_000)
    assert.isTrue(haiku.jsonSchema)
    assert.isFalse(haiku.jsonObject)
    assert.strictEqual(haiku.tokenizer, "approximate")
    const older = Capabilities.anthropic("claude-sonnet-4-20250514")
    assert.isFalse(older.jsonSchema)
    const unknownClaude = Capabilities.anthropic("claude-next")
    assert.isFalse(unknownClaude.jsonSchema)
    assert.isUndefined(unknownClaude.contextWindow)
  })

  it("the JSON mode: json_schema when taken, else json_object, else prompt-only", () => {
    const all = Capabilities.unknown
    const objectOnly = { ...all, jsonSchema: false }
    const none = { ...all, jsonSchema: false, jsonObject: false }
    assert.strictEqual(Capabilities.jsonMode(all, schemaFormat), schemaFormat)
    assert.deepStrictEqual(Capabilities.jsonMode(objectOnly, schemaFormat), { type: "json_object" })
    assert.isUndefined(Capabilities.jsonMode(none, schemaFormat))
    assert.isUndefined(Capabilities.jsonMode(none, { type: "json_object" }))
    assert.deepStrictEqual(Capabilities.jsonMode(none, { type: "text" }), { type: "text" })
    assert.isUndefined(Capabilities.jsonMode(all, undefined))
  })

  it.effect("token counts: exact with gpt-tokenizer, approximate otherwise, under the byte bound", () =>
    Effect.gen(function* () {
      const request = { messages: [{ role: "user" as const, content: "hello world ".repeat(50) }] }
      const exact = yield* Tokens.count(request, "o200k_base")
      // 101 tokens of text ("hello", then " world" / " hello" one token each, the trailing space one more), 4 for
      // the message, 3 for the request
      assert.strictEqual(exact, 108)
      assert.strictEqual(yield* Tokens.count(request, "approximate"), Math.ceil(600 / 4) + 7)
      assert.isAtLeast(Tokens.upperBound(request), exact)
    })
  )

  describe("the early check", () => {
    it.effect("maxTokens over the model's largest answer is an LMBadRequest", () =>
      Effect.gen(function* () {
        const caps = { ...Capabilities.unknown, maxOutputTokens: 100 }
        const error = yield* Effect.flip(Capabilities.check(caps, "p", { model: "m", messages: [], maxTokens: 101 }))
        assert.strictEqual(error._tag, "LMBadRequest")
        assert.include(error.message, "at most 100")
      })
    )

    it.effect("tools offered to a model without them is an LMBadRequest", () =>
      Effect.gen(function* () {
        const caps = { ...Capabilities.unknown, tools: false }
        const tools = [{ name: "f", description: "d", parameters: {} }]
        const error = yield* Effect.flip(Capabilities.check(caps, "p", { model: "m", messages: [], tools }))
        assert.strictEqual(error._tag, "LMBadRequest")
      })
    )

    it.effect("a prompt over the window less maxTokens fails with the counts (exact encoding)", () =>
      Effect.gen(function* () {
        const caps = { ...Capabilities.unknown, contextWindow: 150, tokenizer: "o200k_base" as const }
        const messages = [{ role: "user" as const, content: "hello world ".repeat(50) }] // 108 tokens
        yield* Capabilities.check(caps, "p", { model: "m", messages })
        const error = yield* Effect.flip(Capabilities.check(caps, "p", { model: "m", messages, maxTokens: 50 }))
        assert.strictEqual(error._tag, "LMContextWindowExceeded")
        if (error._tag === "LMContextWindowExceeded") {
          assert.strictEqual(error.promptTokens, 108)
          assert.strictEqual(error.limitTokens, 100)
        }
        // the model's own input limit applies too
        const capped = { ...caps, contextWindow: 10_000, maxInputTokens: 50 }
        assert.strictEqual(
          (yield* Effect.flip(Capabilities.check(capped, "p", { model: "m", messages })))._tag,
          "LMContextWindowExceeded"
        )
      })
    )
  })

  describe("in the LM service", () => {
    it.effect("a model without structured outputs gets json_object; one without JSON mode, prompt-only", () =>
      Effect.gen(function* () {
        const objectOnly = declaring({ ...Capabilities.unknown, jsonSchema: false })
        const lm1 = yield* LM.make({ provider: objectOnly.provider, model: "m" })
        yield* lm1.complete(ask("q", { responseFormat: schemaFormat }))
        assert.deepStrictEqual(objectOnly.calls[0]!.request.responseFormat, { type: "json_object" })

        const promptOnly = declaring({ ...Capabilities.unknown, jsonSchema: false, jsonObject: false })
        const lm2 = yield* LM.make({ provider: promptOnly.provider, model: "m" })
        yield* lm2.complete(ask("q", { responseFormat: schemaFormat }))
        assert.isUndefined(promptOnly.calls[0]!.request.responseFormat)
        // and the history shows what was sent
        assert.isUndefined((yield* lm2.history)[0]!.request.responseFormat)

        const full = declaring(Capabilities.unknown)
        const lm3 = yield* LM.make({ provider: full.provider, model: "m" })
        yield* lm3.complete(ask("q", { responseFormat: schemaFormat }))
        assert.deepStrictEqual(full.calls[0]!.request.responseFormat, schemaFormat)
      })
    )

    it.effect("a request that cannot fit fails before the provider is called", () =>
      Effect.gen(function* () {
        const small = declaring({ ...Capabilities.unknown, contextWindow: 50 })
        const lm = yield* LM.make({ provider: small.provider, model: "m" })
        const error = yield* Effect.flip(lm.complete(ask("x".repeat(400))))
        assert.strictEqual(error._tag, "LMContextWindowExceeded")
        assert.include(error.message, "approximately")
        assert.strictEqual(small.calls.length, 0)
        // a prompt that fits goes through
        yield* lm.complete(ask("short"))
        assert.strictEqual(small.calls.length, 1)
        assert.strictEqual((yield* lm.capabilities()).contextWindow, 50)
      })
    )

    it.effect("a stream that cannot fit fails the same way", () =>
      Effect.gen(function* () {
        const small = declaring({ ...Capabilities.unknown, contextWindow: 50 })
        const lm = yield* LM.make({ provider: small.provider, model: "m" })
        const error = yield* Effect.flip(Stream.runDrain(lm.stream(ask("x".repeat(400)))))
        assert.strictEqual(error._tag, "LMContextWindowExceeded")
      })
    )

    it.effect("providers.<name>.capabilities overrides what is known, through LM.layer", () =>
      Effect.gen(function* () {
        const fake = fakeProvider()
        const kind = ProviderKind.layer("simulated", () => Effect.succeed(fake.provider))
        const config = Config.layerTest({
          providers: { default: { capabilities: { contextWindow: 40, jsonObject: false, jsonSchema: false } } }
        })
        const lm = LM.layer.pipe(Layer.provide(Layer.merge(kind, config)))
        yield* Effect.gen(function* () {
          const error = yield* Effect.flip(LM.complete(ask("y".repeat(400))))
          assert.strictEqual(error._tag, "LMContextWindowExceeded")
          yield* LM.complete(ask("ok", { responseFormat: { type: "json_object" } }))
          assert.strictEqual(fake.calls.length, 1)
          assert.isUndefined(fake.calls[0]!.request.responseFormat)
        }).pipe(Effect.provide(lm), Effect.scoped)
      })
    )
  })
})
