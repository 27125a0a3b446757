import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as History from "../../src/lm/History.js"
import * as LM from "../../src/lm/LM.js"
import { fakeProvider } from "./fixtures.js"

const ask = (content: string): LM.Request => ({ messages: [{ role: "user", content }] })

describe("LM history bounded by bytes", () => {
  it.effect("large prompts keep the history within historyMaxBytes (the newest call always kept)", () =>
    Effect.gen(function* () {
      const { provider } = fakeProvider()
      const lm = yield* LM.make({ provider, historyMaxBytes: 1_000_000 })
      // Each call holds a 100,000-character prompt and its echo: about 400 KB as UTF-16.
      for (let i = 0; i < 10; i++) yield* lm.complete(ask(`${i}:${"p".repeat(100_000)}`))
      const history = yield* lm.history
      assert.isAtLeast(history.length, 1)
      assert.isBelow(history.length, 10)
      assert.isAtMost(
        history.reduce((n, e) => n + History.sizeOf(e), 0),
        1_000_000
      )
      assert.isTrue((history.at(-1)!.request.messages[0]!.content as string).startsWith("9:"))
      // Entry count still bounds it too.
      const small = yield* LM.make({ provider, historySize: 3 })
      for (let i = 0; i < 5; i++) yield* small.complete(ask(`q${i}`))
      assert.deepStrictEqual(
        (yield* small.history).map((e) => e.request.messages[0]!.content),
        ["q2", "q3", "q4"]
      )
    })
  )

  it.effect("one call larger than the whole budget is kept alone", () =>
    Effect.gen(function* () {
      const { provider } = fakeProvider()
      const lm = yield* LM.make({ provider, historyMaxBytes: 10_000 })
      yield* lm.complete(ask("small"))
      yield* lm.complete(ask("x".repeat(50_000)))
      const history = yield* lm.history
      assert.strictEqual(history.length, 1)
      assert.strictEqual(history[0]!.request.messages[0]!.content.length, 50_000)
    })
  )
})
