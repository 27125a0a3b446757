/**
 * What counts against a module's own circuit breaker: its defects and its own retryable failures, never an LM
 * error (those are the provider breaker's), told apart by the LM error family's guard.
 */
import { LMError } from "@effect-dspy/core"
import { Errors } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { isModuleFailure } from "../src/internal/moduleManager/protections.js"

class ModuleOverloaded extends Errors.TaggedError<ModuleOverloaded>()(
  "ModuleOverloaded",
  { detail: Schema.String },
  { code: "module_overloaded", retryable: true }
) {}

/** A look-alike of an LM error outside the family: not an LM error, not retryable either. */
const lookAlike = { _tag: "LMServerError", message: "500", retryable: true, code: "lm_server" }

describe("a module's breaker", () => {
  it("does not count LM errors, retryable or not", () => {
    const lmErrors = [
      new LMError.LMRateLimited({ message: "429", provider: "p" }),
      new LMError.LMTimeout({ message: "slow", provider: "p", timeoutMs: 10 }),
      new LMError.LMServerError({ message: "500", provider: "p", status: 500 }),
      new LMError.LMContextWindowExceeded({ message: "too long", provider: "p" }),
      new LMError.LMAuthError({ message: "key", provider: "p" }),
      new LMError.LMBadRequest({ message: "bad", provider: "p" })
    ]
    for (const error of lmErrors) assert.isFalse(isModuleFailure({ _tag: "Fail", error }), error._tag)
  })

  it("counts defects and the module's own retryable failures, not its other failures", () => {
    assert.isTrue(isModuleFailure({ _tag: "Die", defect: new Error("boom") }))
    assert.isTrue(isModuleFailure({ _tag: "Fail", error: new ModuleOverloaded({ message: "busy", detail: "x" }) }))
    assert.isFalse(isModuleFailure({ _tag: "Fail", error: new Errors.UnexpectedError({ message: "bad input" }) }))
    assert.isFalse(isModuleFailure({ _tag: "Fail", error: lookAlike }))
  })
})
