import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { pipe } from "effect/Function"
import * as Schema from "effect/Schema"
import * as FieldType from "../../src/signature/FieldType.js"
import * as Signature from "../../src/signature/Signature.js"
import {
  SignatureConflictError,
  SignatureEditError,
  type SignatureParseError
} from "../../src/signature/SignatureError.js"

const parseError = (source: string): SignatureParseError => {
  const r = Signature.parse(source)
  if (Either.isRight(r)) throw new Error(`expected "${source}" to fail`)
  assert.strictEqual(r.left._tag, "SignatureParseError")
  return r.left as SignatureParseError
}

describe("Signature string form", () => {
  it("parses names, types and default instructions", () => {
    const sig = Signature.make("question, context: list[str] -> answer: int")
    assert.deepStrictEqual(
      sig.inputFields.map((f) => [f.name, f.typeName, f.kind]),
      [
        ["question", "str", "input"],
        ["context", "list[str]", "input"]
      ]
    )
    assert.deepStrictEqual(
      sig.outputFields.map((f) => [f.name, f.typeName]),
      [["answer", "int"]]
    )
    assert.strictEqual(sig.instructions, "Given the fields `question`, `context`, produce the fields `answer`.")
    assert.strictEqual(sig.outputFields[0]!.prefix, "Answer:")
    expectTypeOf(sig).toEqualTypeOf<
      Signature.Signature<
        { readonly question: string; readonly context: ReadonlyArray<string> },
        { readonly answer: number }
      >
    >()
  })

  it("parses every type form", () => {
    const sig = Signature.make(
      "a: float, b: bool, c: dict[str, list[int]], d: Literal['x', \"y z\", 3, True], e: Optional[int], f: Any -> g"
    )
    assert.deepStrictEqual(
      sig.inputFields.map((f) => f.typeName),
      ["float", "bool", "dict[str, list[int]]", "Literal['x', 'y z', 3, True]", "Optional[int]", "Any"]
    )
    assert.deepStrictEqual(sig.inputFields[3]!.type, FieldType.literal(["x", "y z", 3, true]))
    assert.isTrue(sig.inputFields[4]!.optional)
    expectTypeOf<Signature.Inputs<typeof sig>>().toEqualTypeOf<{
      readonly a: number
      readonly b: boolean
      readonly c: { readonly [key: string]: ReadonlyArray<number> }
      readonly d: "x" | "y z" | 3 | true
      readonly e: number | null
      readonly f: unknown
    }>()
  })

  it("names the column and what was expected", () => {
    const noArrow = parseError("question answer")
    assert.strictEqual(noArrow.column, 10)
    assert.strictEqual(noArrow.expected, "`,` or `->`")
    const badType = parseError("q -> a: integer")
    assert.strictEqual(badType.column, 9)
    assert.include(badType.expected, "not `integer`")
    const unclosed = parseError("q -> a: list[int")
    assert.strictEqual(unclosed.column, 17)
    assert.strictEqual(unclosed.expected, "`]` closing list[...]")
    const noOutputs = parseError("q ->")
    assert.strictEqual(noOutputs.column, 5)
    assert.strictEqual(noOutputs.expected, "an output field name")
    const twoArrows = parseError("a -> b -> c")
    assert.strictEqual(twoArrows.expected, "only one `->`")
    const repeated = parseError("a, b -> a")
    assert.strictEqual(repeated.column, 9)
    assert.include(repeated.message, "repeated")
    assert.include(parseError("q -> a: Literal[x]").expected, "a literal value")
  })

  it("infers loose value types from a string known only at run time", () => {
    const source: string = "a, b: int -> c"
    const sig = Signature.make(source)
    expectTypeOf<Signature.Inputs<typeof sig>>().toEqualTypeOf<{ readonly [key: string]: unknown }>()
    assert.deepStrictEqual(
      sig.fields.map((f) => f.typeName),
      ["str", "int", "str"]
    )
  })

  it("make throws the typed error on a bad string", () => {
    assert.throws(() => Signature.make("-> ->"), /column/)
  })

  it("takes descriptions and instructions", () => {
    const sig = Signature.make("question -> answer", {
      instructions: "Answer briefly.",
      descriptions: { question: "The question to answer" }
    })
    assert.strictEqual(sig.inputFields[0]!.description, "The question to answer")
    assert.strictEqual(sig.instructions, "Answer briefly.")
    const bad = Signature.parse("question -> answer", { descriptions: { nope: "x" } })
    assert.isTrue(Either.isLeft(bad))
  })
})

