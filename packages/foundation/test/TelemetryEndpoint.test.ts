/**
 * The OTLP endpoint's trailing slashes are trimmed in one pass: recheck (`pnpm lint:regex`) found `/\/+$/`
 * quadratic on a long run of slashes not at the end. A 1 MB adversarial input must simply complete (the test
 * timeout is the bound; nothing here measures time).
 */
import { assert, describe, it } from "@effect/vitest"
import { trimTrailingSlashes } from "../src/internal/telemetry.js"

describe("trimTrailingSlashes", () => {
  it("completes on a 1 MB run of slashes not at the end, and keeps them", () => {
    const attack = `${"/".repeat(1_000_000)}\u0000`
    assert.strictEqual(trimTrailingSlashes(`${attack}/`), attack)
  })

  it("removes the trailing slashes only", () => {
    assert.strictEqual(trimTrailingSlashes("http://collector:4318///"), "http://collector:4318")
    assert.strictEqual(trimTrailingSlashes("http://collector:4318/v1"), "http://collector:4318/v1")
    assert.strictEqual(trimTrailingSlashes("///"), "")
  })
})
