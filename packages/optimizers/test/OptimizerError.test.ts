import { Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as OptimizerError from "../src/OptimizerError.js"
import * as TPE from "../src/instruction-search/TPE.js"

describe("OptimizerError", () => {
  it("every error of the package is a family member and round-trips through the union (property)", () => {
    const encode = Schema.encodeSync(OptimizerError.AnyOptimizerError)
    const decode = Schema.decodeUnknownSync(OptimizerError.AnyOptimizerError)
    fc.assert(
      fc.property(Arbitrary.make(OptimizerError.AnyOptimizerError), (error) => {
        assert.isTrue(Errors.isDSPyError(error), error._tag)
        assert.isTrue(OptimizerError.isOptimizerError(error), error._tag)
        assert.match(error.code, /^[a-z][a-z_]*$/)
        // A structured clone of the encoded form, as across a worker or process boundary (NaN survives, unlike JSON).
        const back = decode(structuredClone(encode(error)))
        assert.strictEqual(back.constructor, error.constructor)
        assert.strictEqual(back.code, error.code)
        assert.strictEqual(back.retryable, error.retryable)
      }),
      { numRuns: 200 }
    )
  })

  it("TPE re-exports the TPEError of the errors module; look-alikes are rejected", () => {
    assert.strictEqual(TPE.TPEError, OptimizerError.TPEError)
    assert.isTrue(emptySpaceFailsTyped())
    assert.isFalse(OptimizerError.isOptimizerError({ _tag: "TPEError", message: "m" }))
    assert.isFalse(OptimizerError.isOptimizerError(new Errors.UnexpectedError({ message: "m" })))
  })
})

/** The sampler fails with the module's error class for an empty space. */
const emptySpaceFailsTyped = (): boolean => {
  const made = TPE.make({})
  return made._tag === "Left" && made.left instanceof OptimizerError.TPEError
}
