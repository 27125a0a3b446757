import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as Example from "../../src/primitives/Example.js"
import * as Signature from "../../src/signature/Signature.js"

const lines = (...ls: ReadonlyArray<string>) => ls.join("\n")
const loose = (e: Either.Either<unknown, unknown>): Either.Either<unknown, unknown> => e

describe("ChatAdapter golden prompts", () => {
  it("plain signature", () => {
    const sig = Signature.make("question -> answer")
    const { messages, responseFormat } = ChatAdapter.format(sig, [], { question: "What is 2 + 3?" })
    assert.strictEqual(responseFormat, undefined)
    assert.deepStrictEqual(
      messages.map((m) => m.role),
      ["system", "user"]
    )
    assert.strictEqual(
      messages[0]!.content,
      lines(
        "Your input fields are:",
        "1. `question` (str)",
        "Your output fields are:",
        "1. `answer` (str)",
        "All interactions will be structured in the following way, with the appropriate values filled in.",
        "",
        "[[ ## question ## ]]",
        "{question}",
        "",
        "[[ ## answer ## ]]",
        "{answer}",
        "",
        "[[ ## completed ## ]]",
        "In adhering to this structure, your objective is: ",
        "        Given the fields `question`, produce the fields `answer`."
      )
    )
    assert.strictEqual(
      messages[1]!.content,
      lines(
        "[[ ## question ## ]]",
        "What is 2 + 3?",
        "",
        "Respond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."
      )
    )
  })

  it("ChainOfThought-like signature with a description and a demo", () => {
    const sig = Signature.make("question, context: list[str] -> answer: int", {
      descriptions: { question: "The question to answer" }
    }).pipe(Signature.prepend("reasoning", Signature.output(Schema.String)))
    const demo = Example.make({
      question: "What is 1 + 1?",
      context: ["arithmetic"],
      reasoning: "1 plus 1 is 2.",
      answer: 2
    }).withInputs("question", "context")
    const { messages } = ChatAdapter.format(sig, [demo], { question: "What is 2 + 3?", context: ["a", "b"] })
    assert.deepStrictEqual(
      messages.map((m) => m.role),
      ["system", "user", "assistant", "user"]
    )
    assert.strictEqual(
      messages[0]!.content,
      lines(
        "Your input fields are:",
        "1. `question` (str): The question to answer",
        "2. `context` (list[str])",
        "Your output fields are:",
        "1. `reasoning` (str)",
        "2. `answer` (int)",
        "All interactions will be structured in the following way, with the appropriate values filled in.",
        "",
        "[[ ## question ## ]]",
        "{question}",
        "",
        "[[ ## context ## ]]",
        "{context}",
        "",
        "[[ ## reasoning ## ]]",
        "{reasoning}",
        "",
        "[[ ## answer ## ]]",
        "{answer}        # note: the value you produce must be a single int value",
        "",
        "[[ ## completed ## ]]",
        "In adhering to this structure, your objective is: ",
        "        Given the fields `question`, `context`, produce the fields `answer`."
      )
    )
    assert.strictEqual(
      messages[1]!.content,
      lines("[[ ## question ## ]]", "What is 1 + 1?", "", "[[ ## context ## ]]", '["arithmetic"]')
    )
    assert.strictEqual(
      messages[2]!.content,
      lines("[[ ## reasoning ## ]]", "1 plus 1 is 2.", "", "[[ ## answer ## ]]", "2", "", "[[ ## completed ## ]]", "")
    )
    assert.strictEqual(
      messages[3]!.content,
      lines(
        "[[ ## question ## ]]",
        "What is 2 + 3?",
        "",
        "[[ ## context ## ]]",
        '["a", "b"]',
        "",
        "Respond with the corresponding output fields, starting with the field `[[ ## reasoning ## ]]`, then `[[ ## answer ## ]]` (must be formatted as a valid Python int), and then ending with the marker for `[[ ## completed ## ]]`."
      )
    )
  })

  it("typed fields: notes and format hints per type", () => {
    const sig = Signature.make({
      inputs: { n: Schema.Int, flags: Schema.Record({ key: Schema.String, value: Schema.Boolean }) },
      outputs: {
        total: Schema.Number,
        ok: Schema.Boolean,
        tags: Schema.Array(Schema.String),
        label: Schema.Literal("yes", "no"),
        person: Schema.Struct({ name: Schema.String, age: Schema.Int }).annotations({ identifier: "Person" })
      },
      instructions: "Line one.\nLine two."
    })
    const { messages } = ChatAdapter.format(sig, [], { n: 3, flags: { a: true } })
    assert.strictEqual(
      messages[0]!.content,
      lines(
        "Your input fields are:",
        "1. `n` (int)",
        "2. `flags` (dict[str, bool])",
        "Your output fields are:",
        "1. `total` (float)",
        "2. `ok` (bool)",
        "3. `tags` (list[str])",
        "4. `label` (Literal['yes', 'no'])",
        "5. `person` (Person)",
        "All interactions will be structured in the following way, with the appropriate values filled in.",
        "",
        "[[ ## n ## ]]",
        "{n}",
        "",
        "[[ ## flags ## ]]",
        "{flags}",
        "",
        "[[ ## total ## ]]",
        "{total}        # note: the value you produce must be a single float value",
        "",
        "[[ ## ok ## ]]",
        "{ok}        # note: the value you produce must be True or False",
        "",
        "[[ ## tags ## ]]",
        '{tags}        # note: the value you produce must adhere to the JSON schema: {"type": "array", "items": {"type": "string"}}',
        "",
        "[[ ## label ## ]]",
        "{label}        # note: the value you produce must exactly match (no extra characters) one of: yes; no",
        "",
        "[[ ## person ## ]]",
        '{person}        # note: the value you produce must adhere to the JSON schema: {"type": "object", "properties": {"age": {"type": "integer"}, "name": {"type": "string"}}, "required": ["name", "age"], "title": "Person"}',
        "",
        "[[ ## completed ## ]]",
        "In adhering to this structure, your objective is: ",
        "        Line one.",
        "        Line two."
      )
    )
    assert.strictEqual(
      messages[1]!.content,
      lines(
        "[[ ## n ## ]]",
        "3",
        "",
        "[[ ## flags ## ]]",
        '{"a": true}',
        "",
        "Respond with the corresponding output fields, starting with the field `[[ ## total ## ]]` (must be formatted as a valid Python float), then `[[ ## ok ## ]]` (must be formatted as a valid Python bool), then `[[ ## tags ## ]]` (must be formatted as a valid Python list[str]), then `[[ ## label ## ]]` (must be formatted as a valid Python Literal['yes', 'no']), then `[[ ## person ## ]]` (must be formatted as a valid Python Person), and then ending with the marker for `[[ ## completed ## ]]`."
      )
    )
    assert.strictEqual(
      ChatAdapter.formatAssistant(sig, {
        total: 5,
        ok: false,
        tags: ["a", "b"],
        label: "no",
        person: { name: "Ann", age: 30 }
      }),
      lines(
        "[[ ## total ## ]]",
        "5.0",
        "",
        "[[ ## ok ## ]]",
        "False",
        "",
        "[[ ## tags ## ]]",
        '["a", "b"]',
        "",
        "[[ ## label ## ]]",
        "no",
        "",
        "[[ ## person ## ]]",
        '{"name": "Ann", "age": 30}',
        "",
        "[[ ## completed ## ]]",
        ""
      )
    )
  })

  it("puts incomplete demos first, with placeholders, and drops demos without inputs or outputs", () => {
    const sig = Signature.make("question -> reasoning, answer")
    const { messages } = ChatAdapter.format(
      sig,
      [{ question: "Q1", reasoning: "R1", answer: "A1" }, { question: "Q2", answer: "A2" }, { question: "Q3" }],
      { question: "Q" }
    )
    assert.deepStrictEqual(
      messages.map((m) => m.content),
      [
        messages[0]!.content,
        lines(
          "This is an example of the task, though some input or output fields are not supplied.",
          "",
          "[[ ## question ## ]]",
          "Q2"
        ),
        lines(
          "[[ ## reasoning ## ]]",
          "Not supplied for this particular example. ",
          "",
          "[[ ## answer ## ]]",
          "A2",
          "",
          "[[ ## completed ## ]]",
          ""
        ),
        lines("[[ ## question ## ]]", "Q1"),
        lines("[[ ## reasoning ## ]]", "R1", "", "[[ ## answer ## ]]", "A1", "", "[[ ## completed ## ]]", ""),
        messages[5]!.content
      ]
    )
    assert.strictEqual(messages.length, 6)
  })
})

