import { Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as CoreError from "../src/CoreError.js"
import * as Evaluate from "../src/evaluate/Evaluate.js"
import * as LMError from "../src/lm/LMError.js"
import * as Predict from "../src/predict/Predict.js"
import * as SignatureError from "../src/signature/SignatureError.js"

const members = CoreError.CoreError.members

describe("CoreError", () => {
  it("every error of the package is a family member with a distinct tag and a snake_case code (property)", () => {
    const tags = members.map((m) => m.identifier)
    assert.strictEqual(new Set(tags).size, tags.length)
    fc.assert(
      fc.property(Arbitrary.make(CoreError.CoreError), (error) => {
        assert.isTrue(Errors.isDSPyError(error), error._tag)
        assert.isTrue(CoreError.isCoreError(error), error._tag)
        assert.match(error.code, /^[a-z][a-z_]*$/)
        assert.isBoolean(error.retryable)
      }),
      { numRuns: 300 }
    )
  })

  it("encode/decode through the union gives back the same class, code and retryable (property)", () => {
    const encode = Schema.encodeSync(CoreError.CoreError)
    const decode = Schema.decodeUnknownSync(CoreError.CoreError)
    fc.assert(
      fc.property(Arbitrary.make(CoreError.CoreError), (error) => {
        // A structured clone of the encoded form, as across a worker or process boundary (NaN survives, unlike JSON).
        const back = decode(structuredClone(encode(error)))
        assert.strictEqual(back.constructor, error.constructor)
        assert.strictEqual(back._tag, error._tag)
        assert.strictEqual(back.code, error.code)
        assert.strictEqual(back.retryable, error.retryable)
        assert.strictEqual(back.message, error.message)
      }),
      { numRuns: 300 }
    )
  })

  it("the domain modules re-export the very classes of CoreError", () => {
    assert.strictEqual(Predict.PredictConfigError, CoreError.PredictConfigError)
    assert.strictEqual(Evaluate.EvaluateMaxErrors, CoreError.EvaluateMaxErrors)
    assert.strictEqual(LMError.LMTimeout, CoreError.LMTimeout)
    assert.strictEqual(SignatureError.SignatureParseError, CoreError.SignatureParseError)
  })

  it("rejects look-alikes and other packages' errors", () => {
    assert.isFalse(CoreError.isCoreError({ _tag: "LMTimeout", message: "m", provider: "p", timeoutMs: 1 }))
    assert.isFalse(CoreError.isCoreError(new Errors.UnexpectedError({ message: "m" })))
    assert.isFalse(CoreError.isCoreError(new Error("LMTimeout")))
  })
})
