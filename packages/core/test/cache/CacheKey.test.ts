import { assert, describe, it } from "@effect/vitest"
import { CanonicalJson } from "@effect-dspy/foundation"
import * as fc from "fast-check"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as CacheKey from "../../src/cache/CacheKey.js"
import type * as Completion from "../../src/lm/Completion.js"
import * as Signature from "../../src/signature/Signature.js"

const base: Completion.CompletionRequest = {
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "What is 2+2?" }
  ],
  temperature: 0.7,
  n: 2,
  maxTokens: 100,
  stop: ["\n\n"]
}

describe("CacheKey", () => {
  it("is a hex sha256", () => {
    assert.match(CacheKey.make(base), /^[0-9a-f]{64}$/)
  })

  it("is the sha256 of the canonical request, the same when asked again and after many other requests", () => {
    const expected = (r: Completion.CompletionRequest) => CanonicalJson.sha256Hex(CacheKey.canonicalRequest(r))
    assert.strictEqual(CacheKey.make(base), expected(base))
    assert.strictEqual(CacheKey.make({ ...base }), expected(base))
    // More distinct requests than the memo of recent keys holds: each key is still its request's own.
    for (let i = 0; i < 5000; i++) {
      const other = { ...base, messages: [{ role: "user" as const, content: `question ${i}` }] }
      assert.strictEqual(CacheKey.make(other), expected(other))
    }
    assert.strictEqual(CacheKey.make(base), expected(base))
    assert.notStrictEqual(CacheKey.make({ ...base, temperature: 0.1 }), CacheKey.make(base))
  })

  it("excludes api keys and base URLs", () => {
    const withSecrets = { ...base, apiKey: "sk-secret", baseUrl: "http://a", baseURL: "http://b", api_key: "x" }
    assert.strictEqual(CacheKey.make(withSecrets as Completion.CompletionRequest), CacheKey.make(base))
    assert.notInclude(CacheKey.canonicalRequest(withSecrets as Completion.CompletionRequest), "sk-secret")
  })

  it("includes the rollout id and every parameter", () => {
    const keys = new Set([
      CacheKey.make(base),
      CacheKey.make({ ...base, rolloutId: 1 }),
      CacheKey.make({ ...base, rolloutId: 2 }),
      CacheKey.make({ ...base, temperature: 0 }),
      CacheKey.make({ ...base, n: 1 }),
      CacheKey.make({ ...base, maxTokens: 10 }),
      CacheKey.make({ ...base, stop: ["x"] }),
      CacheKey.make({ ...base, model: "gpt-4o" }),
      CacheKey.make({ ...base, responseFormat: { type: "json_object" } }),
      CacheKey.make({ ...base, tools: [{ name: "f", description: "d", parameters: {} }] }),
      CacheKey.make({ ...base, messages: [{ role: "user", content: "What is 2+3?" }] })
    ])
    assert.strictEqual(keys.size, 11)
  })

  it("drops undefined members", () => {
    assert.strictEqual(
      CacheKey.make({ ...base, rolloutId: undefined } as unknown as Completion.CompletionRequest),
      CacheKey.make(base)
    )
  })

  it("does not depend on the order parameters were written in", () => {
    const entries = Object.entries({ ...base, rolloutId: 3, responseFormat: { type: "json_object" } })
    fc.assert(
      fc.property(fc.shuffledSubarray(entries, { minLength: entries.length }), (shuffled) => {
        const reordered = Object.fromEntries(shuffled) as unknown as Completion.CompletionRequest
        return CacheKey.make(reordered) === CacheKey.make(Object.fromEntries(entries) as never)
      })
    )
  })

  it("orders nested object keys canonically", () => {
    assert.strictEqual(
      CacheKey.canonicalRequest({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } } as never),
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}'
    )
  })
  it("keeps the persisted key format: the canonical JSON of the request without its excluded fields", () => {
    const shared = { role: "system", content: "Be brief." } as const
    // Messages an adapter shares between calls (their text is written once, when they are built).
    const formatted = ChatAdapter.format(Signature.make("question -> answer"), [{ question: "q", answer: "a" }], {
      question: "x"
    })
    const requests: Array<Completion.CompletionRequest> = [
      base,
      { model: "m", messages: formatted.messages },
      { model: "m", messages: formatted.messages, temperature: 0.5 },
      { ...base, messages: [shared, { role: "user", content: "a" }] },
      // The same shared message object again, with other fields (its remembered text is reused).
      { model: "m", messages: [shared, { role: "user", content: "b" }], temperature: Number.NaN, apiKey: "k" } as never,
      {
        messages: [shared],
        responseFormat: { type: "json_schema", name: "o", schema: { b: 1, a: undefined } },
        n: undefined
      } as never,
      { messages: [], model: "m", extra: { toJSON: () => undefined }, at: new Date(0) } as never
    ]
    for (const request of requests) {
      assert.strictEqual(
        CacheKey.canonicalRequest(request),
        CanonicalJson.stringifyWithout(request, CacheKey.excludedFields)
      )
    }
  })
})
