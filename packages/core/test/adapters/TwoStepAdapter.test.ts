import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as TwoStepAdapter from "../../src/adapters/TwoStepAdapter.js"
import * as Predict from "../../src/predict/Predict.js"
import * as Example from "../../src/primitives/Example.js"
import * as Signature from "../../src/signature/Signature.js"
import * as FakeProvider from "../predict/FakeProvider.js"

const lines = (...ls: ReadonlyArray<string>) => ls.join("\n")
const QA = Signature.make("question, context -> answer: int", {
  instructions: "Answer the arithmetic question.",
  descriptions: { question: "A word problem" }
})

describe("TwoStepAdapter golden prompts", () => {
  it("the main call: a task description and `name: value` turns", () => {
    const demo = Example.make({ question: "What is 1 + 1?", context: "none", answer: 2 }).withInputs(
      "question",
      "context"
    )
    const { messages, responseFormat } = TwoStepAdapter.format(QA, [demo], {
      question: "What is 2 + 3?",
      context: "math"
    })
    assert.strictEqual(responseFormat, undefined)
    assert.deepStrictEqual(
      messages.map((m) => m.role),
      ["system", "user", "assistant", "user"]
    )
    assert.strictEqual(
      messages[0]!.content,
      lines(
        "You are a helpful assistant that can solve tasks based on user input.",
        "As input, you will be provided with:",
        "1. `question` (str): A word problem",
        "2. `context` (str)",
        "Your outputs must contain:",
        "1. `answer` (int)",
        "You should lay out your outputs in detail so that your answer can be understood by another agent",
        "Specific instructions: Answer the arithmetic question."
      )
    )
    assert.strictEqual(messages[1]!.content, "question: What is 1 + 1?\n\ncontext: none")
    assert.strictEqual(messages[2]!.content, "answer: 2")
    assert.strictEqual(messages[3]!.content, "question: What is 2 + 3?\n\ncontext: math")
  })

  it("the extraction signature: `text` in, the outputs out, DSPy's instructions", () => {
    const target = TwoStepAdapter.extractionSignature(QA)
    assert.strictEqual(Signature.toSignatureString(target), "text: str -> answer: int")
    assert.strictEqual(
      target.instructions,
      "The input is a text that should contain all the necessary information to produce the fields `answer`. Your job is to extract the fields from the text verbatim. Extract and return the fields `answer` from the text."
    )
  })

  it("parse reads the `name: value` form of its demos and says what is missing otherwise", () => {
    const sig = Signature.make("question -> reasoning, answer: int")
    assert.deepStrictEqual(
      TwoStepAdapter.parse(sig, "reasoning: two\nplus three\n\nanswer: 5") as Either.Either<unknown, unknown>,
      Either.right({ reasoning: "two\nplus three", answer: 5 })
    )
    const free = TwoStepAdapter.parse(sig, "The answer is five.")
    assert.isTrue(Either.isLeft(free) && free.left.missing.length === 2 && /extraction call/.test(free.left.message))
  })
})

describe("TwoStepAdapter calls", () => {
  it.effect("answers freely, then extracts the fields with a second call on the extraction model", () => {
    const fake = FakeProvider.make((request) =>
      request.model === "small" ? FakeProvider.chat({ answer: "5" }) : "Two plus three makes five, so the result is 5."
    )
    return Effect.gen(function* () {
      const predict = Predict.make(QA, { adapter: TwoStepAdapter.make({ extractionModel: "small" }) })
      const prediction = yield* Predict.forward(predict, { question: "What is 2 + 3?", context: "math" })
      assert.strictEqual(prediction.get("answer"), 5)
      assert.strictEqual(prediction.lmCalls, 2)
      assert.strictEqual(prediction.usage.totalTokens, 30)
      assert.strictEqual(fake.requests.length, 2)
      assert.notStrictEqual(fake.requests[0]!.model, "small")
      assert.strictEqual(fake.requests[1]!.model, "small")
      // the extraction call's input is the main answer, in a ChatAdapter prompt
      assert.include(FakeProvider.lastUser(fake.requests[1]!), "Two plus three makes five, so the result is 5.")
      assert.include(FakeProvider.system(fake.requests[1]!), "Extract and return the fields `answer` from the text.")
    }).pipe(Effect.provide(fake.layer))
  })

  it.effect("n choices: one extraction per choice", () => {
    let main = 0
    const fake = FakeProvider.make((request, index) => {
      if (FakeProvider.system(request).startsWith("You are a helpful assistant")) {
        main++
        return `The result is ${index + 4}.`
      }
      const text = FakeProvider.field(FakeProvider.lastUser(request), "text") ?? ""
      return FakeProvider.chat({ answer: /\d+/.exec(text)![0] })
    })
    return Effect.gen(function* () {
      const predict = Predict.make(QA, { adapter: TwoStepAdapter.make(), n: 2 })
      const prediction = yield* Predict.forward(predict, { question: "q", context: "c" })
      assert.deepStrictEqual(prediction.pluck("answer"), [4, 5])
      assert.strictEqual(main, 2)
    }).pipe(Effect.provide(fake.layer))
  })
})
