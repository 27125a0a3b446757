/**
 * The supervised providers report their models' capabilities (with `providers.<name>.capabilities` over them), so
 * the application's LM chooses the JSON mode and fails early a request that cannot fit, as `LM.layer` does.
 */
import { LM } from "@effect-dspy/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Application, LMProviders } from "../src/index.js"

const config = {
  modules: { cacheEnabled: false },
  providers: { default: { capabilities: { contextWindow: 60, jsonSchema: false, jsonObject: false } } }
}

describe("supervised provider capabilities", () => {
  it.scoped("a prompt over the configured window fails before the provider is called; JSON goes prompt-only", () =>
    Effect.gen(function* () {
      const lm = yield* LM.LM
      const capabilities = yield* lm.capabilities()
      assert.strictEqual(capabilities.contextWindow, 60)
      const error = yield* Effect.flip(lm.complete({ messages: [{ role: "user", content: "x".repeat(1_000) }] }))
      assert.strictEqual(error._tag, "LMContextWindowExceeded")
      const status = yield* Effect.flatMap(LMProviders.LMProviders, (p) => p.status)
      assert.strictEqual(status[0]!.calls, 0, "nothing reached the provider")
      yield* lm.complete({
        messages: [{ role: "user", content: "What is 2 + 3?" }],
        responseFormat: { type: "json_object" }
      })
      const history = yield* lm.history
      assert.isUndefined(history.at(-1)!.request.responseFormat)
      assert.strictEqual((yield* Effect.flatMap(LMProviders.LMProviders, (p) => p.status))[0]!.calls, 1)
    }).pipe(Effect.provide(Application.layerDefault({ config: { defaults: config, env: false } })))
  )
})
