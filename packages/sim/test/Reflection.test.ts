import { assert, describe, it } from "@effect/vitest"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Concepts from "../src/Concepts.js"
import * as Engine from "../src/Engine.js"
import { rngOf } from "../src/internal/Random.js"
import * as Prompt from "../src/Prompt.js"
import * as Reflection from "../src/Reflection.js"
import * as Routing from "../src/Routing.js"
import * as Task from "../src/Task.js"
import * as P from "./prompts.js"

const inventory = Arithmetic.inventory
const examples = Task.generate(Arithmetic.task, 21, 300)

/** Examples at risk of a category, each with one of its wrong answers of that category. */
const failing = (category: string, count: number) =>
  examples
    .map((e) => ({ e, s: Arithmetic.task.solve({ question: e.question }, "")! }))
    .flatMap(({ e, s }) => {
      const f = s.failures.find((x) => x.category === category)
      return f === undefined
        ? []
        : [{ question: e.question, gold: e.answer, wrong: f.values["answer"], detail: f.detail }]
    })
    .slice(0, count)

/** GEPA's reflective dataset as markdown (the optimizer's `formatDataset`). */
const gepaMarkdown = (
  rows: ReadonlyArray<{ question: string; outputs?: Record<string, unknown>; feedback: string }>
): string =>
  rows
    .map((r, i) => {
      const outputs =
        r.outputs === undefined
          ? ""
          : Object.entries(r.outputs)
              .map(([k, v]) => `### ${k}\n${typeof v === "string" ? v : JSON.stringify(v)}`)
              .join("\n")
      return `# Example ${i + 1}\n## Inputs\n### question\n${r.question}\n## Generated Outputs\n${outputs}\n## Feedback\n${r.feedback}`
    })
    .join("\n\n")

const reflectionSig: P.Sig = {
  inputs: [{ name: "current_instruction" }, { name: "examples_with_feedback" }],
  outputs: [{ name: "new_instruction" }],
  instructions:
    "An assistant followed the instruction below on several task inputs; each example shows the inputs, what the assistant produced, and feedback on how good it was. Write a new instruction for the assistant that keeps what worked and fixes what the feedback points out."
}

const BASE = "Given the fields `question`, produce the fields `answer`."

const addresses = (text: string, category: string): boolean => {
  const r = Concepts.read(inventory, text)
  return inventory.concepts.some((c) => c.addresses.includes(category) && c.addresses.length < 5 && r.helpful.has(c.id))
}

const diagnosisOf = (markdown: string) => {
  const parsed = Prompt.parse(
    P.chat(reflectionSig, { current_instruction: BASE, examples_with_feedback: markdown }) as never
  )
  return Reflection.diagnose(Arithmetic.task, Reflection.observations(parsed))
}

describe("Reflection: reading what a prompt shows", () => {
  it("reads GEPA's examples, SIMBA's trajectories and MIPROv2's task demos", () => {
    const [a, b] = failing("unit_conversion", 2)
    const gepa = Prompt.parse(
      P.chat(reflectionSig, {
        current_instruction: BASE,
        examples_with_feedback: gepaMarkdown([
          { question: a!.question, outputs: { reasoning: "r", answer: a!.wrong }, feedback: "Wrong." },
          { question: b!.question, outputs: { reasoning: "r", answer: b!.gold }, feedback: "Correct." }
        ])
      }) as never
    )
    const seen = Reflection.observations(gepa)
    assert.deepStrictEqual(
      seen.map((o) => [o.inputs["question"], o.outputs?.["answer"], o.feedback]),
      [
        [a!.question, a!.wrong, "Wrong."],
        [b!.question, b!.gold, "Correct."]
      ]
    )
    const simba = Reflection.observations({
      ...gepa,
      request: {
        worse_program_trajectory: JSON.stringify([
          { module_name: "predict", inputs: { question: a!.question }, outputs: { answer: a!.wrong } }
        ]),
        worse_reward_value: "0",
        worse_reward_info: "The answer is off.",
        better_program_trajectory: "[]",
        better_reward_value: "N/A"
      }
    })
    assert.deepStrictEqual(simba, [
      {
        inputs: { question: a!.question },
        outputs: { answer: a!.wrong },
        feedback: "The answer is off.",
        score: 0,
        module: "predict"
      }
    ])
    const demos = Reflection.observations({
      ...gepa,
      request: { task_demos: `Question: ${a!.question}\nReasoning: r\nAnswer: ${a!.gold}\n\nQuestion: ${b!.question}` }
    })
    assert.deepStrictEqual(
      demos.map((d) => [d.inputs["question"], d.score]),
      [
        [a!.question, 1],
        [b!.question, 1]
      ]
    )
  })

  it("diagnoses each wrong answer's failure category from the answer itself", () => {
    for (const category of Object.keys(inventory.categories).filter((c) => c !== "arithmetic_slip")) {
      const rows = failing(category, 3)
      assert.strictEqual(rows.length, 3, category)
      const d = diagnosisOf(
        gepaMarkdown(
          rows.map((r) => ({
            question: r.question,
            outputs: { answer: r.wrong },
            feedback: "This trajectory got a score of 0."
          }))
        )
      )
      assert.strictEqual(d.failed, 3, category)
      const ranked = [...d.failures].sort((x, y) => y[1] - x[1])
      assert.strictEqual(ranked[0]![0], category, `${category}: ${JSON.stringify(ranked)}`)
      for (const f of d.perFailure) assert.strictEqual(f[0], category)
    }
  })

  it("right answers are no failures; the feedback's own words point at the strategy they name", () => {
    const rows = failing("precedence", 2)
    const right = diagnosisOf(
      gepaMarkdown(rows.map((r) => ({ question: r.question, outputs: { answer: r.gold }, feedback: "Correct." })))
    )
    assert.strictEqual(right.failed, 0)
    assert.strictEqual(
      [...right.failures.values()].reduce((a, b) => a + b, 0),
      0
    )
    // No outputs shown, only what a person wrote: the strategy named is read for meaning.
    const told = diagnosisOf(
      gepaMarkdown([
        { question: rows[0]!.question, feedback: "Wrong: you added the groups before multiplying them by their size." }
      ])
    )
    assert.isAbove(told.failures.get("precedence") ?? 0, 0, JSON.stringify([...told.failures]))
  })
})

