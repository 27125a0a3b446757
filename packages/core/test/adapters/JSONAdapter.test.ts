import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as JSONAdapter from "../../src/adapters/JSONAdapter.js"
import * as JsonRepair from "../../src/adapters/JsonRepair.js"
import * as Signature from "../../src/signature/Signature.js"

const lines = (...ls: ReadonlyArray<string>) => ls.join("\n")
const loose = (e: Either.Either<unknown, unknown>): Either.Either<unknown, unknown> => e

describe("JSONAdapter golden prompts", () => {
  it("ChainOfThought-like signature with a demo and json_schema", () => {
    const sig = Signature.make("question -> reasoning, answer: int", {
      descriptions: { question: "The question to answer" }
    })
    const { messages, responseFormat } = JSONAdapter.format(
      sig,
      [{ question: "What is 1 + 1?", reasoning: "1 plus 1 is 2.", answer: 2 }],
      { question: "What is 2 + 3?" }
    )
    assert.strictEqual(
      messages[0]!.content,
      lines(
        "Your input fields are:",
        "1. `question` (str): The question to answer",
        "Your output fields are:",
        "1. `reasoning` (str)",
        "2. `answer` (int)",
        "All interactions will be structured in the following way, with the appropriate values filled in.",
        "",
        "Inputs will have the following structure:",
        "",
        "[[ ## question ## ]]",
        "{question}",
        "",
        "Outputs will be a JSON object with the following fields.",
        "",
        "{",
        '  "reasoning": "{reasoning}",',
        '  "answer": "{answer}        # note: the value you produce must be a single int value"',
        "}",
        "In adhering to this structure, your objective is: ",
        "        Given the fields `question`, produce the fields `reasoning`, `answer`."
      )
    )
    assert.strictEqual(messages[1]!.content, lines("[[ ## question ## ]]", "What is 1 + 1?"))
    assert.strictEqual(messages[2]!.content, lines("{", '  "reasoning": "1 plus 1 is 2.",', '  "answer": 2', "}"))
    assert.strictEqual(
      messages[3]!.content,
      lines(
        "[[ ## question ## ]]",
        "What is 2 + 3?",
        "",
        "Respond with a JSON object in the following order of fields: `reasoning`, then `answer` (must be formatted as a valid Python int)."
      )
    )
    assert.deepStrictEqual(responseFormat, {
      type: "json_schema",
      name: "output",
      strict: true,
      schema: {
        type: "object",
        additionalProperties: false,
        properties: { reasoning: { type: "string" }, answer: { type: "integer" } },
        required: ["reasoning", "answer"]
      }
    })
  })

  it("typed outputs: literal, list, struct, optional; the signature name names the schema", () => {
    const sig = Signature.make({
      name: "Extract",
      inputs: { text: Schema.String },
      outputs: {
        label: Schema.Literal("pos", "neg"),
        spans: Schema.Array(Schema.Struct({ start: Schema.Int, note: Schema.optional(Schema.String) })),
        score: Schema.optional(Schema.Number)
      }
    })
    const { messages, responseFormat } = JSONAdapter.format(sig, [], { text: "t" })
    assert.include(
      messages[0]!.content,
      '  "label": "{label}        # note: the value you produce must exactly match (no extra characters) one of: pos; neg",'
    )
    assert.deepStrictEqual(responseFormat, {
      type: "json_schema",
      name: "Extract",
      strict: true,
      schema: {
        type: "object",
        additionalProperties: false,
        properties: {
          label: { type: "string", enum: ["pos", "neg"] },
          spans: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              properties: { start: { type: "integer" }, note: { anyOf: [{ type: "string" }, { type: "null" }] } },
              required: ["start", "note"]
            }
          },
          score: { anyOf: [{ type: "number" }, { type: "null" }] }
        },
        required: ["label", "spans", "score"]
      }
    })
    // A strict-mode answer with null for optional properties parses, nulls dropped.
    assert.deepStrictEqual(
      loose(JSONAdapter.parse(sig, '{"label": "pos", "spans": [{"start": 1, "note": null}], "score": null}')),
      Either.right({ label: "pos", spans: [{ start: 1 }] })
    )
  })

  it("asks for json_object when outputs are open-ended or the provider has no structured outputs", () => {
    const open = Signature.make("q -> meta: dict[str, int]")
    assert.deepStrictEqual(JSONAdapter.format(open, [], { q: "x" }).responseFormat, { type: "json_object" })
    const closed = Signature.make("q -> a")
    assert.deepStrictEqual(JSONAdapter.format(closed, [], { q: "x" }, { structuredOutputs: false }).responseFormat, {
      type: "json_object"
    })
  })
})

