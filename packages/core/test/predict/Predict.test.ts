import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as JSONAdapter from "../../src/adapters/JSONAdapter.js"
import * as Example from "../../src/primitives/Example.js"
import * as Trace from "../../src/primitives/Trace.js"
import * as ChainOfThought from "../../src/predict/ChainOfThought.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Module from "../../src/primitives/Module.js"
import * as Signature from "../../src/signature/Signature.js"
import * as Fake from "./FakeProvider.js"

const qa = Signature.make("question -> answer", { instructions: "Answer with one word." })

describe("Predict", () => {
  it.effect("formats instructions and demos into the messages and parses the answer", () => {
    const fake = Fake.make(() => Fake.chat({ answer: "Paris" }))
    const predictor = Predict.make(qa, {
      demos: [Example.make({ question: "Capital of Italy?", answer: "Rome" })]
    })
    return Effect.gen(function* () {
      const prediction = yield* Predict.forward(predictor, { question: "Capital of France?" })
      assert.strictEqual(prediction.get("answer"), "Paris")
      assert.strictEqual(prediction.lmCalls, 1)
      assert.strictEqual(prediction.usage.totalTokens, 15)
      const request = fake.requests[0]!
      assert.include(Fake.system(request), "Answer with one word.")
      const roles = request.messages.map((m) => m.role)
      assert.deepStrictEqual(roles, ["system", "user", "assistant", "user"])
      assert.include(request.messages[1]!.content, "[[ ## question ## ]]\nCapital of Italy?")
      assert.include(request.messages[2]!.content, "[[ ## answer ## ]]\nRome")
      assert.include(request.messages[3]!.content, "[[ ## question ## ]]\nCapital of France?")
      assert.isUndefined(request.temperature)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("n > 1 parses every choice into completions and forces temperature 0.7 when low", () => {
    const fake = Fake.make((_, i) => Fake.chat({ answer: `a${i}` }))
    return Effect.gen(function* () {
      const prediction = yield* Predict.forward(Predict.make(qa, { n: 3, temperature: 0.1 }), { question: "q" })
      assert.deepStrictEqual(prediction.pluck("answer"), ["a0", "a1", "a2"])
      assert.strictEqual(fake.requests[0]!.n, 3)
      assert.strictEqual(fake.requests[0]!.temperature, 0.7)
      yield* Predict.forward(Predict.make(qa, { n: 2 }), { question: "q" })
      assert.strictEqual(fake.requests[1]!.temperature, 0.7)
      yield* Predict.forward(Predict.make(qa, { n: 2, temperature: 0.5 }), { question: "q" })
      assert.strictEqual(fake.requests[2]!.temperature, 0.5)
      yield* Predict.forward(Predict.make(qa, { temperature: 0 }), { question: "q" })
      assert.strictEqual(fake.requests[3]!.temperature, 0)
      assert.deepStrictEqual(Predict.resolveConfig({ n: 4, temperature: 0.15 }, undefined, undefined), {
        n: 4,
        temperature: 0.7
      })
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("falls back to the JSONAdapter when the chat answer does not parse", () => {
    const fake = Fake.make((request) => (request.responseFormat === undefined ? "just Paris" : `{"answer": "Paris"}`))
    return Effect.gen(function* () {
      const prediction = yield* Predict.forward(Predict.make(qa), { question: "q" })
      assert.strictEqual(prediction.get("answer"), "Paris")
      assert.strictEqual(prediction.lmCalls, 2)
      assert.strictEqual(prediction.usage.totalTokens, 30)
      assert.strictEqual(fake.requests.length, 2)
      assert.isDefined(fake.requests[1]!.responseFormat)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("the JSONAdapter can be chosen; a failure surviving the fallback is an AdapterParseError", () => {
    const fake = Fake.make((request) => (request.responseFormat === undefined ? "nonsense" : `{"answer": "Oslo"}`))
    return Effect.gen(function* () {
      const prediction = yield* Predict.forward(Predict.make(qa, { adapter: JSONAdapter.make() }), { question: "q" })
      assert.strictEqual(prediction.get("answer"), "Oslo")
      assert.strictEqual(fake.requests.length, 1)
      const broken = Fake.make(() => "nonsense")
      const error = yield* Effect.flip(Predict.forward(Predict.make(qa), { question: "q" })).pipe(
        Effect.provide(broken.layer)
      )
      assert.strictEqual(error._tag, "AdapterParseError")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("records the call in the trace; overrides and hints reach the request", () => {
    const fake = Fake.make(() => Fake.chat({ answer: "x" }))
    return Effect.gen(function* () {
      const { trace } = yield* Trace.traced(Predict.forward(Predict.make(qa), { question: "q1" }))
      assert.deepStrictEqual(trace, [{ predictorPath: "self", inputs: { question: "q1" }, outputs: { answer: "x" } }])
      yield* Predict.forward(Predict.make(qa, { temperature: 0 }), { question: "q" }).pipe(
        Predict.withOverrides({ rolloutId: 3, temperature: 1 })
      )
      assert.strictEqual(fake.requests[1]!.rolloutId, 3)
      assert.strictEqual(fake.requests[1]!.temperature, 1)
      yield* Predict.forward(Predict.make(qa), { question: "q" }).pipe(
        Predict.withHints(new Map([["self", "Think of Europe."]]))
      )
      assert.strictEqual(Fake.field(Fake.lastUser(fake.requests[2]!), "hint_"), "Think of Europe.")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("bad inputs and bad settings fail with typed errors saying what to fix", () => {
    const fake = Fake.make(() => Fake.chat({ answer: "x" }))
    return Effect.gen(function* () {
      const missing = yield* Effect.flip(Predict.forward(Predict.make(qa), {} as { question: string }))
      assert.strictEqual(missing._tag, "SignatureValidationError")
      const badN = yield* Effect.flip(Predict.forward(Predict.make(qa, { n: 0 }), { question: "q" }))
      assert.strictEqual(badN._tag, "PredictConfigError")
      assert.include(badN.message, "n must be a positive integer")
      assert.strictEqual(fake.requests.length, 0)
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("replacing demos and instructions gives a new predictor and leaves the old one", () =>
    Effect.sync(() => {
      const p = Predict.make(qa)
      const q = Predict.withInstructions(Predict.withDemos(p, [Example.make({ question: "a", answer: "b" })]), "New.")
      assert.strictEqual(p.demos.length, 0)
      assert.strictEqual(q.demos.length, 1)
      assert.strictEqual(p.signature.instructions, "Answer with one word.")
      assert.strictEqual(q.signature.instructions, "New.")
    })
  )
})

describe("ChainOfThought", () => {
  it.effect("adds a reasoning output first and returns it", () => {
    const fake = Fake.make(() => Fake.chat({ reasoning: "France's capital is Paris.", answer: "Paris" }))
    const cot = ChainOfThought.make(qa)
    return Effect.gen(function* () {
      const prediction = yield* Module.call(cot, { question: "Capital of France?" })
      assert.strictEqual(prediction.get("reasoning"), "France's capital is Paris.")
      assert.strictEqual(prediction.get("answer"), "Paris")
      const sys = Fake.system(fake.requests[0]!)
      assert.isTrue(sys.indexOf("`reasoning`") < sys.indexOf("`answer`"))
      assert.include(Fake.lastUser(fake.requests[0]!), "starting with the field `[[ ## reasoning ## ]]`")
      assert.deepStrictEqual(
        Module.namedPredictors(cot).map((p) => p.path),
        ["predict"]
      )
      assert.deepStrictEqual(
        cot.parameters.predict.signature.outputFields.map((f) => f.name),
        ["reasoning", "answer"]
      )
    }).pipe(Effect.provide(fake.layer))
  })
})