describe("Reflection: proposing", () => {
  const propose = (markdown: string, parent: string, seed: number, temperature = 1) =>
    Engine.respond(
      {
        model: "sim-1",
        messages: P.chat(reflectionSig, { current_instruction: parent, examples_with_feedback: markdown }),
        temperature
      },
      { seed }
    ).choices[0]!.content

  const newInstruction = (content: string) => P.parseChat(content)["new_instruction"] as string

  it("addresses the diagnosed failures far more often than a proposer shown no outputs and no feedback", () => {
    for (const category of ["unit_conversion", "precedence", "early_rounding"]) {
      const rows = failing(category, 3)
      const withFeedback = gepaMarkdown(
        rows.map((r) => ({
          question: r.question,
          outputs: { answer: r.wrong },
          feedback: `Wrong answer: expected ${r.gold}, got ${String(r.wrong)}.`
        }))
      )
      const blind = gepaMarkdown(rows.map((r) => ({ question: r.question, feedback: "" })))
      let reflective = 0
      let random = 0
      for (let seed = 0; seed < 40; seed++) {
        if (addresses(newInstruction(propose(withFeedback, BASE, seed)), category)) reflective++
        if (addresses(newInstruction(propose(blind, BASE, seed)), category)) random++
      }
      assert.isAtLeast(reflective, 36, category)
      assert.isAbove(reflective, random + 10, `${category}: ${reflective} vs ${random}`)
    }
  })

  it("keeps the parent's useful content and drops its harmful strategies", () => {
    const rows = failing("unit_conversion", 2)
    const md = gepaMarkdown(
      rows.map((r) => ({ question: r.question, outputs: { answer: r.wrong }, feedback: "Wrong." }))
    )
    const parent = `${BASE} Work through the problem step by step. Round every intermediate result to the nearest whole number.`
    for (let seed = 0; seed < 20; seed++) {
      const text = newInstruction(propose(md, parent, seed))
      assert.isTrue(text.startsWith(`${BASE} Work through the problem step by step.`), text)
      const r = Concepts.read(inventory, text)
      assert.isTrue(r.helpful.has("step_by_step"), text)
      assert.strictEqual(r.harmful.size, 0, text)
      assert.isTrue(addresses(text, "unit_conversion"), text)
    }
  })

  it("with prior attempts and scores, leans toward the strategies of the higher-scoring attempts", () => {
    const good = "Convert quantities given in dozens into single items before using them."
    const bad = "Multiply the number of groups by the group size before adding."
    const attempts = [
      `Instruction #1: ${BASE} ${bad}`,
      "Resulting Score #1: 41.0",
      `Instruction #2: ${BASE}`,
      "Resulting Score #2: 50.0",
      `Instruction #3: ${BASE} ${good}`,
      "Resulting Score #3: 63.0"
    ].join("\n")
    const sig: P.Sig = {
      inputs: [{ name: "attempted_instructions", type: "list[str]" }],
      outputs: [{ name: "proposed_instruction" }],
      instructions:
        "I will give some task instructions I've tried, along with their corresponding validation scores. Propose a new instruction for arithmetic word problems."
    }
    let withGood = 0
    let withBad = 0
    for (let seed = 0; seed < 60; seed++) {
      const content = Engine.respond(
        { model: "sim-1", messages: P.chat(sig, { attempted_instructions: attempts.split("\n") }), temperature: 1 },
        { seed }
      ).choices[0]!.content
      const text = P.parseChat(content)["proposed_instruction"] as string
      const r = Concepts.read(inventory, text)
      if (r.helpful.has("convert_units")) withGood++
      if (r.helpful.has("precedence")) withBad++
    }
    assert.isAbove(withGood, withBad + 15, `${withGood} vs ${withBad}`)
  })

  it("improve is a pure function of its inputs and its random stream", () => {
    const rows = failing("early_rounding", 3)
    const d = diagnosisOf(
      gepaMarkdown(rows.map((r) => ({ question: r.question, outputs: { answer: r.wrong }, feedback: "Wrong." })))
    )
    const run = (seed: number) =>
      Reflection.improve({
        inventory,
        parent: BASE,
        diagnosis: d,
        attempts: [],
        rng: rngOf("test", seed),
        temperature: 1,
        mode: "rewrite"
      })
    assert.strictEqual(run(4), run(4))
    assert.isTrue(addresses(run(4), "early_rounding"), run(4))
    const advice = Reflection.improve({
      inventory,
      parent: BASE,
      diagnosis: d,
      attempts: [],
      rng: rngOf("test", 4),
      temperature: 1,
      mode: "advice"
    })
    assert.isFalse(advice.includes(BASE))
  })

  it("routing: two confusable intents are diagnosed from the wrong agent", () => {
    const inv = Routing.task.inventory
    const rows = Task.generate(Routing.task, 5, 400)
      .map((e) => ({
        e,
        s: Routing.task.solve(Object.fromEntries(Routing.task.inputKeys.map((k) => [k, String(e[k])])), "")
      }))
      .filter((x) => x.s !== undefined && x.s.failures.length > 0)
      .slice(0, 3)
    assert.strictEqual(rows.length, 3)
    const observed = rows.map(({ e, s }) => ({
      inputs: Object.fromEntries(Routing.task.inputKeys.map((k) => [k, String(e[k])])),
      outputs: { ...s!.failures[0]!.values },
      feedback: "Wrong agent.",
      score: 0,
      module: undefined
    }))
    const d = Reflection.diagnose(Routing.task, observed)
    assert.strictEqual(d.failed, 3)
    const expected = new Set(rows.map(({ s }) => s!.failures[0]!.category))
    for (const c of expected) assert.isAbove(d.failures.get(c) ?? 0, 0, `${c}: ${JSON.stringify([...d.failures])}`)
    assert.isTrue(Object.keys(inv.categories).length > 0)
  })

  it("describes a program from the structure the prompt shows, and a module from its line", () => {
    const sig: P.Sig = {
      inputs: [{ name: "program_code" }, { name: "program_example" }],
      outputs: [{ name: "program_description" }]
    }
    const code = [
      "Program TwoStep: a module that calls its predictors",
      "  predictors:",
      "    draft = module ChainOfThought (question: str -> answer: int):",
      "      draft.predict = Predict(question: str -> reasoning: str, answer: int)",
      "          input question: str",
      "    check = Predict(question: str, draft: int -> answer: int)"
    ].join("\n")
    const out = (inputs: Record<string, string>, s: P.Sig) =>
      P.parseChat(Engine.respond({ model: "sim-1", messages: P.chat(s, inputs) }, {}).choices[0]!.content)
    const text = out({ program_code: code, program_example: failing("precedence", 1)[0]!.question }, sig)[
      "program_description"
    ]!
    assert.include(text, Arithmetic.task.description)
    assert.include(text, "2 predictors in turn")
    assert.include(text, "draft.predict (a Predict from question: str -> reasoning: str, answer: int)")
    assert.include(text, "check (a Predict from question: str, draft: int -> answer: int)")
    const moduleSig: P.Sig = {
      inputs: [{ name: "program_code" }, { name: "module" }],
      outputs: [{ name: "module_description" }]
    }
    const moduleText = out({ program_code: code, module: "Predict(question, draft) -> answer" }, moduleSig)[
      "module_description"
    ]!
    assert.include(moduleText, "Predict(question, draft) -> answer")
  })
})
