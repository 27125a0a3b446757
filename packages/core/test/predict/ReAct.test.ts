import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { LMContextWindowExceeded } from "../../src/lm/LMError.js"
import * as Module from "../../src/primitives/Module.js"
import * as ReAct from "../../src/predict/ReAct.js"
import * as Tool from "../../src/predict/Tool.js"
import * as Signature from "../../src/signature/Signature.js"
import type * as Completion from "../../src/lm/Completion.js"
import * as Fake from "./FakeProvider.js"

const sig = Signature.make("question -> answer")

const makeSearch = (calls: Array<string>) =>
  Tool.make({
    name: "search",
    description: "Search the documents",
    parameters: Schema.Struct({ query: Schema.String }),
    run: ({ query }) =>
      Effect.suspend(() => {
        calls.push(query)
        return query === "boom" ? Effect.fail(new Error("index offline")) : Effect.succeed(`doc: ${query} is in Paris`)
      })
  })

const isReact = (r: Completion.CompletionRequest) => Fake.system(r).includes("`next_thought`")
const steps = (r: Completion.CompletionRequest) => (Fake.lastUser(r).match(/\[\[ ## thought_\d+ ## \]\]/g) ?? []).length

const step = (thought: string, tool: string, args: unknown) =>
  Fake.chat({ next_thought: thought, next_tool_name: tool, next_tool_args: JSON.stringify(args) })

describe("ReAct", () => {
  it.effect("calls tools, finishes, then extracts the outputs from the trajectory", () => {
    const calls: Array<string> = []
    const fake = Fake.make((r) => {
      if (!isReact(r)) return Fake.chat({ reasoning: "the doc says Paris", answer: "Paris" })
      return steps(r) === 0 ? step("search it", "search", { query: "eiffel" }) : step("done", "finish", {})
    })
    const agent = ReAct.make(sig, [makeSearch(calls)])
    return Effect.gen(function* () {
      const prediction = yield* Module.call(agent, { question: "Where is the Eiffel tower?" })
      assert.strictEqual(prediction.get("answer"), "Paris")
      assert.deepStrictEqual(calls, ["eiffel"])
      const trajectory = prediction.get("trajectory")
      assert.strictEqual(trajectory.observation_0, "doc: eiffel is in Paris")
      assert.strictEqual(trajectory.tool_name_1, "finish")
      assert.strictEqual(trajectory.observation_1, "Completed.")
      assert.strictEqual(fake.requests.length, 3)
      const extract = fake.requests[2]!
      assert.include(Fake.lastUser(extract), "doc: eiffel is in Paris")
      const instructions = Fake.system(fake.requests[0]!)
      assert.include(instructions, "(1) search, whose description is <desc>Search the documents</desc>.")
      assert.include(instructions, "(2) finish, whose description is")
      assert.deepStrictEqual(
        Module.namedPredictors(agent).map((p) => p.path),
        ["react", "extract.predict"]
      )
      assert.strictEqual(prediction.lmCalls, 3)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("takes DSPy's string signature, typed by it", () => {
    const calls: Array<string> = []
    const fake = Fake.make((r) =>
      isReact(r) ? step("done", "finish", {}) : Fake.chat({ reasoning: "counted", answer: "3" })
    )
    const agent = ReAct.make("question -> answer: int", [makeSearch(calls)], { maxIters: 2 })
    return Effect.gen(function* () {
      const prediction = yield* Module.call(agent, { question: "How many?" })
      const answer: number = prediction.get("answer")
      assert.strictEqual(answer, 3)
      assert.strictEqual(agent.signature, "question: str -> answer: int")
      assert.deepStrictEqual(calls, [])
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("stops after maxIters steps", () => {
    const calls: Array<string> = []
    const fake = Fake.make((r) =>
      isReact(r) ? step("again", "search", { query: `q${steps(r)}` }) : Fake.chat({ reasoning: "r", answer: "?" })
    )
    return Effect.gen(function* () {
      const prediction = yield* Module.call(ReAct.make(sig, [makeSearch(calls)], { maxIters: 3 }), { question: "q" })
      assert.deepStrictEqual(calls, ["q0", "q1", "q2"])
      assert.strictEqual(fake.requests.filter(isReact).length, 3)
      assert.strictEqual(prediction.get("answer"), "?")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("tool errors and bad arguments become observations", () => {
    const calls: Array<string> = []
    const fake = Fake.make((r) => {
      if (!isReact(r)) return Fake.chat({ reasoning: "r", answer: "none" })
      const n = steps(r)
      if (n === 0) return step("try", "search", { query: "boom" })
      if (n === 1) return step("try again", "search", { q: 1 })
      return step("give up", "finish", {})
    })
    return Effect.gen(function* () {
      const prediction = yield* Module.call(ReAct.make(sig, [makeSearch(calls)]), { question: "q" })
      const trajectory = prediction.get("trajectory")
      assert.strictEqual(trajectory.observation_0, "Execution error in search: index offline")
      assert.include(String(trajectory.observation_1), "Execution error in search: Invalid arguments for search")
      assert.deepStrictEqual(calls, ["boom"])
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("drops the oldest steps when the context window overflows", () => {
    const calls: Array<string> = []
    const fake = Fake.make((r) => {
      if (steps(r) > 2) {
        return Effect.fail(new LMContextWindowExceeded({ provider: "fake", message: "prompt too long" }))
      }
      if (!isReact(r)) return Fake.chat({ reasoning: "r", answer: "ok" })
      return Fake.lastUser(r).includes("q4")
        ? step("done", "finish", {})
        : step("more", "search", { query: `q${calls.length}` })
    })
    return Effect.gen(function* () {
      const prediction = yield* Module.call(ReAct.make(sig, [makeSearch(calls)]), { question: "q" })
      assert.strictEqual(prediction.get("answer"), "ok")
      const trajectory = prediction.get("trajectory")
      assert.isUndefined(trajectory.thought_0)
      assert.isDefined(trajectory.thought_5)
      const overflowed = fake.requests.filter((r) => steps(r) > 2)
      assert.isTrue(overflowed.length > 0)
      assert.isTrue(fake.requests.every((r) => steps(r) <= 3))
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("fails with ReActContextOverflow when nothing is left to drop", () => {
    const fake = Fake.make(() =>
      Effect.fail(new LMContextWindowExceeded({ provider: "fake", message: "prompt too long" }))
    )
    return Effect.gen(function* () {
      const error = yield* Effect.flip(Module.call(ReAct.make(sig, []), { question: "q" }))
      assert.strictEqual(error._tag, "ReActContextOverflow")
    }).pipe(Effect.provide(fake.layer))
  })
})
