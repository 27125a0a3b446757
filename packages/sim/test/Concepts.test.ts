import { assert, describe, it } from "@effect/vitest"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Concepts from "../src/Concepts.js"
import * as Extraction from "../src/Extraction.js"
import * as Meaning from "../src/Meaning.js"
import * as Multihop from "../src/Multihop.js"
import * as Routing from "../src/Routing.js"
import * as Task from "../src/Task.js"

const tasks: ReadonlyArray<Task.AnyTask> = [
  Arithmetic.task as Task.AnyTask,
  Routing.task as Task.AnyTask,
  Extraction.task as Task.AnyTask,
  Multihop.task as Task.AnyTask
]

const inForce = (r: Concepts.Reading, c: Concepts.Concept) =>
  (c.polarity === "helpful" ? r.helpful : r.harmful).get(c.id) ?? 0

describe("Meaning", () => {
  it("stems inflections and derivations alike", () => {
    for (const group of [
      ["verify", "verifies", "verified", "verifying", "verification"],
      ["estimate", "estimates", "estimating", "estimation"],
      ["compute", "computing", "computed", "computation"],
      ["round", "rounding", "rounded"],
      ["convert", "converting", "conversion"]
    ]) {
      assert.strictEqual(new Set(group.map(Meaning.stem)).size, 1, group.join(","))
    }
    assert.notStrictEqual(Meaning.stem("note"), Meaning.stem("not"))
  })

  it("scopes negations to their clause", () => {
    const s = Meaning.read("Do not guess, verify the result.").sentences[0]!
    const negs = Meaning.negations(s, Meaning.stemSet(["verify"]))
    const at = s.indexOf(Meaning.stem("verify"))
    assert.isTrue(negs.every((n) => at < n.from || at >= n.to))
    assert.isTrue(negs.some((n) => s.indexOf("guess") >= n.from && s.indexOf("guess") < n.to))
  })
})

