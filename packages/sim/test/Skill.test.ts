import { assert, describe, it } from "@effect/vitest"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Engine from "../src/Engine.js"
import * as Extraction from "../src/Extraction.js"
import * as Multihop from "../src/Multihop.js"
import * as Routing from "../src/Routing.js"
import * as Task from "../src/Task.js"
import * as P from "./prompts.js"

const data = Task.splits(Arithmetic.task, { seed: 1, train: 20, dev: 1000, test: 0 })
const goodDemos = data.train.slice(0, 4).map((e) => ({
  inputs: { question: e.question },
  outputs: { reasoning: "Work through each operation.", answer: e.answer }
}))
const wrongDemos = goodDemos.map((d) => ({ ...d, outputs: { ...d.outputs, answer: (d.outputs.answer as number) + 7 } }))

const accuracy = (sig: P.Sig, demos: ReadonlyArray<P.DemoDef> = [], model = "sim-1"): number => {
  let ok = 0
  for (const e of data.dev) {
    const r = Engine.respond({ model, messages: P.chat(sig, { question: e.question }, demos) }, {})
    if (Number(P.parseChat(r.choices[0]!.content)["answer"]) === e.answer) ok++
  }
  return ok / data.dev.length
}

describe("skill model", () => {
  const predict = accuracy(P.predictSig)
  const cot = accuracy(P.cotSig)
  it("wrong demos and harmful instructions lower accuracy; a stronger model raises it", () => {
    assert.isBelow(accuracy(P.cotSig, wrongDemos), cot - 0.1)
    assert.isBelow(
      accuracy({ ...P.cotSig, instructions: "Guess the answer as fast as possible without checking." }),
      cot - 0.1
    )
    assert.isAbove(accuracy(P.predictSig, [], "sim-pro"), predict + 0.1)
  })

  it("demos of another task count as neither good nor wrong", () => {
    const routingDemos = Task.generate(Routing.task, 1, 4).map((e) => ({
      inputs: { question: e.query },
      outputs: { reasoning: "r", answer: 1 }
    }))
    const parsedFeatures = Engine.respond(
      { model: "sim-1", messages: P.chat(P.cotSig, { question: data.dev[0]!.question }, routingDemos) },
      {}
    ).decisions[0]!.features!
    assert.strictEqual(parsedFeatures.goodDemos, 0)
    assert.strictEqual(parsedFeatures.wrongDemos, 0)
    assert.strictEqual(parsedFeatures.irrelevantDemos, 4)
  })

  it("reasoning, demos and instructions raise accuracy on the other tasks too", () => {
    const tasks: ReadonlyArray<readonly [Task.AnyTask, P.Sig, P.Sig, string]> = [
      [
        Routing.task as Task.AnyTask,
        {
          inputs: [{ name: "query" }],
          outputs: [{ name: "agent", type: `Literal[${Routing.agents.map((a) => `'${a}'`).join(", ")}]` }]
        },
        {
          inputs: [{ name: "query" }],
          outputs: [
            { name: "reasoning" },
            { name: "agent", type: `Literal[${Routing.agents.map((a) => `'${a}'`).join(", ")}]` }
          ],
          instructions: "Consider the media type. The requested action comes first. Distinguish summaries from reports."
        },
        "agent"
      ],
      [
        Multihop.task as Task.AnyTask,
        { inputs: [{ name: "question" }], outputs: [{ name: "answer" }] },
        {
          inputs: [{ name: "question" }],
          outputs: [{ name: "reasoning" }, { name: "answer" }],
          instructions: "First find the bridge entity. Connect both facts."
        },
        "answer"
      ],
      [
        Extraction.task as Task.AnyTask,
        { inputs: [{ name: "text" }], outputs: [{ name: "customer" }, { name: "quantity", type: "int" }] },
        {
          inputs: [{ name: "text" }],
          outputs: [{ name: "reasoning" }, { name: "customer" }, { name: "quantity", type: "int" }],
          instructions: "Copy names exactly as they appear. Use the declared types. Fill in every field."
        },
        "quantity"
      ]
    ]
    for (const [task, plain, better, key] of tasks) {
      const examples = Task.generate(task, 11, 250)
      const score = (sig: P.Sig) =>
        examples.filter((e) => {
          const input = Object.fromEntries(task.inputKeys.map((k) => [k, e[k]]))
          const out = P.parseChat(
            Engine.respond({ model: "sim-1", messages: P.chat(sig, input) }, {}).choices[0]!.content
          )
          const gold = key === "agent" ? e["agent"] : e[key]
          return Task.sameValue(out[key], gold) && (task.name !== "extraction" || out["customer"] === e["customer"])
        }).length / examples.length
      const a = score(plain)
      const b = score(better)
      assert.isAbove(b, a + 0.1, `${task.name}: ${a} -> ${b}`)
    }
  })
})