describe("Signature typed form", () => {
  const Person = Schema.Struct({ name: Schema.String, age: Schema.optional(Schema.Int) }).annotations({
    identifier: "Person"
  })
  const sig = Signature.make({
    inputs: { question: Schema.String.annotations({ description: "The question" }), k: Schema.Int },
    outputs: {
      answer: Schema.Number,
      label: Schema.Literal("yes", "no"),
      people: Schema.Array(Person),
      confident: Signature.field(Schema.Boolean, { description: "Sure?", prefix: "Sure:" }),
      note: Schema.optional(Schema.String)
    },
    instructions: "Answer."
  })

  it("infers value types", () => {
    expectTypeOf<Signature.Inputs<typeof sig>>().toEqualTypeOf<{ readonly question: string; readonly k: number }>()
    type O = Signature.Outputs<typeof sig>
    expectTypeOf<O["answer"]>().toEqualTypeOf<number>()
    expectTypeOf<O["label"]>().toEqualTypeOf<"yes" | "no">()
    expectTypeOf<O["people"][number]["name"]>().toEqualTypeOf<string>()
    expectTypeOf<O["people"][number]["age"]>().toEqualTypeOf<number | undefined>()
    expectTypeOf<O["confident"]>().toEqualTypeOf<boolean>()
    expectTypeOf<O["note"]>().toEqualTypeOf<string | undefined>()
    expectTypeOf<keyof O>().toEqualTypeOf<"answer" | "label" | "people" | "confident" | "note">()
  })

  it("reads type names, descriptions, prefixes and optional fields from the schemas", () => {
    assert.deepStrictEqual(
      sig.fields.map((f) => f.typeName),
      ["str", "int", "float", "Literal['yes', 'no']", "list[Person]", "bool", "str"]
    )
    assert.strictEqual(sig.inputFields[0]!.description, "The question")
    assert.strictEqual(sig.inputFields[1]!.description, undefined, "Int's built-in description is not a field's")
    assert.strictEqual(sig.outputFields[3]!.description, "Sure?")
    assert.strictEqual(sig.outputFields[3]!.prefix, "Sure:")
    assert.isTrue(sig.outputFields[4]!.optional)
    assert.isFalse(sig.outputFields[0]!.optional)
    assert.strictEqual(sig.outputFields[0]!.description, undefined, "Number's built-in description is not a field's")
    const people = sig.outputFields[2]!.type
    assert.deepStrictEqual(
      people,
      FieldType.list(
        FieldType.struct(
          [
            { name: "name", type: FieldType.str, optional: false },
            { name: "age", type: FieldType.int, optional: true }
          ],
          "Person"
        )
      )
    )
  })

  it("validates inputs and outputs with typed issues", () => {
    assert.deepStrictEqual(
      Signature.validateInputs(sig, { question: "q", k: 3, extra: 1 }),
      Either.right({ question: "q", k: 3 })
    )
    const bad = Signature.validateInputs(sig, { k: 2.5 })
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) {
      assert.deepStrictEqual(
        bad.left.issues.map((i) => i.field),
        ["question", "k"]
      )
      assert.include(bad.left.issues[0]!.problem, "missing")
      assert.include(bad.left.message, "`k`")
    }
    const out = Signature.validateOutputs(sig, {
      answer: 1.5,
      label: "maybe",
      people: [{ name: "A" }],
      confident: true
    })
    assert.isTrue(Either.isLeft(out))
    if (Either.isLeft(out))
      assert.deepStrictEqual(
        out.left.issues.map((i) => i.field),
        ["label"]
      )
    assert.isTrue(Either.isLeft(Signature.validateInputs(sig, null)))
  })
})

