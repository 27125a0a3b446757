import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import * as XMLAdapter from "../../src/adapters/XMLAdapter.js"
import * as XmlTag from "../../src/adapters/XmlTag.js"
import * as Example from "../../src/primitives/Example.js"
import * as Signature from "../../src/signature/Signature.js"
import { hostileText } from "../hostile.js"

const lines = (...ls: ReadonlyArray<string>) => ls.join("\n")
const loose = (e: Either.Either<unknown, unknown>): Either.Either<unknown, unknown> => e

// Values an attacker (or an unlucky LM) puts in a field: tags of every field, escapes of them, partial tags.
const tagPieces = [
  "<answer>",
  "</answer>",
  "<reasoning>",
  "</reasoning>",
  "<question>",
  "</question>",
  "\\<answer>",
  "\\\\</answer>",
  "\\",
  "<",
  "</",
  "<answer",
  ">",
  "<a b>",
  "<_x9>",
  "\n",
  " "
]
const xmlText = fc
  .array(fc.oneof(fc.constantFrom(...tagPieces), fc.string({ unit: "grapheme" }), hostileText), { maxLength: 8 })
  .map((parts) => parts.join(""))

describe("XMLAdapter golden prompts", () => {
  it("plain signature", () => {
    const sig = Signature.make("question -> answer")
    const { messages, responseFormat } = XMLAdapter.format(sig, [], { question: "What is 2 + 3?" })
    assert.strictEqual(responseFormat, undefined)
    assert.strictEqual(
      messages[0]!.content as string,
      lines(
        "Your input fields are:",
        "1. `question` (str)",
        "Your output fields are:",
        "1. `answer` (str)",
        "All interactions will be structured in the following way, with the appropriate values filled in.",
        "",
        "<question>",
        "{question}",
        "</question>",
        "",
        "<answer>",
        "{answer}",
        "</answer>",
        "In adhering to this structure, your objective is: ",
        "        Given the fields `question`, produce the fields `answer`."
      )
    )
    assert.strictEqual(
      messages[1]!.content as string,
      lines(
        "<question>",
        "What is 2 + 3?",
        "</question>",
        "",
        "Respond with the corresponding output fields wrapped in XML tags `<answer>`."
      )
    )
  })

  it("ChainOfThought-like signature with a description, a typed output and a demo", () => {
    const sig = Signature.make("question, context: list[str] -> answer: int", {
      descriptions: { question: "The question to answer" }
    }).pipe(Signature.prepend("reasoning", Signature.output(Schema.String)))
    const demo = Example.make({
      question: "What is 1 + 1?",
      context: ["arithmetic"],
      reasoning: "1 plus 1 is 2.",
      answer: 2
    }).withInputs("question", "context")
    const { messages } = XMLAdapter.format(sig, [demo], { question: "What is 2 + 3?", context: ["a", "b"] })
    assert.deepStrictEqual(
      messages.map((m) => m.role),
      ["system", "user", "assistant", "user"]
    )
    assert.strictEqual(
      messages[0]!.content as string,
      lines(
        "Your input fields are:",
        "1. `question` (str): The question to answer",
        "2. `context` (list[str])",
        "Your output fields are:",
        "1. `reasoning` (str)",
        "2. `answer` (int)",
        "All interactions will be structured in the following way, with the appropriate values filled in.",
        "",
        "<question>",
        "{question}",
        "</question>",
        "",
        "<context>",
        "{context}",
        "</context>",
        "",
        "<reasoning>",
        "{reasoning}",
        "</reasoning>",
        "",
        "<answer>",
        "{answer}        # note: the value you produce must be a single int value",
        "</answer>",
        "In adhering to this structure, your objective is: ",
        "        Given the fields `question`, `context`, produce the fields `answer`."
      )
    )
    assert.strictEqual(
      messages[1]!.content as string,
      lines("<question>", "What is 1 + 1?", "</question>", "", "<context>", '["arithmetic"]', "</context>")
    )
    assert.strictEqual(
      messages[2]!.content as string,
      lines("<reasoning>", "1 plus 1 is 2.", "</reasoning>", "", "<answer>", "2", "</answer>")
    )
    assert.strictEqual(
      messages[3]!.content as string,
      lines(
        "<question>",
        "What is 2 + 3?",
        "</question>",
        "",
        "<context>",
        '["a", "b"]',
        "</context>",
        "",
        "Respond with the corresponding output fields wrapped in XML tags `<reasoning>`, then `<answer>` (must be formatted as a valid Python int)."
      )
    )
  })
})

