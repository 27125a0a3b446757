import { SimLM } from "@effect-dspy/core"
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { runDemo } from "../src/Demo.js"

it.scoped("the demo serves every request through a crash and reports accuracy and usage", () =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const summary = yield* runDemo({ log: (l) => lines.push(l), devSize: 30 })
    assert.strictEqual(summary.provider, "simulated")
    assert.strictEqual(summary.requestsServed, 30)
    assert.strictEqual(summary.requestErrors, 0)
    assert.strictEqual(summary.restarts, 1)
    // ChainOfThought beats Predict on the simulated arithmetic task (calibrated ~52% vs ~40%).
    assert.isAbove(summary.chainOfThoughtAccuracy, summary.predictAccuracy)
    // Two evaluations and the served requests all went to the LM: 3 x 30 calls.
    assert.strictEqual(summary.lmCalls, 90)
    assert.isAbove(summary.tokens, 0)
    const output = lines.join("\n")
    assert.include(output, "qa-server (worker)")
    assert.match(output, /restarted it as pid <0\.\d+\.0>/)
  }).pipe(Effect.provide(SimLM.layer({ seed: 3 })))
)