describe("Signature edits", () => {
  const base = Signature.make("question -> answer")

  it("prepends, appends and inserts without touching the original", () => {
    const cot = Signature.prepend(base, "reasoning", Signature.output(Schema.String, { description: "Think" }))
    assert.deepStrictEqual(
      cot.outputFields.map((f) => f.name),
      ["reasoning", "answer"]
    )
    assert.deepStrictEqual(
      base.outputFields.map((f) => f.name),
      ["answer"]
    )
    // DSPy keeps the instruction text through edits.
    assert.strictEqual(cot.instructions, base.instructions)
    const more = pipe(
      cot,
      Signature.append("context", Signature.input(Schema.Array(Schema.String))),
      Signature.insert(1, "score", Signature.output(Schema.Int))
    )
    assert.deepStrictEqual(
      more.fields.map((f) => `${f.kind}:${f.name}`),
      ["input:question", "input:context", "output:reasoning", "output:score", "output:answer"]
    )
    expectTypeOf<Signature.Outputs<typeof more>>().toEqualTypeOf<{
      readonly answer: string
      readonly reasoning: string
      readonly score: number
    }>()
    assert.throws(() => Signature.insert(base, 5, "x", Signature.output(Schema.String)), /index 5/)
  })

  it("rejects a duplicate name with a conflict naming it", () => {
    try {
      Signature.append(base, "answer", Signature.input(Schema.String))
      assert.fail("expected a conflict")
    } catch (e) {
      assert.instanceOf(e, SignatureConflictError)
      assert.strictEqual((e as SignatureConflictError).field, "answer")
    }
  })

  it("deletes, renames instructions and updates fields", () => {
    const sig = Signature.make("question, context -> answer")
    const deleted = Signature.delete(sig, "context")
    assert.deepStrictEqual(
      deleted.inputFields.map((f) => f.name),
      ["question"]
    )
    assert.throws(() => Signature.remove(sig, "nope"), SignatureEditError)
    const updated = pipe(
      sig,
      Signature.withInstructions("Be precise."),
      Signature.withUpdatedField("answer", { description: "The answer", schema: Schema.Int }),
      Signature.withUpdatedFields({ question: { prefix: "Q:" } })
    )
    assert.strictEqual(updated.instructions, "Be precise.")
    assert.strictEqual(updated.outputFields[0]!.typeName, "int")
    assert.strictEqual(updated.outputFields[0]!.description, "The answer")
    assert.strictEqual(updated.inputFields[0]!.prefix, "Q:")
    assert.strictEqual(sig.outputFields[0]!.typeName, "str")
    assert.throws(() => Signature.withUpdatedField(sig, "zzz", { description: "x" }), /no field `zzz`/)
  })

  it("merges and reports conflicts", () => {
    const a = Signature.make("question -> answer")
    const b = Signature.make("context: list[str] -> citations: list[int]")
    const merged = Signature.merge(a, b)
    assert.isTrue(Either.isRight(merged))
    if (Either.isRight(merged)) {
      assert.deepStrictEqual(
        merged.right.fields.map((f) => f.name),
        ["question", "context", "answer", "citations"]
      )
      assert.strictEqual(
        merged.right.instructions,
        "Given the fields `question`, `context`, produce the fields `answer`, `citations`."
      )
    }
    const clash = Signature.merge(a, Signature.make("answer -> other"))
    assert.isTrue(Either.isLeft(clash))
    if (Either.isLeft(clash)) {
      assert.strictEqual(clash.left.field, "answer")
      assert.include(clash.left.message, "`answer`")
    }
    const custom = Signature.merge(Signature.withInstructions(a, "One."), Signature.withInstructions(b, "Two."))
    if (Either.isRight(custom)) assert.strictEqual(custom.right.instructions, "One.\n\nTwo.")
    else assert.fail("merge failed")
  })

  it("infers DSPy prefixes", () => {
    assert.strictEqual(Signature.inferPrefix("final_answer"), "Final Answer:")
    assert.strictEqual(Signature.inferPrefix("finalAnswer"), "Final Answer:")
    assert.strictEqual(Signature.inferPrefix("question"), "Question:")
  })
})

describe("Signature JSON form", () => {
  it("round-trips through JSON text", () => {
    const sig = Signature.make({
      inputs: { question: Signature.field(Schema.String, { description: "Q" }) },
      outputs: {
        tags: Schema.Array(Schema.Literal("a", "b")),
        meta: Schema.Struct({ score: Schema.Number, note: Schema.optional(Schema.String) }),
        maybe: Schema.NullOr(Schema.Int)
      },
      name: "Tagger",
      instructions: "Tag it."
    })
    const text = JSON.stringify(Signature.toJSON(sig))
    const back = Signature.fromJSON(JSON.parse(text))
    assert.isTrue(Either.isRight(back))
    if (Either.isRight(back)) {
      assert.deepStrictEqual(Signature.toJSON(back.right), Signature.toJSON(sig))
      assert.strictEqual(back.right.name, "Tagger")
      assert.isTrue(
        Either.isRight(Signature.validateOutputs(back.right, { tags: ["a"], meta: { score: 1 }, maybe: null }))
      )
      assert.isTrue(Either.isLeft(Signature.validateOutputs(back.right, { tags: ["c"], meta: { score: 1 }, maybe: 1 })))
    }
    const bad = Signature.fromJSON({ instructions: 3, fields: [] })
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) assert.include(bad.left.message, "instructions")
  })

  it("prints the string form", () => {
    assert.strictEqual(
      Signature.toSignatureString(Signature.make("q, k: int -> a: list[str]")),
      "q: str, k: int -> a: list[str]"
    )
  })
})
