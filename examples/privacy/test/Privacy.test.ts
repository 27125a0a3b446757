import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { run } from "../src/Privacy.js"

describe("the privacy example", () => {
  it.effect("masks what the LM sees, blocks the billing module, scrubs a stored record", () =>
    Effect.gen(function* () {
      const result = yield* run
      assert.include(result.sent, "<EMAIL_1>")
      assert.notInclude(result.sent, "ada.lovelace@example.com")
      assert.strictEqual(result.blocked, "PrivacyBlocked")
      assert.isAbove(result.detected, 0)
      const stored = JSON.stringify(result.record)
      assert.notInclude(stored, "ada.lovelace@example.com")
      assert.notInclude(stored, "4111 1111 1111 1111")
    })
  )
})