describe("XMLAdapter parsing", () => {
  const sig = Signature.make("question -> reasoning, answer: int")

  it("reads each output's first element, trimmed and typed; text around elements is ignored", () => {
    const text = "Sure!\n<reasoning>\n 2 plus 3 is 5. \n</reasoning>\n<answer>5</answer>\n<answer>7</answer> bye"
    assert.deepStrictEqual(loose(XMLAdapter.parse(sig, text)), Either.right({ reasoning: "2 plus 3 is 5.", answer: 5 }))
  })

  it("a missing or mistyped field is an AdapterParseError naming it", () => {
    const missing = XMLAdapter.parse(sig, "<reasoning>r</reasoning>")
    assert.isTrue(Either.isLeft(missing) && missing.left.missing.includes("answer"))
    const unclosed = XMLAdapter.parse(sig, "<reasoning>r</reasoning><answer>5")
    assert.isTrue(Either.isLeft(unclosed) && unclosed.left.missing.includes("answer"))
    const wrong = XMLAdapter.parse(sig, "<reasoning>r</reasoning><answer>five</answer>")
    assert.isTrue(Either.isLeft(wrong) && wrong.left.invalid[0]!.field === "answer")
  })

  it("a value holding tags round-trips through formatAssistant/parse (property)", () => {
    const textSig = Signature.make("question -> reasoning, answer")
    fc.assert(
      fc.property(xmlText, xmlText, (reasoning, answer) => {
        const values = { reasoning: reasoning.trim(), answer: answer.trim() }
        const text = XMLAdapter.formatAssistant(textSig, values)
        assert.deepStrictEqual(loose(XMLAdapter.parse(textSig, text)), Either.right(values), text)
      }),
      { numRuns: 300 }
    )
  })

  it("escapeValue is reversed by unescapeValue and leaves no structural tag (property)", () => {
    fc.assert(
      fc.property(xmlText, (s) => {
        const escaped = XmlTag.escapeValue(s)
        assert.strictEqual(XmlTag.unescapeValue(escaped), s)
        assert.deepStrictEqual(XmlTag.structuralTags(escaped), [])
        const u = XmlTag.makeUnescaper()
        let streamed = ""
        for (const c of escaped) streamed += u.push(c)
        assert.strictEqual(streamed + u.end(), s)
      }),
      { numRuns: 500 }
    )
  })

  it("an input value cannot add, close or replace a field of the user message", () => {
    const qa = Signature.make("question, context -> answer")
    fc.assert(
      fc.property(xmlText, xmlText, (question, context) => {
        const { messages } = XMLAdapter.format(qa, [], { question, context })
        const user = messages.at(-1)!.content as string
        assert.deepStrictEqual(
          XmlTag.elements(user).map((e) => [e.name, e.value]),
          [
            ["question", question.trim()],
            ["context", context.trim()]
          ]
        )
      }),
      { numRuns: 300 }
    )
  })

  it("a demo's values add no element to its messages", () => {
    const qa = Signature.make("question -> reasoning, answer")
    fc.assert(
      fc.property(xmlText, xmlText, xmlText, (question, reasoning, answer) => {
        const demo = { question, reasoning, answer }
        const { messages } = XMLAdapter.format(qa, [demo], { question: "q" })
        assert.deepStrictEqual(
          XmlTag.elements(messages[1]!.content as string).map((e) => [e.name, e.value]),
          [["question", question.trim()]]
        )
        assert.deepStrictEqual(
          XmlTag.elements(messages[2]!.content as string).map((e) => [e.name, e.value]),
          [
            ["reasoning", reasoning.trim()],
            ["answer", answer.trim()]
          ]
        )
      }),
      { numRuns: 200 }
    )
  })

  it("scans 300 KB of adversarial text in linear time (a quadratic scan would take minutes)", () => {
    for (const piece of ["<", "<a", "\\<a>", "<answer>", "</x>"]) {
      const text = piece.repeat(Math.ceil(300_000 / piece.length))
      const start = performance.now()
      XMLAdapter.parse(sig, text)
      XmlTag.unescapeValue(XmlTag.escapeValue(text))
      assert.isBelow(performance.now() - start, 2_000, piece)
    }
  })
})

describe("XMLAdapter streaming", () => {
  const sig = Signature.make("question -> reasoning, answer: int")
  const collect = (chunks: ReadonlyArray<string>) =>
    Stream.fromIterable(chunks).pipe(XMLAdapter.streamFields(sig), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

  it.effect("deltas concatenate to each field's value, whatever the chunking (property)", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(xmlText, fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 7 }), (r, answer, size) => {
          const reasoning = r.trim()
          const text = `Well.\n${XMLAdapter.formatAssistant(sig, { reasoning, answer })}`
          const chunks: Array<string> = []
          for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size))
          const events = Effect.runSync(collect(chunks))
          const deltas = events.filter((e) => e._tag === "FieldDelta" && e.field === "reasoning")
          assert.strictEqual(deltas.map((e) => (e._tag === "FieldDelta" ? e.delta : "")).join(""), reasoning)
          const values = Object.fromEntries(
            events.flatMap((e) => (e._tag === "FieldValue" ? [[e.field, e.value] as const] : []))
          )
          assert.deepStrictEqual(values, { reasoning, answer })
          assert.deepStrictEqual(loose(XMLAdapter.parse(sig, text)), Either.right({ reasoning, answer }))
        }),
        { numRuns: 100 }
      )
    )
  )

  it.effect("a required field never closed fails the stream", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(collect(["<reasoning>r</reasoning><ans", "wer>5"]))
      assert.strictEqual(error._tag, "AdapterParseError")
    })
  )
})
