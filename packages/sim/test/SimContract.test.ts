/**
 * The contract between the adapters and the simulated LM: the sim's prompt reader understands exactly
 * what the adapters write (docs/prompt-format.md), and the adapters parse what the sim answers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { ChatAdapter } from "@effect-dspy/core"
import { JSONAdapter } from "@effect-dspy/core"
import { Signature } from "@effect-dspy/core"
import * as Prompt from "../src/Prompt.js"

const sig = Signature.make("question: str, context: list[str] -> answer: int, label: Literal['yes', 'no']", {
  descriptions: { question: "The question to answer" },
  instructions: "Answer carefully.\nThink step by step."
}).pipe(Signature.prepend("reasoning", Signature.output(Schema.String)))

const demo = { question: "What is 2 + 3?", context: ["a"], reasoning: "2 plus 3 is 5.", answer: 5, label: "yes" }
const request = { question: "What is 4 + 4?", context: ["x", "y"] }

describe("the simulated LM reads the adapters' prompts", () => {
  for (const [name, adapter, format] of [
    ["ChatAdapter", ChatAdapter.plain, "chat"],
    ["JSONAdapter", JSONAdapter.make(), "json"]
  ] as const) {
    it(name, () => {
      const parsed = Prompt.parse(adapter.format(sig, [demo], request).messages)
      assert.strictEqual(parsed.format, format)
      assert.deepStrictEqual(
        parsed.inputs.map((f) => [f.name, f.typeText, f.description]),
        [
          ["question", "str", "The question to answer"],
          ["context", "list[str]", undefined]
        ]
      )
      assert.deepStrictEqual(
        parsed.outputs.map((f) => [f.name, f.typeText]),
        [
          ["reasoning", "str"],
          ["answer", "int"],
          ["label", "Literal['yes', 'no']"]
        ]
      )
      assert.deepStrictEqual(parsed.outputOrder, ["reasoning", "answer", "label"])
      assert.strictEqual(parsed.instructions, "Answer carefully.\nThink step by step.")
      assert.strictEqual(parsed.demos.length, 1)
      assert.strictEqual(parsed.demos[0]!.inputs.question, "What is 2 + 3?")
      assert.strictEqual(String(parsed.demos[0]!.outputs.answer), "5")
      assert.strictEqual(parsed.request.question, "What is 4 + 4?")
      assert.deepStrictEqual(JSON.parse(parsed.request.context!), ["x", "y"])
    })
  }
})
