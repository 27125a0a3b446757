import { assert, describe, it } from "@effect/vitest"
import type { Completion } from "@effect-dspy/core"
import * as Arithmetic from "../src/Arithmetic.js"
import * as Concepts from "../src/Concepts.js"
import * as Engine from "../src/Engine.js"
import * as Extraction from "../src/Extraction.js"
import * as Instructions from "../src/Instructions.js"
import * as Multihop from "../src/Multihop.js"
import * as Prompt from "../src/Prompt.js"
import * as Task from "../src/Task.js"
import * as P from "./prompts.js"

const q = Task.generate(Arithmetic.task, 21, 1)[0]!
const req = (extra: Partial<Completion.CompletionRequest> = {}): Completion.CompletionRequest => ({
  model: "sim-1",
  messages: P.chat(P.cotSig, { question: q.question }),
  ...extra
})

describe("Engine determinism", () => {
  it("temperature 0 gives one answer for every sample; the same request gives the same response", () => {
    const r = Engine.respond(req({ n: 5 }), {})
    assert.strictEqual(new Set(r.choices.map((c) => c.content)).size, 1)
    assert.deepStrictEqual(Engine.respond(req({ n: 5 }), {}), r)
  })

  it("temperature > 0 varies with the sample index and the rollout id", () => {
    const r = Engine.respond(req({ n: 8, temperature: 1 }), {})
    assert.isAbove(new Set(r.choices.map((c) => c.content)).size, 1)
    const rollouts = new Set(
      [1, 2, 3, 4, 5, 6].map((rolloutId) => Engine.respond(req({ temperature: 1, rolloutId }), {}).choices[0]!.content)
    )
    assert.isAbove(rollouts.size, 1)
  })

  it("the seed and the model change the draws", () => {
    const many = Task.generate(Arithmetic.task, 5, 60)
    const answers = (settings: Engine.Settings, model = "sim-1") =>
      many
        .map(
          (e) =>
            Engine.respond({ model, messages: P.chat(P.predictSig, { question: e.question }) }, settings).choices[0]!
              .content
        )
        .join()
    assert.notStrictEqual(answers({ seed: 1 }), answers({ seed: 2 }))
    assert.strictEqual(answers({ seed: 1 }), answers({ seed: 1 }))
  })

  it("reports usage by the documented approximation, and cost by the model's price", () => {
    const r = Engine.respond(req(), {})
    const prompt =
      2 + r.choices.length * 0 + req().messages.reduce((a, m) => a + 4 + Math.ceil(m.content.length / 4), 0)
    assert.strictEqual(r.usage.promptTokens, prompt)
    assert.strictEqual(r.usage.completionTokens, 1 + Math.ceil(r.choices[0]!.content.length / 4))
    assert.closeTo(r.costUsd, (r.usage.promptTokens * 0.5 + r.usage.completionTokens * 1.5) / 1e6, 1e-12)
    assert.isAbove(Engine.respond(req({ model: "sim-pro" }), {}).costUsd, r.costUsd)
  })

  it("cuts at stop sequences and max tokens", () => {
    const stopped = Engine.respond(req({ stop: ["[[ ## answer"] }), {}).choices[0]!
    assert.notInclude(stopped.content, "[[ ## answer")
    assert.strictEqual(stopped.finishReason, "stop")
    const cut = Engine.respond(req({ maxTokens: 3 }), {}).choices[0]!
    assert.strictEqual(cut.finishReason, "length")
    assert.strictEqual(cut.content.length, 12)
  })

  it("rejects bad requests with a message saying what to fix", () => {
    assert.match(Engine.validate({ model: "m", messages: [] })!, /non-empty/)
    assert.match(Engine.validate(req({ n: 0 }))!, /n must be/)
    assert.match(Engine.validate(req({ temperature: 3 }))!, /temperature/)
    assert.strictEqual(Engine.validate(req()), undefined)
  })
})

