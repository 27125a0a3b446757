import { Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as LMError from "../../src/lm/LMError.js"

const all: ReadonlyArray<LMError.LMError> = [
  new LMError.LMRateLimited({ message: "m", provider: "p", retryAfterMs: 5 }),
  new LMError.LMTimeout({ message: "m", provider: "p", timeoutMs: 10 }),
  new LMError.LMContextWindowExceeded({ message: "m", provider: "p" }),
  new LMError.LMAuthError({ message: "m", provider: "p" }),
  new LMError.LMBadRequest({ message: "m", provider: "p", status: 400 }),
  new LMError.LMServerError({ message: "m", provider: "p", status: 503 })
]

describe("LMError", () => {
  it("every LM error is a family member with its declared code and retry policy", () => {
    const declared = all.map((e) => [e._tag, e.code, e.retryable])
    assert.deepStrictEqual(declared, [
      ["LMRateLimited", "lm_rate_limited", true],
      ["LMTimeout", "lm_timeout", true],
      ["LMContextWindowExceeded", "lm_context_window_exceeded", false],
      ["LMAuthError", "lm_auth", false],
      ["LMBadRequest", "lm_bad_request", false],
      ["LMServerError", "lm_server", true]
    ])
    for (const e of all) assert.isTrue(Errors.isDSPyError(e), e._tag)
  })

  it("isLMError tells LM failures from other family errors and look-alikes", () => {
    for (const e of all) assert.isTrue(LMError.isLMError(e), e._tag)
    assert.isFalse(LMError.isLMError(new Errors.UnexpectedError({ message: "m" })))
    assert.isFalse(LMError.isLMError({ _tag: "LMTimeout", message: "m", provider: "p", timeoutMs: 1 }))
  })

  it("the LMError union round-trips each member to its own class", () => {
    for (const e of all) {
      const back = Schema.decodeUnknownSync(LMError.LMError)(
        JSON.parse(JSON.stringify(Schema.encodeSync(LMError.LMError)(e)))
      )
      assert.strictEqual(back.constructor, e.constructor)
      assert.strictEqual(back.code, e.code)
      assert.strictEqual(back.retryable, e.retryable)
    }
  })
})
