import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Config from "../src/Config.js"
import * as Errors from "../src/Errors.js"
import * as FoundationError from "../src/FoundationError.js"

describe("FoundationError", () => {
  it("every error of the package is a family member and round-trips through the union (property)", () => {
    const encode = Schema.encodeSync(FoundationError.FoundationError)
    const decode = Schema.decodeUnknownSync(FoundationError.FoundationError)
    fc.assert(
      fc.property(Arbitrary.make(FoundationError.FoundationError), (error) => {
        assert.isTrue(Errors.isDSPyError(error), error._tag)
        assert.isTrue(FoundationError.isFoundationError(error), error._tag)
        assert.match(error.code, /^[a-z][a-z_]*$/)
        // A structured clone of the encoded form, as across a worker or process boundary.
        const back = decode(structuredClone(encode(error)))
        assert.strictEqual(back.constructor, error.constructor)
        assert.strictEqual(back.code, error.code)
        assert.strictEqual(back.retryable, error.retryable)
      }),
      { numRuns: 300 }
    )
  })

  it("the modules re-export the very classes; look-alikes are rejected", () => {
    assert.strictEqual(Config.ConfigInvalid, FoundationError.ConfigInvalid)
    assert.strictEqual(CircuitBreaker.CircuitOpen, FoundationError.CircuitOpen)
    assert.strictEqual(Errors.UnexpectedError, FoundationError.UnexpectedError)
    assert.isFalse(FoundationError.isFoundationError({ _tag: "ConfigInvalid", message: "m", source: "s", issues: [] }))
  })
})