describe("Engine formats", () => {
  it("answers ChatAdapter prompts in sections ending with the completed marker, answer typed as asked", () => {
    const content = Engine.respond(req(), {}).choices[0]!.content
    assert.isTrue(content.startsWith("[[ ## reasoning ## ]]\n"))
    assert.isTrue(content.endsWith("[[ ## completed ## ]]"))
    assert.match(P.parseChat(content)["answer"]!, /^-?\d+$/)
  })

  it("answers JSONAdapter prompts, and plain prompts with a JSON response format, as JSON", () => {
    const e = Task.generate(Extraction.task, 2, 1)[0]!
    const sig: P.Sig = {
      inputs: [{ name: "text" }],
      outputs: [
        { name: "customer" },
        { name: "quantity", type: "int" },
        { name: "total", type: "float" },
        { name: "express", type: "bool" }
      ]
    }
    const r = Engine.respond({ model: "sim-pro", messages: P.json(sig, { text: e.text }) }, { seed: 3 })
    const obj = JSON.parse(r.choices[0]!.content) as Record<string, unknown>
    assert.deepStrictEqual(Object.keys(obj), ["customer", "quantity", "total", "express"])
    assert.strictEqual(typeof obj["quantity"], "number")
    assert.strictEqual(typeof obj["express"], "boolean")
    const schema = {
      type: "object",
      properties: { answer: { type: "integer" }, note: { type: "string" } },
      required: ["answer", "note"]
    }
    const plain = Engine.respond(
      {
        model: "sim-1",
        messages: [{ role: "user", content: "What is 6 * 7?" }],
        responseFormat: { type: "json_schema", name: "output", schema }
      },
      {}
    )
    const parsed = JSON.parse(plain.choices[0]!.content) as Record<string, unknown>
    assert.strictEqual(typeof parsed["answer"], "number")
    assert.strictEqual(typeof parsed["note"], "string")
  })

  it("fills an object-typed output with the extracted record", () => {
    const e = Task.generate(Extraction.task, 4, 1)[0]!
    const sig: P.Sig = { inputs: [{ name: "text" }], outputs: [{ name: "order", type: "dict" }] }
    const outs = Array.from({ length: 30 }, (_, i) =>
      JSON.parse(
        P.parseChat(
          Engine.respond(
            { model: "sim-pro", messages: P.chat(sig, { text: e.text }), temperature: 1, rolloutId: i },
            {}
          ).choices[0]!.content
        )["order"]!
      )
    )
    assert.isTrue(
      outs.some((o) =>
        Task.sameValue(o, { customer: e.customer, quantity: e.quantity, total: e.total, express: e.express })
      )
    )
  })

  it("gives unknown signatures deterministic values of every declared type", () => {
    const sig: P.Sig = {
      inputs: [{ name: "poem" }],
      outputs: [
        { name: "title" },
        { name: "lines", type: "int" },
        { name: "ratio", type: "float" },
        { name: "rhymes", type: "bool" },
        { name: "mood", type: "Literal['happy', 'sad']" },
        { name: "tags", type: "list[str]" },
        { name: "counts", type: "dict[str, int]" }
      ]
    }
    const content = Engine.respond({ model: "sim-1", messages: P.chat(sig, { poem: "Roses are red." }) }, {})
      .choices[0]!.content
    const out = P.parseChat(content)
    assert.match(out["lines"]!, /^\d+$/)
    assert.match(out["ratio"]!, /^\d+(\.\d+)?$/)
    assert.oneOf(out["rhymes"], ["True", "False"])
    assert.oneOf(out["mood"], ["happy", "sad"])
    assert.isTrue(Array.isArray(JSON.parse(out["tags"]!)))
    assert.isTrue(
      Object.values(JSON.parse(out["counts"]!) as Record<string, unknown>).every((v) => typeof v === "number")
    )
    assert.strictEqual(
      Engine.respond({ model: "sim-1", messages: P.chat(sig, { poem: "Roses are red." }) }, {}).choices[0]!.content,
      content
    )
  })
})