describe("concept inventories", () => {
  it("every concept is read from its proposer phrasings and from wordings the proposer never writes", () => {
    for (const t of tasks) {
      for (const c of t.inventory.concepts) {
        for (const text of [...c.phrasings, ...c.surfaceForms]) {
          const r = Concepts.read(t.inventory, text)
          assert.isAbove(inForce(r, c), 0.2, `${t.name}/${c.id}: "${text}"`)
          // A wording never reads as a strategy of the opposite polarity.
          const opposite = c.polarity === "helpful" ? r.harmful : r.helpful
          assert.strictEqual(opposite.size, 0, `${t.name}/${c.id}: "${text}" -> ${[...opposite.keys()]}`)
        }
        for (const a of c.addresses) assert.include(Object.keys(t.inventory.categories), a, `${t.name}/${c.id}`)
      }
    }
  })

  it("the canonical instruction asserts every helpful concept of arithmetic and nothing harmful", () => {
    const r = Concepts.read(Arithmetic.inventory, Arithmetic.inventory.canonical)
    const helpful = Arithmetic.inventory.concepts.filter((c) => c.polarity === "helpful").map((c) => c.id)
    assert.deepStrictEqual([...r.helpful.keys()].sort(), [...helpful].sort())
    assert.strictEqual(r.harmful.size, 0)
  })

  it("a negated or prohibited helpful strategy does not count, and costs a little", () => {
    for (const t of tasks) {
      for (const c of t.inventory.concepts.filter((x) => x.polarity === "helpful")) {
        for (const p of c.phrasings) {
          const negated = `Do not ${p[0]!.toLowerCase()}${p.slice(1)}`
          const r = Concepts.read(t.inventory, negated)
          assert.isFalse(r.helpful.has(c.id), `${t.name}: "${negated}"`)
          assert.isAtMost(Concepts.credit(t.inventory, r, c.addresses), 0, `${t.name}: "${negated}"`)
        }
      }
    }
    const a = Arithmetic.inventory
    for (const text of [
      "Never verify the answer.",
      "Checking your answer is unnecessary.",
      "Don't bother checking your work.",
      "There is no need to double-check.",
      "Avoid working step by step.",
      "Skip the verification."
    ]) {
      assert.isFalse(Concepts.read(a, text).helpful.has("verify") && Concepts.read(a, text).helpful.has("step_by_step"))
      assert.isAtMost(Concepts.credit(a, Concepts.read(a, text), ["dropped_operation"]), 0, text)
    }
  })

  it("a negated harmful strategy expresses its inverse; a double negation asserts", () => {
    const a = Arithmetic.inventory
    assert.isTrue(Concepts.read(a, "Never round intermediate results.").helpful.has("exact_values"))
    assert.isTrue(Concepts.read(a, "Do not skip any steps.").helpful.has("step_by_step"))
    assert.isTrue(Concepts.read(a, "Make sure no operation is left out.").helpful.has("every_operation"))
    assert.isTrue(Concepts.read(a, "Don't guess, verify each step.").helpful.has("verify"))
    assert.isFalse(Concepts.read(a, "Don't guess, verify each step.").harmful.has("guess"))
  })

  it("contradictory instructions cancel", () => {
    const a = Arithmetic.inventory
    const both = Concepts.read(a, "Think step by step. Do not think step by step.")
    assert.strictEqual(both.helpful.size + both.prohibited.size, 0)
    assert.deepStrictEqual(both.cancelled, ["step_by_step"])
    const opposed = Concepts.read(a, "Think step by step but answer as fast as possible.")
    assert.strictEqual(opposed.helpful.size + opposed.harmful.size, 0)
  })

  it("off-task words dilute the credit, keyword salad earns little, and very long instructions cost", () => {
    const a = Arithmetic.inventory
    const credit = (text: string) => Concepts.credit(a, Concepts.read(a, text), ["dropped_operation"])
    const clean = credit("Think step by step and verify the answer.")
    assert.isBelow(credit("Purple elephants think step by step and verify the moon."), clean * 0.2)
    assert.isBelow(credit("My cat loves tuna and jazz. Think step by step and verify the answer."), clean * 0.5)
    assert.isBelow(
      credit("step by step step by step verify verify intermediate values intermediate values"),
      clean * 0.3
    )
    const padded = `Think step by step and verify the answer. ${"Read the question and give the answer. ".repeat(20)}`
    assert.isBelow(credit(padded), clean - 0.5)
  })

  it("lists, role preambles and telegraphic instructions are read like prose", () => {
    const a = Arithmetic.inventory
    const has = (text: string, ids: ReadonlyArray<string>) => {
      const r = Concepts.read(a, text)
      for (const id of ids) assert.isAtLeast(r.helpful.get(id) ?? 0, 0.9, `${id} in "${text}"`)
    }
    has("1. Read the problem.\n2. Convert dozens to units.\n3. Multiply packs first.\n4. Verify.", [
      "convert_units",
      "precedence",
      "verify"
    ])
    has("- Never estimate\n- Show every step\n- Keep a running total", ["step_by_step", "track_intermediate"])
    has("Take a deep breath and work on this problem step-by-step.", ["step_by_step"])
    has("You are an expert mathematician. Solve the problem step by step and double-check your arithmetic.", [
      "step_by_step",
      "verify"
    ])
  })

  it("two neutral rewordings mean nothing", () => {
    for (const text of [
      "Answer the question.",
      "Please respond to the following question.",
      "You are a helpful assistant."
    ]) {
      const r = Concepts.read(Arithmetic.inventory, text)
      assert.strictEqual(Concepts.credit(Arithmetic.inventory, r, ["dropped_operation"]), 0, text)
    }
  })

  it("a concept addressing an example's failure risk earns more on that example", () => {
    const a = Arithmetic.inventory
    const r = Concepts.read(a, "Convert dozens into single items.")
    assert.isAbove(
      Concepts.credit(a, r, ["dropped_operation", "unit_conversion"]),
      Concepts.credit(a, r, ["dropped_operation"]) + 0.3
    )
    assert.isBelow(Concepts.residualRisk(a, r, "unit_conversion"), Concepts.residualRisk(a, r, "precedence"))
  })
})

describe("failure categories", () => {
  it("every wrong answer carries a category the diagnosis recovers; the gold has none", () => {
    const seen = new Set<string>()
    for (const t of tasks) {
      for (const e of Task.generate(t, 4, 120)) {
        const inputs = Object.fromEntries(t.inputKeys.map((k) => [k, String(e[k])]))
        const s = t.solve(inputs, "")!
        const outputs = Object.keys(s.gold).map((name) => ({
          name,
          typeText: "str",
          type: { _tag: "any" as const },
          description: undefined
        }))
        assert.isAbove(s.failures.length, 0)
        assert.strictEqual(Task.diagnose(t, inputs, outputs, s.gold), undefined)
        for (const f of s.failures) {
          assert.include(s.risks, f.category)
          assert.strictEqual(Task.diagnose(t, inputs, outputs, f.values), f.category)
          seen.add(`${t.name}:${f.category}`)
        }
      }
    }
    for (const c of Object.keys(Arithmetic.inventory.categories).filter((c) => c !== "arithmetic_slip")) {
      assert.isTrue(seen.has(`arithmetic:${c}`), c)
    }
  })

  it("an arithmetic wrong answer's reasoning shows its slip", () => {
    const e = Task.generate(Arithmetic.task, 7, 200).find((x) => /dozen/.test(x.question))!
    const s = Arithmetic.task.solve({ question: e.question }, "")!
    const unit = s.failures.find((f) => f.category === "unit_conversion")!
    assert.notInclude(s.reasoning(unit), "dozen is")
    assert.include(s.reasoning(undefined), "dozen is")
  })
})
