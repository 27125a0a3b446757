import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { layer, run } from "../src/Multimodal.js"

describe("the multimodal example", () => {
  it.effect("BootstrapFewShot raises the picture-counting score; a file is read; a URL is refused by default", () =>
    Effect.gen(function* () {
      const report = yield* run(0)
      assert.isAbove(report.optimized, report.baseline + 10)
      assert.isAbove(report.demos, 0)
      assert.isAtLeast(report.fromFile, 1)
      assert.strictEqual(report.urlRefused, "url_fetch_disabled")
    }).pipe(Effect.provide(layer))
  )
})
