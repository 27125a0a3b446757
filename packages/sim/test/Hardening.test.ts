import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Prompt from "../src/Prompt.js"
import * as Server from "../src/Server.js"

// No timing assertions: the test timeout is the bound. Quadratic parsing of these inputs took minutes.
describe("hostile input to the simulated LM", () => {
  it("a 1 MB question without sentence punctuation is read in linear time", () => {
    assert.isUndefined(Arithmetic.parseProblem("Ann has 3 apples and ".repeat(50_000)))
    assert.isUndefined(Arithmetic.parseProblem("x".repeat(1_000_000)))
  })

  it("a 1 MB prompt of near-markers is read in linear time", () => {
    const text = "[[ ## ".repeat(200_000)
    const parsed = Prompt.parse([
      { role: "system", content: "Your input fields are:\n1. `q` (str)\nYour output fields are:\n1. `a` (str)" },
      { role: "user", content: `[[ ## q ## ]]\n${text}` }
    ])
    assert.strictEqual(parsed.request["q"], text.trim())
  })

  it.scoped("the server answers 413 to a body over maxBodyBytes", () =>
    Effect.gen(function* () {
      const server = yield* Server.serve({ maxBodyBytes: 65_536 })
      const res = yield* Effect.promise(() =>
        fetch(`${server.url}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "sim-1", messages: [{ role: "user", content: "x".repeat(1_000_000) }] })
        })
      )
      assert.strictEqual(res.status, 413)
      const body = (yield* Effect.promise(() => res.json())) as { error: { message: string } }
      assert.include(body.error.message, "65536")
    })
  )
})
