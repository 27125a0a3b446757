import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Faults from "../src/Faults.js"
import * as Instructions from "../src/Instructions.js"
import { Random } from "@effect-dspy/foundation"
import * as Prompt from "../src/Prompt.js"
import * as Reflection from "../src/Reflection.js"
import * as Skill from "../src/Skill.js"
import * as Server from "../src/Server.js"
import * as Task from "../src/Task.js"

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

  // Found by `pnpm lint:regex` (recheck): `/[.\s]+$/` in the answer comparison.
  it("an answer of 1 MB of blanks followed by something else is compared in linear time", () => {
    const attack = `${"\t".repeat(1_000_000)}\u0000\t`
    assert.isFalse(Task.sameValue(attack, "paris"))
    assert.isTrue(Task.sameValue(`${attack}. .`, attack))
    assert.isTrue(Task.sameValue("Paris. ", "paris"))
  })

  // Found by `pnpm lint:regex` (recheck): `/[ \t]+$/gm` in the canonical text of a request (the cache key).
  it("a message with 1 MB of blanks not ending its line is made canonical in linear time", () => {
    const request = (content: string) => ({ model: "sim-1", messages: [{ role: "user" as const, content }] })
    const blanks = "\t".repeat(1_000_000)
    assert.strictEqual(
      Prompt.canonical(request(`${blanks}\u0000 \t\nnext  \nlast`)),
      Prompt.canonical(request(`${blanks}\u0000\nnext\nlast`))
    )
    assert.notStrictEqual(Prompt.canonical(request("a \nb")), Prompt.canonical(request("a b")))
  })

  // Found by `pnpm lint:regex` (recheck): `/^([A-Z][\w ]*?):\s*(.*)$/` reading MIPROv2's task demos.
  it("a task demo line with 1 MB of blanks before a line separator is read in linear time", () => {
    const demos = (text: string) =>
      Reflection.observations(
        Prompt.parse([
          {
            role: "system",
            content: "Your input fields are:\n1. `task_demos` (str)\nYour output fields are:\n1. `a` (str)"
          },
          { role: "user", content: `[[ ## task_demos ## ]]\n${text}` }
        ])
      )
    const attack = `Question:${" ".repeat(1_000_000)}:\u2028x`
    assert.strictEqual(demos(attack).length, 0)
    assert.deepStrictEqual(
      demos("Question:   What is 2 + 2?\nAnswer: 4").map((o) => o.inputs),
      [{ question: "What is 2 + 2?", answer: "4" }]
    )
  })

  // Found by `pnpm lint:regex` (recheck): `/\[\[ ## [^\]]+? ## \]\]\n?/g` finding the header a fault drops.
  it("dropping a marker from 1 MB of near-markers takes linear time", () => {
    const rng = Random.fromState(Random.hashParts("hardening"))
    const attack = "[[ ## \n".repeat(150_000)
    // No header: the fault appends a broken one instead.
    assert.strictEqual(Faults.corrupt(attack, "missing_marker", rng), `${attack} [[ ## completed`)
    // With headers: the one before the last is dropped, with its newline (a `]` ends a name: `[[ ## a]b ## ]]` is none).
    assert.strictEqual(
      Faults.corrupt(`${attack}[[ ## a]b ## ]]\n[[ ## answer ## ]]\n4\n[[ ## completed ## ]]`, "missing_marker", rng),
      `${attack}[[ ## a]b ## ]]\n4\n[[ ## completed ## ]]`
    )
  })

  // Found by `pnpm lint:regex` (recheck): the equation reader of the reasoning-quality score, on a digit run.
  it("reasoning with a 1 MB run of digits is scored in linear time", () => {
    const solution = { intermediates: [12, 36] } as unknown as Task.Solution
    assert.strictEqual(Skill.reasoningQuality(`${"0".repeat(1_000_000)}0=0-0=0 12 36`, solution), 1)
    // A false equation still lowers the score; a true one does not.
    assert.strictEqual(Skill.reasoningQuality("12 * 3 = 36", solution), 1)
    assert.isBelow(Skill.reasoningQuality("12 * 3 = 37, 36", solution), 1)
  })

  // Found by `pnpm lint:regex` (recheck): `/^\s+instructions:\s*(.*)$/` reading SIMBA's module definitions.
  it("a module definition with 1 MB of blanks before a line separator is read in linear time", () => {
    const propose = (defn: string) =>
      Instructions.propose(
        Prompt.parse([
          {
            role: "system",
            content:
              "Your input fields are:\n1. `modules_defn` (str)\nYour output fields are:\n1. `new_instructions` (str)"
          },
          { role: "user", content: `[[ ## modules_defn ## ]]\nqa: question -> answer\n${defn}` }
        ]),
        [],
        Random.fromState(Random.hashParts("hardening")),
        0,
        { module: "qa" }
      )
    assert.isString(propose(`  instructions:${"\t".repeat(1_000_000)}\u2028x`))
    assert.isTrue(propose("  instructions:   Answer briefly.").startsWith("Answer briefly."))
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
