import { Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { SimServer } from "../src/index.js"
import * as SimError from "../src/SimError.js"
import * as SimLM from "../src/SimLM.js"

const members = SimError.SimError.members

describe("SimError", () => {
  it("every error of the package is a family member with a distinct tag and a snake_case code (property)", () => {
    const tags = members.map((m) => m.identifier)
    assert.deepStrictEqual([...tags].sort(), ["@effect-dspy/SimConfigError", "@effect-dspy/SimServerError"])
    fc.assert(
      fc.property(Arbitrary.make(SimError.SimError), (error) => {
        assert.isTrue(Errors.isDSPyError(error), error._tag)
        assert.isTrue(SimError.isSimError(error), error._tag)
        assert.match(error.code, /^sim_[a-z_]+$/)
        assert.isFalse(error.retryable)
      }),
      { numRuns: 200 }
    )
  })

  it("declares each error's code and retry policy", () => {
    const config = new SimError.SimConfigError({ message: "bad options" })
    const server = new SimError.SimServerError({ message: "port in use" })
    assert.deepStrictEqual([config.code, config.retryable], ["sim_config", false])
    assert.deepStrictEqual([server.code, server.retryable], ["sim_server", false])
    assert.isFalse(Errors.isRetryable(config))
  })

  it("encode/decode through the union gives back the same class, code and retryable (property)", () => {
    const encode = Schema.encodeSync(SimError.SimError)
    const decode = Schema.decodeUnknownSync(SimError.SimError)
    fc.assert(
      fc.property(Arbitrary.make(SimError.SimError), (error) => {
        // A structured clone of the encoded form, as across a worker or process boundary.
        const back = decode(structuredClone(encode(error)))
        assert.strictEqual(back.constructor, error.constructor)
        assert.strictEqual(back._tag, error._tag)
        assert.strictEqual(back.code, error.code)
        assert.strictEqual(back.retryable, error.retryable)
        assert.strictEqual(back.message, error.message)
      }),
      { numRuns: 200 }
    )
  })

  it("the modules that raise them re-export the very classes of SimError", () => {
    assert.strictEqual(SimLM.SimConfigError, SimError.SimConfigError)
    assert.strictEqual(SimServer.SimServerError, SimError.SimServerError)
    assert.throws(() => SimLM.make({ faults: { rates: { rate_limit: 2 } } }), SimError.SimConfigError)
  })

  it("rejects look-alikes and other packages' errors", () => {
    assert.isFalse(SimError.isSimError({ _tag: "SimConfigError", message: "m" }))
    assert.isFalse(SimError.isSimError(new Errors.UnexpectedError({ message: "m" })))
    assert.isFalse(SimError.isSimError(new Error("SimServerError")))
  })
})
