import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as FieldType from "../../src/signature/FieldType.js"
import * as Signature from "../../src/signature/Signature.js"

const nested = (depth: number, open: string, close: string, inner = "str") =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`

describe("deeply nested types", () => {
  it("Signature.parse of a type nested 20,000 deep fails with a SignatureParseError, not a RangeError", () => {
    const r = Signature.parse(`q -> a: ${nested(20_000, "list[", "]")}`)
    assert.isTrue(Either.isLeft(r))
    const e = Either.getLeft(r).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
    assert.strictEqual(e._tag, "SignatureParseError")
    assert.include(e.message, `nested at most ${FieldType.maxDepth} deep`)
    // The message quotes a bounded excerpt of the source, not 120 KB of it.
    assert.isBelow(e.message.length, 1_000)
  })

  it("every nesting form is bounded: Optional, dict values, dict keys", () => {
    for (const source of [
      `q -> a: ${nested(5_000, "Optional[", "]")}`,
      `q -> a: ${nested(5_000, "dict[str, ", "]")}`,
      `q -> a: ${nested(5_000, "dict[", ", int]")}`
    ]) {
      const r = Signature.parse(source)
      assert.isTrue(Either.isLeft(r) && r.left._tag === "SignatureParseError", source.slice(0, 40))
    }
  })

  it("a type exactly at the bound parses", () => {
    const r = Signature.parse(`q -> a: ${nested(FieldType.maxDepth - 1, "list[", "]")}`)
    assert.isTrue(Either.isRight(r))
  })

  it("Signature.fromJSON of a type nested 20,000 deep fails with a SignatureDecodeError", () => {
    let type: unknown = { _tag: "str" }
    for (let i = 0; i < 20_000; i++) type = { _tag: "list", item: type }
    const json = {
      instructions: "x",
      fields: [{ name: "a", kind: "output", type, typeName: "list", optional: false, prefix: "A:" }]
    }
    const r = Signature.fromJSON(json)
    assert.isTrue(Either.isLeft(r))
    assert.strictEqual(Either.isLeft(r) ? r.left._tag : "", "SignatureDecodeError")
  })
})

describe("wide types", () => {
  it("a Literal with 300,000 values parses to a schema that accepts its values (no stack overflow from spreading them)", () => {
    const values = Array.from({ length: 300_000 }, (_, i) => `'v${i}'`).join(", ")
    const r = Signature.parse(`q -> a: Literal[${values}]`)
    assert.isTrue(Either.isRight(r))
    const schema = FieldType.toSchema(FieldType.literal(Array.from({ length: 300_000 }, (_, i) => `v${i}`)))
    assert.isTrue(Schema.is(schema)("v299999"))
    assert.isFalse(Schema.is(schema)("v300000"))
  })
})