describe("Engine tools and modules", () => {
  const mh = Task.generate(Multihop.task, 3, 1)[0]!
  const searchTool: Completion.ToolDefinition = {
    name: "search",
    description: "Search the documents",
    parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] }
  }

  it("calls the search tool with sensible queries when tools are offered, then answers", () => {
    const messages: Array<Completion.Message> = [{ role: "user", content: mh.question }]
    for (let step = 0; step < 2; step++) {
      const r = Engine.respond({ model: "sim-1", messages, tools: [searchTool] }, {})
      const call = r.choices[0]!.toolCalls?.[0]
      assert.strictEqual(r.choices[0]!.finishReason, "tool_calls")
      assert.strictEqual(call?.name, "search")
      const { query } = JSON.parse(call!.arguments) as { query: string }
      messages.push({ role: "assistant", content: "", toolCalls: [call!] })
      messages.push({ role: "tool", content: Multihop.search(query, 3).join("\n"), toolCallId: call!.id })
    }
    const final = Engine.respond({ model: "sim-1", messages, tools: [searchTool] }, {})
    assert.strictEqual(final.choices[0]!.finishReason, "stop")
    assert.include(final.choices[0]!.content, "Answer:")
  })

  it("calls an unknown tool with arguments of its schema", () => {
    const tool: Completion.ToolDefinition = {
      name: "get_weather",
      description: "Weather for a city",
      parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } }
    }
    const r = Engine.respond(
      { model: "sim-1", messages: [{ role: "user", content: "Weather in Paris?" }], tools: [tool] },
      {}
    )
    const args = JSON.parse(r.choices[0]!.toolCalls![0]!.arguments) as Record<string, unknown>
    assert.strictEqual(typeof args["city"], "string")
    assert.strictEqual(typeof args["days"], "number")
  })

  it("drives a DSPy-style ReAct loop on multihop: two searches, then finish", () => {
    const sig: P.Sig = {
      inputs: [{ name: "question" }, { name: "trajectory" }],
      outputs: [
        { name: "next_thought" },
        { name: "next_tool_name", type: "Literal['search', 'finish']" },
        { name: "next_tool_args", type: "dict[str, Any]" }
      ],
      instructions:
        "Answer the question using tools.\n(1) search, whose description is <desc>Search the documents</desc>. It takes arguments {'query': {'type': 'string'}}.\n(2) finish, to signal completion."
    }
    let trajectory = ""
    const tools: Array<string> = []
    for (let i = 0; i < 4; i++) {
      const out = P.parseChat(
        Engine.respond({ model: "sim-1", messages: P.chat(sig, { question: mh.question, trajectory }) }, {}).choices[0]!
          .content
      )
      tools.push(out["next_tool_name"]!)
      if (out["next_tool_name"] === "finish") break
      const args = JSON.parse(out["next_tool_args"]!) as { query: string }
      trajectory += `[[ ## thought_${i} ## ]]\n${out["next_thought"]}\n\n[[ ## tool_name_${i} ## ]]\nsearch\n\n[[ ## tool_args_${i} ## ]]\n${JSON.stringify(args)}\n\n[[ ## observation_${i} ## ]]\n${Multihop.search(args.query, 3).join("\n")}\n\n`
    }
    assert.deepStrictEqual(tools, ["search", "search", "finish"])
    // The extract step with the gathered trajectory is more accurate than closed-book.
    const extract: P.Sig = {
      inputs: [{ name: "question" }, { name: "trajectory" }],
      outputs: [{ name: "reasoning" }, { name: "answer" }]
    }
    const withFacts = Engine.respond(
      { model: "sim-1", messages: P.chat(extract, { question: mh.question, trajectory }) },
      {}
    )
    const without = Engine.respond(
      { model: "sim-1", messages: P.chat(extract, { question: mh.question, trajectory: "" }) },
      {}
    )
    assert.isAbove(withFacts.decisions[0]!.probability!, without.decisions[0]!.probability! + 0.3)
  })
})

