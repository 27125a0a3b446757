import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Extraction from "../src/Extraction.js"
import * as Multihop from "../src/Multihop.js"
import * as Routing from "../src/Routing.js"
import * as Task from "../src/Task.js"

describe("task generators", () => {
  it("are deterministic per seed and differ across seeds", () => {
    const a = Task.splits(Arithmetic.task, { seed: 3, train: 5, dev: 5, test: 5 })
    const b = Task.splits(Arithmetic.task, { seed: 3, train: 5, dev: 5, test: 5 })
    const c = Task.splits(Arithmetic.task, { seed: 4, train: 5, dev: 5, test: 5 })
    assert.deepStrictEqual(a, b)
    assert.notDeepEqual(a.train, c.train)
  })

  it("make disjoint splits of the requested sizes, and reject bad sizes", () => {
    for (const task of [Arithmetic.task, Routing.task, Multihop.task, Extraction.task] as ReadonlyArray<Task.AnyTask>) {
      const s = Task.splits(task, { seed: 1, train: 20, dev: 30, test: 25 })
      assert.strictEqual(s.train.length, 20)
      assert.strictEqual(s.dev.length, 30)
      assert.strictEqual(s.test.length, 25)
      const key = (e: Readonly<Record<string, unknown>>) => task.inputKeys.map((k) => String(e[k])).join("|")
      const train = new Set(s.train.map(key))
      assert.isTrue(
        s.dev.every((e) => !train.has(key(e))),
        task.name
      )
      assert.isTrue(
        s.test.every((e) => !train.has(key(e))),
        task.name
      )
    }
    assert.throws(() => Task.splits(Arithmetic.task, { train: -1 }), /non-negative/)
  })

  it("arithmetic: 2-4 operations, positive integer answers, and the solver agrees with the gold", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (seed) => {
        for (const e of Task.generate(Arithmetic.task, seed, 5)) {
          const p = Arithmetic.parseProblem(e.question)
          if (p === undefined || p.steps.length < 2 || p.steps.length > 4) return false
          if (!Number.isInteger(e.answer) || e.answer < 1) return false
          const s = Arithmetic.task.solve({ question: e.question }, "")
          if (s === undefined || s.gold["answer"] !== e.answer) return false
        }
        return true
      }),
      { numRuns: 60 }
    )
  })

  it("arithmetic: wrong answers differ from the gold, and bare expressions are solved", () => {
    const e = Task.generate(Arithmetic.task, 9, 1)[0]!
    const s = Arithmetic.task.solve({ question: e.question }, "")!
    assert.isAbove(s.failures.length, 0)
    for (const f of s.failures) {
      assert.notStrictEqual(f.values["answer"], e.answer)
      assert.include(Object.keys(Arithmetic.inventory.categories), f.category)
    }
    assert.strictEqual(Arithmetic.task.solve({ question: "What is 12 * (3 + 4)?" }, "")?.gold["answer"], 84)
    assert.strictEqual(Arithmetic.task.solve({ question: "Tell me about cats." }, ""), undefined)
  })

  it("routing: the solver agrees with the gold, queries are sometimes ambiguous, and all agents occur", () => {
    const examples = Task.generate(Routing.task, 2, 400)
    for (const e of examples) assert.strictEqual(Routing.task.solve({ query: e.query }, "")?.gold["agent"], e.agent)
    const ambiguous = examples.filter((e) => Routing.route(e.query).ambiguous)
    assert.isAbove(ambiguous.length, 40)
    assert.isBelow(ambiguous.length, 200)
    assert.deepStrictEqual(new Set(examples.map((e) => e.agent)), new Set(Routing.agents))
    assert.strictEqual(Routing.route("Summarize the video about coral reefs").agent, "document_summary")
    assert.strictEqual(Routing.route("Find photos and videos of chess openings").agent, "image_search")
  })

  it("multihop: answers follow two facts of the knowledge base, and search finds both", () => {
    const kb = Multihop.knowledgeBase(0)
    assert.strictEqual(kb.documents.length, kb.people.length * 2 + kb.organizations.length * 2 + kb.cities.length)
    for (const e of Task.generate(Multihop.task, 5, 60)) {
      const s = Multihop.task.solve({ question: e.question }, "")
      assert.strictEqual(s?.gold["answer"], e.answer)
      const q1 = Multihop.nextQuery(e.question, "")!
      const hop1 = Multihop.search(q1, 3).join("\n")
      const q2 = Multihop.nextQuery(e.question, hop1)
      assert.isDefined(q2, `first hop not found for ${e.question} with ${q1}`)
      const hop2 = `${hop1}\n${Multihop.search(q2!, 3).join("\n")}`
      assert.strictEqual(Multihop.nextQuery(e.question, hop2), undefined, `second hop not found for ${e.question}`)
      // Supporting facts in the context raise the evidence term.
      assert.isAbove(Multihop.task.solve({ question: e.question }, hop2)!.evidence, s!.evidence)
    }
    assert.notDeepEqual(Multihop.knowledgeBase(1).worksAt, kb.worksAt)
  })

  it("extraction: the solver reads back every field of the gold", () => {
    for (const e of Task.generate(Extraction.task, 8, 100)) {
      const r = Extraction.read(e.text)
      assert.isDefined(r, e.text)
      assert.deepStrictEqual(r!.order, {
        customer: e.customer,
        product: e.product,
        quantity: e.quantity,
        total: e.total,
        express: e.express
      })
    }
  })
})
