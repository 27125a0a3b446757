/**
 * DSPy programs (Predict, ChainOfThought, a module of two predictors) through the LM service configured from
 * Config: the real OpenAIProvider and `openai` SDK over HTTP to the local simulated-LM server. No cache.
 */
import {
  BestOfN,
  ChainOfThought,
  ChatAdapter,
  JSONAdapter,
  Evaluate,
  LM,
  Module,
  Predict,
  Signature
} from "@effect-dspy/core"
import { Arithmetic, Extraction, Routing, SimTask } from "@effect-dspy/sim"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { httpStats, withServer } from "./support.js"

const data = SimTask.splits(Arithmetic.task, { seed: 3, train: 4, dev: 50, test: 0 })
const QA = Signature.make("question -> answer: int")

describe("programs over HTTP (openai SDK -> SimServer)", () => {
  it.live("Predict answers an arithmetic question with a typed int, one request per call", () =>
    withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const predict = Predict.make(QA)
        const examples = data.dev.slice(0, 5)
        for (const e of examples) {
          const prediction = yield* Module.call(predict, { question: e.question })
          assert.isNumber(prediction.get("answer"))
          assert.strictEqual(prediction.lmCalls, 1)
          assert.isAbove(prediction.usage.totalTokens, 0)
        }
        const stats = yield* httpStats(server)
        assert.strictEqual(stats.completions, examples.length)
        const lm = yield* LM.LM
        assert.strictEqual(lm.provider, "openai")
        assert.strictEqual((yield* lm.history).length, examples.length)
        // inspectHistory renders the last call: its prompt (the question) and the LM's answer
        const rendered = yield* lm.inspectHistory(1)
        assert.include(rendered, examples.at(-1)!.question)
        assert.include(rendered, "[[ ## answer ## ]]")
      })
    ).pipe(Effect.scoped)
  )

  it.live("ChainOfThought scores within the calibrated band on 50 arithmetic dev examples (Evaluate)", () =>
    withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const cot = ChainOfThought.make(QA)
        const result = yield* Evaluate.run({
          devset: data.dev,
          program: (e: Arithmetic.Example) => Module.call(cot, { question: e.question }),
          metric: (e, p) => p.get("answer") === e.answer,
          concurrency: 10
        })
        assert.strictEqual(result.total, 50)
        assert.strictEqual(result.errors, 0)
        // calibrated at ~52% for ChainOfThought on arithmetic; 50 examples leave a wide sampling band
        assert.isAtLeast(result.score, 30)
        assert.isAtMost(result.score, 75)
        const stats = yield* httpStats(server)
        assert.strictEqual(stats.completions, 50)
      })
    ).pipe(Effect.scoped)
  )

  it.live("a module of two predictors calls both, in order, and answers arithmetic", () =>
    withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const solver = Module.make({
          name: "DraftThenAnswer",
          parameters: {
            draft: ChainOfThought.make(QA),
            answer: Predict.make(Signature.make("question, draft: int -> answer: int"))
          },
          forward: (p, inputs: { readonly question: string }) =>
            Effect.flatMap(p.draft(inputs), (draft) =>
              p.answer({ question: inputs.question, draft: draft.get("answer") })
            )
        })
        assert.deepStrictEqual(
          Module.namedPredictors(solver).map((p) => p.path),
          ["draft.predict", "answer"]
        )
        const examples = data.dev.slice(0, 20)
        let correct = 0
        for (const e of examples) {
          const prediction = yield* Module.call(solver, { question: e.question })
          if (prediction.get("answer") === e.answer) correct++
        }
        assert.isAtLeast(correct, 4, `correct ${correct}/20`)
        const stats = yield* httpStats(server)
        assert.strictEqual(stats.completions, 2 * examples.length)
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        // the second predictor's prompt carries the first one's answer as `draft`
        const second = history[1]!.request.messages.map((m) => m.content).join("\n")
        assert.include(second, "[[ ## draft ## ]]")
      })
    ).pipe(Effect.scoped)
  )

  it.live("n > 1 returns n distinct completions, each parsed into a prediction", () =>
    withServer({}, {}, (server) =>
      Effect.gen(function* () {
        const cot = ChainOfThought.make(QA, { n: 5, temperature: 1 })
        const prediction = yield* Module.call(cot, { question: data.dev[0]!.question })
        assert.strictEqual(prediction.completions.length, 5)
        assert.isTrue(prediction.completions.every((c) => typeof c.answer === "number"))
        const response = yield* LM.complete({
          messages: [{ role: "user", content: data.dev[1]!.question }],
          n: 4,
          temperature: 1
        })
        assert.strictEqual(response.choices.length, 4)
        assert.deepStrictEqual(
          response.choices.map((c) => c.index),
          [0, 1, 2, 3]
        )
        const texts = new Set(prediction.completions.map((c) => `${c.reasoning}|${c.answer}`))
        assert.isAbove(texts.size, 1, "completions at temperature 1 differ")
        // one HTTP request carried all n choices
        assert.strictEqual((yield* httpStats(server)).completions, 2)
      })
    ).pipe(Effect.scoped)
  )

  it.live("streams field by field: ChatAdapter.streamFields over LM.stream matches the non-streamed answer", () =>
    withServer({ chunkChars: 7 }, {}, (server) =>
      Effect.gen(function* () {
        const signature = ChainOfThought.extendSignature(QA)
        const adapter = ChatAdapter.make()
        const question = data.dev[2]!.question
        const formatted = adapter.format(signature, [], { question })
        const whole = yield* LM.complete({ messages: formatted.messages })
        const expected = yield* Effect.either(
          Effect.sync(() => adapter.parse(signature, whole.choices[0]!.content)).pipe(Effect.flatten)
        )
        assert.isTrue(expected._tag === "Right")
        const chunks: Array<string> = []
        const events = yield* LM.stream({ messages: formatted.messages }).pipe(
          Stream.filter((chunk) => chunk.index === 0 && chunk.delta.length > 0),
          Stream.map((chunk) => chunk.delta),
          Stream.tap((delta) => Effect.sync(() => chunks.push(delta))),
          adapter.streamFields(signature),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        assert.isAbove(chunks.length, 5, "the answer arrived in several chunks")
        assert.strictEqual(chunks.join(""), whole.choices[0]!.content)
        const deltas: Record<string, string> = {}
        const values: Record<string, unknown> = {}
        for (const e of events) {
          if (e._tag === "FieldDelta") deltas[e.field] = (deltas[e.field] ?? "") + e.delta
          else values[e.field] = e.value
        }
        const parsed = expected._tag === "Right" ? expected.right : undefined
        assert.deepStrictEqual(values, { reasoning: parsed?.reasoning, answer: parsed?.answer })
        assert.strictEqual(deltas.reasoning, parsed?.reasoning)
        // deltas of the reasoning come before the answer's value
        const firstAnswer = events.findIndex((e) => e.field === "answer")
        const lastReasoning = events.map((e) => e.field).lastIndexOf("reasoning")
        assert.isBelow(lastReasoning, firstAnswer)
        const stats = yield* httpStats(server)
        assert.strictEqual(stats.streams, 1)
        // the stream was recorded in the history with its usage (include_usage)
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.strictEqual(history.length, 2)
        assert.strictEqual(history[1]!.response?.choices[0]?.content, whole.choices[0]!.content)
        assert.deepStrictEqual(history[1]!.usage, whole.usage)
      })
    ).pipe(Effect.scoped)
  )

  it.live("typed outputs over HTTP: routing to a Literal agent, extraction through the JSONAdapter", () =>
    withServer({}, {}, () =>
      Effect.gen(function* () {
        const literal = `Literal[${Routing.agents.map((a) => `'${a}'`).join(", ")}]`
        const route = ChainOfThought.make(Signature.make(`query -> agent: ${literal}`))
        const routing = SimTask.generate(Routing.task, 2, 20)
        let routed = 0
        for (const e of routing) {
          const p = yield* Module.call(route, { query: e.query })
          assert.include(Routing.agents, p.get("agent"))
          if (p.get("agent") === e.agent) routed++
        }
        assert.isAtLeast(routed, 6, `routed ${routed}/20`)

        const extract = Predict.make(
          Signature.make("text -> customer: str, product: str, quantity: int, total: float, express: bool"),
          { adapter: JSONAdapter.make() }
        )
        const orders = SimTask.generate(Extraction.task, 2, 10)
        let exact = 0
        for (const e of orders) {
          const p = yield* Module.call(extract, { text: e.text })
          assert.isNumber(p.get("quantity"))
          assert.isBoolean(p.get("express"))
          if (p.get("customer") === e.customer && p.get("quantity") === e.quantity) exact++
        }
        assert.isAtLeast(exact, 3, `extracted ${exact}/10`)
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.strictEqual(history.at(-1)!.request.responseFormat?.type, "json_schema")
      })
    ).pipe(Effect.scoped)
  )

  // OpenAIProvider never sends `rolloutId`; like a hosted LM, SimServer samples afresh for each temperature > 0
  // request without one, so BestOfN's attempts differ over HTTP too.
  it.live("BestOfN's attempts at temperature 1 over HTTP are different samples", () =>
    withServer({}, {}, () =>
      Effect.gen(function* () {
        const answers: Array<unknown> = []
        const best = BestOfN.make(ChainOfThought.make(QA), {
          n: 4,
          threshold: 2,
          reward: (_inputs, prediction) => {
            answers.push(prediction.get("answer"))
            return 0
          }
        })
        for (const e of data.dev.slice(0, 5)) yield* Module.call(best, { question: e.question })
        assert.strictEqual(answers.length, 20)
        const history = yield* Effect.flatMap(LM.LM, (lm) => lm.history)
        assert.deepStrictEqual(
          history.slice(0, 4).map((h) => [h.request.temperature, h.request.rolloutId]),
          [
            [1, 0],
            [1, 1],
            [1, 2],
            [1, 3]
          ]
        )
        const distinctPerQuestion = [0, 1, 2, 3, 4].map((q) => new Set(answers.slice(4 * q, 4 * q + 4)).size)
        assert.isAbove(Math.max(...distinctPerQuestion), 1, `distinct answers per question: ${distinctPerQuestion}`)
      })
    ).pipe(Effect.scoped)
  )
})
