import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import * as ChatAdapter from "../../src/adapters/ChatAdapter.js"
import * as JSONAdapter from "../../src/adapters/JSONAdapter.js"
import * as Signature from "../../src/signature/Signature.js"
import { hostileText } from "../hostile.js"

const sig = Signature.make({
  inputs: { question: Schema.String },
  outputs: {
    text: Schema.String,
    count: Schema.Int,
    ratio: Schema.Number,
    ok: Schema.Boolean,
    tags: Schema.Array(Schema.String),
    label: Schema.Literal("yes", "no", "not sure"),
    maybe: Schema.NullOr(Schema.Int),
    person: Schema.Struct({ name: Schema.String, age: Schema.Int, nick: Schema.optional(Schema.String) }),
    scores: Schema.Record({ key: Schema.String, value: Schema.Number })
  }
})

const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x))
// ChatAdapter text values are read back trimmed, line by line (`\r\n` as `\n`); a line that looks like a
// section header is escaped when written and read back as it was (FieldMarker).
const chatText = fc.oneof(fc.string({ unit: "grapheme" }), hostileText).map((s) => s.replaceAll("\r\n", "\n").trim())

const outputs = (text: fc.Arbitrary<string>) =>
  fc.record({
    text,
    count: fc.integer(),
    ratio: finite,
    ok: fc.boolean(),
    tags: fc.array(fc.string({ unit: "grapheme" }), { maxLength: 4 }),
    label: fc.constantFrom("yes" as const, "no" as const, "not sure" as const),
    maybe: fc.option(fc.integer(), { nil: null }),
    person: fc.record(
      { name: fc.string({ unit: "grapheme" }), age: fc.nat(), nick: fc.string() },
      { requiredKeys: ["name", "age"] }
    ),
    // Effect's Schema.Record decoding drops a `__proto__` key (a guard against prototype pollution).
    scores: fc.dictionary(
      fc.string().filter((k) => k !== "__proto__"),
      finite,
      { maxKeys: 3 }
    )
  })

describe("format an assistant message, parse it back", () => {
  it("ChatAdapter round-trips values of every declared type", () => {
    fc.assert(
      fc.property(outputs(chatText), (values) => {
        const text = ChatAdapter.formatAssistant(sig, values)
        const parsed = ChatAdapter.parse(sig, text)
        assert.deepStrictEqual(parsed as Either.Either<unknown, unknown>, Either.right(values), text)
      }),
      { numRuns: 200 }
    )
  })

  it("JSONAdapter round-trips values of every declared type, strings exactly", () => {
    fc.assert(
      fc.property(outputs(fc.string({ unit: "grapheme" })), (values) => {
        const text = JSONAdapter.formatAssistant(sig, values)
        const parsed = JSONAdapter.parse(sig, text)
        assert.deepStrictEqual(parsed as Either.Either<unknown, unknown>, Either.right(values), text)
      }),
      { numRuns: 200 }
    )
  })

  it("a demo written by format() parses back through the same adapter", () => {
    const cot = Signature.make("question -> reasoning, answer: int")
    for (const adapter of [ChatAdapter.plain, JSONAdapter.make()]) {
      const { messages } = adapter.format(cot, [{ question: "q", reasoning: "r", answer: 4 }], { question: "q2" })
      assert.deepStrictEqual(
        adapter.parse(cot, messages[2]!.content as string) as Either.Either<unknown, unknown>,
        Either.right({ reasoning: "r", answer: 4 })
      )
    }
  })
})