describe("Engine instruction proposals", () => {
  const proposer: P.Sig = {
    inputs: [{ name: "basic_instruction" }, { name: "attempted_instructions", type: "list[str]" }],
    outputs: [{ name: "proposed_instruction" }]
  }
  const arithmeticTask = Arithmetic.task as Task.AnyTask
  const helpfulCount = (text: string) => Concepts.read(arithmeticTask.inventory, text).helpful.size
  const harmfulCount = (text: string) => Concepts.read(arithmeticTask.inventory, text).harmful.size

  const proposals = (attempts: ReadonlyArray<string>, temperature: number) =>
    Array.from({ length: 40 }, (_, rolloutId) => {
      const out = Engine.respond(
        {
          model: "sim-1",
          temperature,
          rolloutId,
          messages: P.chat(proposer, {
            basic_instruction: "Solve the arithmetic word problem (How many apples does Mia have now?).",
            attempted_instructions: attempts
          })
        },
        {}
      )
      return P.parseChat(out.choices[0]!.content)["proposed_instruction"]!
    })

  it("composes instructions from the phrase bank, more diverse at higher temperature", () => {
    const cold = proposals([], 0.3)
    const hot = proposals([], 1.6)
    assert.isTrue(cold.every((p) => p.startsWith("Solve the arithmetic word problem")))
    assert.isAbove(new Set(hot).size, new Set(cold).size)
    assert.isAbove(hot.filter((p) => harmfulCount(p) > 0).length, cold.filter((p) => harmfulCount(p) > 0).length)
  })

  it("leans toward the phrases of higher-scoring attempts", () => {
    const attempts = [
      "Instruction #1: Estimate the answer roughly. Skip the steps and give only the number.",
      "Resulting Score #1: 0.82",
      "Instruction #2: Think step by step. Double-check each calculation before answering.",
      "Resulting Score #2: 0.31"
    ]
    const flipped = [
      "Instruction #1: Estimate the answer roughly. Skip the steps and give only the number.",
      "Resulting Score #1: 0.31",
      "Instruction #2: Think step by step. Double-check each calculation before answering.",
      "Resulting Score #2: 0.82"
    ]
    const badLed = proposals(attempts, 1.2)
    const goodLed = proposals(flipped, 1.2)
    const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    assert.isAbove(mean(goodLed.map(helpfulCount)), mean(badLed.map(helpfulCount)) + 0.3)
    assert.isAbove(mean(badLed.map(harmfulCount)), mean(goodLed.map(harmfulCount)) + 0.3)
    assert.deepStrictEqual(
      Instructions.attempts(flipped.join("\n")).map((a) => a.score),
      [0.31, 0.82]
    )
  })

  it("gives SIMBA-style advice per module and templated dataset summaries", () => {
    const simba: P.Sig = {
      inputs: [{ name: "module_names", type: "list[str]" }],
      outputs: [{ name: "discussion" }, { name: "module_advice", type: "dict[str, str]" }]
    }
    const out = P.parseChat(
      Engine.respond({ model: "sim-1", messages: P.chat(simba, { module_names: ["predict", "extract"] }) }, {})
        .choices[0]!.content
    )
    assert.deepStrictEqual(Object.keys(JSON.parse(out["module_advice"]!) as object), ["predict", "extract"])
    const summary: P.Sig = { inputs: [{ name: "examples" }], outputs: [{ name: "observations" }] }
    const text = P.parseChat(
      Engine.respond({ model: "sim-1", messages: P.chat(summary, { examples: q.question }) }, {}).choices[0]!.content
    )["observations"]!
    assert.include(text, Arithmetic.task.description)
    assert.strictEqual(Prompt.parse(P.chat(summary, { examples: "x" })).outputs[0]!.name, "observations")
  })
})