describe("ChatAdapter prompt prefix", () => {
  const signature = Signature.make("question -> answer")

  it("shares the system message between calls and formats only the inputs", () => {
    const a = ChatAdapter.format(signature, [], { question: "one" })
    const b = ChatAdapter.format(signature, [], { question: "two" })
    assert.strictEqual(a.messages[0], b.messages[0])
    assert.notDeepEqual(a.messages[1], b.messages[1])
    assert.include(String(b.messages[1]?.content), "two")
  })

  it("formats the demos afresh when the demos array changes in place", () => {
    const demos: Array<{ question: string; answer: string }> = [{ question: "q1", answer: "a1" }]
    const before = ChatAdapter.format(signature, demos, { question: "x" })
    demos.push({ question: "q2", answer: "a2" })
    const after = ChatAdapter.format(signature, demos, { question: "x" })
    assert.strictEqual(before.messages.length, 4)
    assert.strictEqual(after.messages.length, 6)
    assert.include(String(after.messages[3]?.content), "q2")
  })
})

describe("ChatAdapter parsing", () => {
  const sig = Signature.make("question -> reasoning, answer: int, ok: bool, tags: list[str], label: Literal['a', 'b']")
  const good = lines(
    "Sure, here it is.",
    "[[ ## reasoning ## ]]",
    "Two and three.",
    "Five.",
    "",
    "[[ ## answer ## ]]",
    " 5 ",
    "[[ ## ok ## ]] true",
    "[[ ## tags ## ]]",
    "['x', 'y',]",
    "[[ ## label ## ]]",
    "'b'",
    "[[ ## completed ## ]]"
  )

  it("decodes every field to its type; text before the first header is ignored", () => {
    assert.deepStrictEqual(
      loose(ChatAdapter.parse(sig, good)),
      Either.right({ reasoning: "Two and three.\nFive.", answer: 5, ok: true, tags: ["x", "y"], label: "b" })
    )
  })

  it("tolerates a missing completed marker and keeps the first section of a repeated field", () => {
    const text = lines(
      "[[ ## reasoning ## ]]",
      "r",
      "[[ ## answer ## ]]",
      "7",
      "[[ ## answer ## ]]",
      "8",
      "[[ ## ok ## ]]",
      "False",
      "[[ ## tags ## ]]",
      "[]",
      "[[ ## label ## ]]",
      "Literal['a']"
    )
    assert.deepStrictEqual(
      loose(ChatAdapter.parse(sig, text)),
      Either.right({ reasoning: "r", answer: 7, ok: false, tags: [], label: "a" })
    )
  })

  it("fails with the raw completion, the missing fields and the invalid ones", () => {
    const text = lines("[[ ## reasoning ## ]]", "r", "[[ ## answer ## ]]", "five", "[[ ## label ## ]]", "c")
    const r = ChatAdapter.parse(sig, text)
    assert.isTrue(Either.isLeft(r))
    if (Either.isLeft(r)) {
      const e = r.left
      assert.strictEqual(e._tag, "AdapterParseError")
      assert.strictEqual(e.completion, text)
      assert.deepStrictEqual(e.outputFields, ["reasoning", "answer", "ok", "tags", "label"])
      assert.deepStrictEqual(e.missing, ["ok", "tags"])
      assert.deepStrictEqual(
        e.invalid.map((i) => i.field),
        ["answer", "label"]
      )
      assert.include(e.invalid[0]!.problem, "not a valid int")
      assert.include(e.invalid[1]!.problem, "is not one of 'a', 'b'")
      assert.include(e.message, "missing `ok`, `tags`")
    }
  })

  it("rejects a fractional int and accepts a whole one", () => {
    const s = Signature.make("q -> n: int")
    assert.isTrue(Either.isLeft(ChatAdapter.parse(s, "[[ ## n ## ]]\n2.5")))
    assert.deepStrictEqual(ChatAdapter.parse(s, "[[ ## n ## ]]\n2.0"), Either.right({ n: 2 }))
  })

  it("reads a missing Optional output as null and None as null", () => {
    const s = Signature.make("q -> a, b: Optional[int]")
    assert.deepStrictEqual(ChatAdapter.parse(s, "[[ ## a ## ]]\nx"), Either.right({ a: "x", b: null }))
    assert.deepStrictEqual(
      ChatAdapter.parse(s, "[[ ## a ## ]]\nx\n[[ ## b ## ]]\nNone"),
      Either.right({ a: "x", b: null })
    )
    assert.deepStrictEqual(ChatAdapter.parse(s, "[[ ## a ## ]]\nx\n[[ ## b ## ]]\n4"), Either.right({ a: "x", b: 4 }))
  })
})