describe("JSONAdapter parsing", () => {
  const sig = Signature.make("q -> answer: int, ok: bool, tags: list[str], why")

  it("repairs and decodes", () => {
    const cases: ReadonlyArray<string> = [
      '{"answer": 5, "ok": true, "tags": ["a"], "why": "w"}',
      '```json\n{"answer": 5, "ok": true, "tags": ["a"], "why": "w"}\n```',
      'Here you go:\n{"answer": "5", "ok": "True", "tags": ["a",], "why": "w",}\nHope that helps!',
      "{'answer': 5, 'ok': True, 'tags': ['a'], 'why': 'w'}",
      '{answer: 5, ok: true, tags: ["a"], why: "w"}',
      '{"answer": 5 "ok": true "tags": ["a"] "why": "w"}',
      '{"answer": 5, // the sum\n "ok": true, "tags": ["a"], "why": "w"}',
      '{"why": "w", "tags": "[\\"a\\"]", "ok": "yes", "answer": 5, "extra": 1}'
    ]
    for (const text of cases) {
      assert.deepStrictEqual(
        loose(JSONAdapter.parse(sig, text)),
        Either.right({ answer: 5, ok: true, tags: ["a"], why: "w" }),
        text
      )
    }
  })

  it("recovers a truncated object when the fields it needs are there", () => {
    const r = JSONAdapter.parse(sig, '{"answer": 5, "ok": false, "tags": ["a", "b"], "why": "because it')
    assert.deepStrictEqual(loose(r), Either.right({ answer: 5, ok: false, tags: ["a", "b"], why: "because it" }))
    const cut = JSONAdapter.parse(sig, '{"answer": 5, "ok": false, "tags": ["a"')
    assert.isTrue(Either.isLeft(cut))
    if (Either.isLeft(cut)) assert.deepStrictEqual(cut.left.missing, ["why"])
  })

  it("fails with the raw completion when there is no object or a value is invalid", () => {
    const none = JSONAdapter.parse(sig, "I cannot answer that.")
    assert.isTrue(Either.isLeft(none))
    if (Either.isLeft(none)) {
      assert.strictEqual(none.left.adapter, "JSONAdapter")
      assert.strictEqual(none.left.completion, "I cannot answer that.")
      assert.include(none.left.message, "no JSON object")
    }
    const bad = JSONAdapter.parse(sig, '{"answer": 5.5, "ok": "maybe", "tags": ["a"], "why": "w"}')
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) {
      assert.deepStrictEqual(
        bad.left.invalid.map((i) => i.field),
        ["answer", "ok"]
      )
    }
  })
})

describe("JsonRepair", () => {
  it("reads values and refuses trailing text", () => {
    assert.deepStrictEqual(JsonRepair.parse("[1, 2,]"), Option.some([1, 2]))
    assert.deepStrictEqual(JsonRepair.parse("None"), Option.some(null))
    assert.deepStrictEqual(JsonRepair.parse("'it\\'s'"), Option.some("it's"))
    assert.deepStrictEqual(JsonRepair.parse('"\\u00e9t\\u00e9"'), Option.some("été"))
    assert.deepStrictEqual(JsonRepair.parse("5 apples"), Option.none())
    assert.deepStrictEqual(JsonRepair.parse("   "), Option.none())
    assert.deepStrictEqual(JsonRepair.parse('{"a": {"b": [1, {"c": tru'), Option.some({ a: { b: [1, { c: "tru" }] } }))
  })

  it("finds the first object among prose", () => {
    assert.deepStrictEqual(
      JsonRepair.parseObject('I think {"a": 1, "b": [2]} is right.'),
      Option.some({ a: 1, b: [2] })
    )
    assert.deepStrictEqual(JsonRepair.parseObject('Answer: {"a": 1} done'), Option.some({ a: 1 }))
    assert.deepStrictEqual(JsonRepair.parseObject("no json"), Option.none())
  })
})
