import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AnswerMatch } from "@effect-dspy/core"
import { Module } from "@effect-dspy/core"
import { ReAct } from "@effect-dspy/core"
import { Tool } from "@effect-dspy/core"
import { Signature } from "@effect-dspy/core"
import * as Multihop from "../src/Multihop.js"
import * as SimLM from "../src/SimLM.js"
import * as Task from "../src/Task.js"

describe("ReAct with the simulated LM", () => {
  it.effect("answers multi-hop questions by searching", () => {
    const searches: Array<string> = []
    const search = Tool.make({
      name: "search",
      description: "Search the knowledge base for documents matching a query",
      parameters: Schema.Struct({ query: Schema.String }),
      run: ({ query }) =>
        Effect.sync(() => {
          searches.push(query)
          return Multihop.search(query, 3).join("\n")
        })
    })
    const agent = ReAct.make(Signature.make("question -> answer"), [search], { maxIters: 6 })
    const examples = Task.generate(Multihop.task, 3, 8)
    return Effect.gen(function* () {
      let correct = 0
      for (const example of examples) {
        const prediction = yield* Module.call(agent, { question: example.question })
        const trajectory = prediction.get("trajectory")
        assert.strictEqual(trajectory.tool_name_0, "search")
        if (AnswerMatch.exactMatch(String(prediction.get("answer")), example.answer)) correct++
      }
      assert.isTrue(searches.length >= examples.length * 2, `searches: ${searches.length}`)
      assert.isTrue(correct >= examples.length / 2, `correct: ${correct}/${examples.length}`)
    }).pipe(Effect.provide(SimLM.layer({ seed: 1 })))
  })
})
