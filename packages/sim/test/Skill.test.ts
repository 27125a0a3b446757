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

describe("reasoning by position and content", () => {
  const examples = data.dev.slice(0, 300)
  const ans = { name: "answer", type: "int" }
  const outcomes = (sig: P.Sig, demos: ReadonlyArray<P.DemoDef> = []) =>
    examples.map((e) => {
      const r = Engine.respond({ model: "sim-1", messages: P.chat(sig, { question: e.question }, demos) }, { seed: 2 })
      return { right: Number(P.parseChat(r.choices[0]!.content)["answer"]) === e.answer, decision: r.decisions[0]! }
    })
  const sig = (outputs: ReadonlyArray<P.FieldDef>): P.Sig => ({ inputs: [{ name: "question" }], outputs })
  const mean = (xs: ReadonlyArray<{ right: boolean }>) => xs.filter((x) => x.right).length / xs.length

  it("a free-text field before the answer earns chain-of-thought credit whatever its name", () => {
    const reasoning = outcomes(sig([{ name: "reasoning" }, ans]))
    for (const name of ["explanation", "scratchpad", "work", "x"]) {
      const other = outcomes(sig([{ name }, ans]))
      assert.deepStrictEqual(
        other.map((o) => o.right),
        reasoning.map((o) => o.right),
        name
      )
      // The field holds worked steps: the solver's intermediate values appear in it.
      const r = Engine.respond(
        { model: "sim-1", messages: P.chat(sig([{ name }, ans]), { question: examples[0]!.question }) },
        { seed: 2 }
      )
      const solution = Arithmetic.task.solve({ question: examples[0]!.question }, "")!
      const text = P.parseChat(r.choices[0]!.content)[name]!
      for (const v of solution.intermediates) assert.include(text, String(v), name)
    }
    assert.isAbove(mean(reasoning), mean(outcomes(P.predictSig)) + 0.05)
  })

  it("a field after the answer, one asking for something else, or one to be left empty earns none", () => {
    const predict = outcomes(P.predictSig).map((o) => o.right)
    for (const outputs of [
      [ans, { name: "reasoning" }],
      [{ name: "poem", description: "a short poem about the sea" }, ans],
      [{ name: "notes", description: "leave empty" }, ans],
      [{ name: "steps", type: "int" }, ans]
    ]) {
      assert.deepStrictEqual(
        outcomes(sig(outputs)).map((o) => o.right),
        predict,
        JSON.stringify(outputs)
      )
    }
  })

  it("demos whose rationale holds no worked steps teach the model to skip them", () => {
    const empty = data.train.slice(0, 4).map((e) => ({
      inputs: { question: e.question },
      outputs: { reasoning: "I just know it.", answer: e.answer }
    }))
    const worked = data.train.slice(0, 4).map((e) => ({
      inputs: { question: e.question },
      outputs: {
        reasoning: Arithmetic.task.solve({ question: e.question }, "")!.reasoning(undefined),
        answer: e.answer
      }
    }))
    const a = outcomes(P.cotSig, empty)
    const b = outcomes(P.cotSig, worked)
    assert.isBelow(a[0]!.decision.features!.reasoning, 1)
    assert.strictEqual(b[0]!.decision.features!.reasoning, 1)
    assert.isAbove(mean(b), mean(a) + 0.05)
  })
})

describe("common random numbers", () => {
  const examples = data.dev.slice(0, 400)
  const run = (sig: P.Sig, extra: { temperature?: number; rolloutId?: number; n?: number } = {}) =>
    examples.map((e) => {
      const r = Engine.respond(
        { model: "sim-1", messages: P.chat(sig, { question: e.question }), ...extra },
        { seed: 4 }
      )
      return r.choices.map((c) => Number(P.parseChat(c.content)["answer"]) === e.answer)
    })

  it("prompts of equal probability give identical outcomes", () => {
    const a = run({ ...P.cotSig, instructions: "Answer the question." })
    const b = run({ ...P.cotSig, instructions: "Please work on the following problem and reply." })
    assert.deepStrictEqual(a, b)
  })

  it("a higher probability only turns wrong answers right (monotone in the prompt)", () => {
    const low = run(P.cotSig).map((x) => x[0]!)
    const high = run({ ...P.cotSig, instructions: Arithmetic.inventory.canonical }).map((x) => x[0]!)
    assert.isTrue(low.every((ok, i) => !ok || high[i]!))
    assert.isAbove(high.filter(Boolean).length, low.filter(Boolean).length)
  })

  it("a fresh sample draws afresh: rollout ids and n > 1 at temperature > 0", () => {
    const first = run(P.cotSig, { temperature: 0.7, rolloutId: 1 }).map((x) => x[0]!)
    const second = run(P.cotSig, { temperature: 0.7, rolloutId: 2 }).map((x) => x[0]!)
    const differ = first.filter((x, i) => x !== second[i]).length
    assert.isAbove(differ, 40)
    const many = run(P.cotSig, { temperature: 0.7, n: 3 })
    assert.isTrue(many.some((xs) => new Set(xs).size > 1))
    const greedy = run(P.cotSig, { temperature: 0, n: 3 })
    assert.isTrue(greedy.every((xs) => new Set(xs).size === 1))
  })
})
