/**
 * ReAct answering multi-hop questions with `Multihop.search` as its tool, and save/load round trips of a
 * program with demos and instructions; both over HTTP (openai SDK -> SimServer), with the cache off.
 */
import { AnswerMatch, ChainOfThought, Example, LM, Module, MultiHopQA, ReAct, Signature, Tool } from "@effect-dspy/core"
import { Arithmetic, Multihop, SimServer, SimTask } from "@effect-dspy/sim"
import { Config } from "@effect-dspy/foundation"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { configFor, SECRET, withServer } from "./support.js"

describe("ReAct over HTTP with the multi-hop search tool", () => {
  it.live("answers most multi-hop questions correctly, searching more than once per question", () => {
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
    const examples = SimTask.generate(Multihop.task, 21, 8)
    return withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const predictions = yield* Effect.forEach(
          examples,
          (example) => Module.call(agent, { question: example.question }),
          { concurrency: 4 }
        )
        let correct = 0
        predictions.forEach((prediction, i) => {
          assert.strictEqual(prediction.get("trajectory").tool_name_0, "search")
          if (AnswerMatch.exactMatch(String(prediction.get("answer")), examples[i]!.answer)) correct++
        })
        assert.isAtLeast(correct, 5, `correct: ${correct}/${examples.length}`)
        assert.isAtLeast(searches.length, examples.length * 2, `searches: ${searches.length}`)
        // every step and every extraction went over HTTP
        const lmCalls = predictions.reduce((n, p) => n + p.lmCalls, 0)
        assert.strictEqual(server.stats().completions, lmCalls)
      })
    ).pipe(Effect.scoped)
  })
})

describe("MultiHopQA over HTTP with retrieval", () => {
  // The simulated LM decomposes a two-hop question into its first hop and the question itself; MultiHopQA
  // chains the hops (the second retrieval carries the first answer), so most questions are answered.
  it.live("decomposes into questions and answers most multi-hop questions", () => {
    const qa = MultiHopQA.make({ retrieve: (query) => Effect.sync(() => Multihop.search(query, 3)) })
    const examples = SimTask.generate(Multihop.task, 31, 10)
    return withServer({}, {}, () =>
      Effect.gen(function* () {
        let correct = 0
        for (const example of examples) {
          const prediction = yield* Module.call(qa, { question: example.question })
          const steps = prediction.get("reasoning_steps")
          assert.isAbove(steps.length, 0)
          for (const step of steps) assert.match(step.question, /\?$/, `a sub-question: ${step.question}`)
          if (AnswerMatch.exactMatch(String(prediction.get("answer")), example.answer)) correct++
        }
        assert.isAtLeast(correct, 5, `correct: ${correct}/${examples.length}`)
      })
    ).pipe(Effect.scoped)
  })
})

const QA = Signature.make("question -> answer: int")
const data = SimTask.splits(Arithmetic.task, { seed: 9, train: 4, dev: 12, test: 0 })
const INSTRUCTION =
  "Solve the word problem. Think step by step. Write down the intermediate values after each operation. Double-check each calculation before answering."

const tuned = () => {
  const demos = data.train.map((e) =>
    Example.make({ question: e.question, reasoning: "Apply each operation in order.", answer: e.answer }).withInputs(
      "question"
    )
  )
  const program = Module.withDemos(ChainOfThought.make(QA), { predict: demos }).pipe(
    Either.flatMap((p) => Module.withInstructions(p, { predict: INSTRUCTION })),
    Either.getOrThrow
  )
  return program
}

const tempFile = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "effect-dspy-it-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => path.join(dir, "program.json")))

describe("save / load round trips", () => {
  it.live("cache off: a program with demos and instructions loads to identical state, prompts and predictions", () =>
    withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const original = tuned()
        yield* Module.save(original, file)
        const text = yield* Effect.promise(() => fs.readFile(file, "utf8"))
        assert.notInclude(text, SECRET)
        assert.include(text, INSTRUCTION)

        const loaded = yield* Module.load(ChainOfThought.make(QA), file)
        assert.deepStrictEqual(Module.dumpState(loaded), Module.dumpState(original))
        assert.deepStrictEqual(Module.instructions(loaded), { predict: INSTRUCTION })
        assert.strictEqual(Module.demos(loaded).predict!.length, 4)

        const run = (program: typeof original) =>
          Effect.forEach(data.dev, (e) =>
            Effect.map(Module.call(program, { question: e.question }), (p) => p.toRecord())
          )
        const before = yield* run(original)
        const after = yield* run(loaded)
        assert.deepStrictEqual(after, before)
        // the same prompts went over the wire (demos and instructions included), and none was served from a cache
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.strictEqual(history.length, 2 * data.dev.length)
        assert.isTrue(history.every((h) => !h.cacheHit))
        assert.strictEqual(server.stats().completions, 2 * data.dev.length)
        for (let i = 0; i < data.dev.length; i++) {
          assert.deepStrictEqual(history[data.dev.length + i]!.request.messages, history[i]!.request.messages)
        }
        const prompt = history[0]!.request.messages.map((m) => m.content).join("\n")
        assert.include(prompt, INSTRUCTION)
        assert.include(prompt, data.train[0]!.question)

        // a second round trip of the loaded program writes the same file
        const again = `${file}.again.json`
        yield* Module.save(loaded, again)
        assert.strictEqual(yield* Effect.promise(() => fs.readFile(again, "utf8")), text)

        // the state matters: the untuned program sends other prompts
        const bare = yield* Module.call(ChainOfThought.make(QA), { question: data.dev[0]!.question })
        assert.isNumber(bare.get("answer"))
        const last = (yield* Effect.flatMap(LM.LM, (lm) => lm.history)).at(-1)!
        assert.notDeepEqual(last.request.messages, history[0]!.request.messages)
      })
    ).pipe(Effect.scoped)
  )

  it.live("loading state saved from another program fails with a typed error", () =>
    Effect.gen(function* () {
      const file = yield* tempFile
      yield* Module.save(tuned(), file)
      const error = yield* Effect.flip(
        Module.load(ChainOfThought.make(Signature.make("question -> answer: str")), file)
      )
      assert.strictEqual(error._tag, "ModuleStateError")
    }).pipe(Effect.scoped)
  )

  it.live("with the cache on, the loaded program's calls are cache hits of the original's (same requests)", () =>
    Effect.gen(function* () {
      const server = yield* SimServer.serve()
      const base = configFor(server.url)
      const layer = LM.layerCached().pipe(
        Layer.provide(Config.layerTest({ ...base, modules: { ...base.modules, cacheEnabled: true } }))
      )
      yield* Effect.gen(function* () {
        const file = yield* tempFile
        const original = tuned()
        yield* Module.save(original, file)
        const loaded = yield* Module.load(ChainOfThought.make(QA), file)
        const questions = data.dev.slice(0, 6)
        const before = yield* Effect.forEach(questions, (e) =>
          Effect.map(Module.call(original, { question: e.question }), (p) => p.toRecord())
        )
        const after = yield* Effect.forEach(questions, (e) =>
          Effect.map(Module.call(loaded, { question: e.question }), (p) => p.toRecord())
        )
        assert.deepStrictEqual(after, before)
        assert.strictEqual(server.stats().completions, questions.length, "only the original's calls went out")
        const usage = yield* Effect.flatMap(LM.LM, (lm) => lm.usage)
        assert.strictEqual(usage.calls, 2 * questions.length)
        assert.strictEqual(usage.cacheHits, questions.length)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )
})
