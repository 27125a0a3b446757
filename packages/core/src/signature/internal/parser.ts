/**
 * A small hand-written recursive-descent parser for DSPy's string signatures:
 * `"question, context: list[str] -> answer: int"`.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as FieldType from "../FieldType.js"
import { SignatureParseError } from "../SignatureError.js"

/** @internal */
export interface ParsedField {
  readonly name: string
  readonly type: FieldType.FieldType
}

/** @internal */
export interface ParsedSignature {
  readonly inputs: ReadonlyArray<ParsedField>
  readonly outputs: ReadonlyArray<ParsedField>
}

class Fail {
  constructor(
    readonly pos: number,
    readonly expected: string
  ) {}
}

const identStart = /[A-Za-z_]/
const identPart = /[A-Za-z0-9_]/
const NUMBER = /-?\d+(\.\d+)?/y

class Parser {
  pos = 0
  depth = 0
  constructor(readonly src: string) {}

  fail(expected: string, pos = this.pos): never {
    throw new Fail(pos, expected)
  }

  skipWs(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++
  }

  peek(): string | undefined {
    return this.src[this.pos]
  }

  eat(s: string): boolean {
    this.skipWs()
    if (this.src.startsWith(s, this.pos)) {
      this.pos += s.length
      return true
    }
    return false
  }

  expect(s: string, what = `\`${s}\``): void {
    if (!this.eat(s)) this.fail(what)
  }

  ident(what: string): string {
    this.skipWs()
    const start = this.pos
    if (!identStart.test(this.peek() ?? "")) this.fail(what)
    while (this.pos < this.src.length && identPart.test(this.src[this.pos]!)) this.pos++
    return this.src.slice(start, this.pos)
  }

  signature(): ParsedSignature {
    const seen = new Set<string>()
    this.skipWs()
    const inputs = this.src.startsWith("->", this.pos) ? [] : this.fieldList(seen, "an input field name")
    this.expect("->", inputs.length === 0 ? "an input field name or `->`" : "`,` or `->`")
    const outputs = this.fieldList(seen, "an output field name")
    this.skipWs()
    if (this.pos < this.src.length) this.fail(this.peek() === "-" ? "only one `->`" : "`,` or the end of the signature")
    return { inputs, outputs }
  }

  fieldList(seen: Set<string>, what: string): Array<ParsedField> {
    const out: Array<ParsedField> = []
    do {
      this.skipWs()
      const start = this.pos
      const name = this.ident(what)
      if (seen.has(name)) this.fail(`a field name not used before (\`${name}\` is repeated)`, start)
      seen.add(name)
      const type = this.eat(":") ? this.type() : FieldType.str
      out.push({ name, type })
    } while (this.eat(","))
    return out
  }

  type(): FieldType.FieldType {
    this.skipWs()
    const start = this.pos
    if (this.depth >= FieldType.maxDepth) this.fail(`a type nested at most ${FieldType.maxDepth} deep`)
    this.depth++
    const type = this.typeAt(start)
    this.depth--
    return type
  }

  typeAt(start: number): FieldType.FieldType {
    const name = this.ident(
      "a type (str, int, float, bool, list[...], dict[...], Literal[...], Optional[...], Image, Audio)"
    )
    switch (name) {
      case "str":
      case "string":
        return FieldType.str
      case "int":
        return FieldType.int
      case "float":
        return FieldType.float
      case "bool":
        return FieldType.bool
      case "Image":
        return FieldType.image
      case "Audio":
        return FieldType.audio
      case "Any":
      case "any":
        return FieldType.any
      case "list":
      case "List": {
        if (!this.eat("[")) return FieldType.list(FieldType.any)
        const item = this.type()
        this.expect("]", "`]` closing list[...]")
        return FieldType.list(item)
      }
      case "dict":
      case "Dict": {
        if (!this.eat("[")) return FieldType.dict(FieldType.str, FieldType.any)
        const key = this.type()
        this.expect(",", "`,` between the key and value types of dict[K, V]")
        const value = this.type()
        this.expect("]", "`]` closing dict[K, V]")
        return FieldType.dict(key, value)
      }
      case "Optional": {
        this.expect("[", "`[` after Optional")
        const inner = this.type()
        this.expect("]", "`]` closing Optional[...]")
        return FieldType.optional(inner)
      }
      case "Literal": {
        this.expect("[", "`[` after Literal")
        const values: Array<FieldType.LiteralValue> = [this.literalValue()]
        while (this.eat(",")) values.push(this.literalValue())
        this.expect("]", "`,` or `]` closing Literal[...]")
        return FieldType.literal(values)
      }
      default:
        return this.fail(
          `a known type (str, int, float, bool, list, dict, Literal, Optional, Any, Image, Audio), not \`${name}\``,
          start
        )
    }
  }

  literalValue(): FieldType.LiteralValue {
    this.skipWs()
    const c = this.peek()
    if (c === "'" || c === '"') {
      const start = this.pos
      this.pos++
      let out = ""
      while (this.pos < this.src.length && this.src[this.pos] !== c) {
        if (this.src[this.pos] === "\\" && this.pos + 1 < this.src.length) this.pos++
        out += this.src[this.pos]
        this.pos++
      }
      if (this.pos >= this.src.length) this.fail(`a closing ${c} for the string started at column ${start + 1}`)
      this.pos++
      return out
    }
    NUMBER.lastIndex = this.pos
    const m = NUMBER.exec(this.src)
    if (m !== null) {
      this.pos += m[0].length
      return Number(m[0])
    }
    if (this.src.startsWith("True", this.pos)) {
      this.pos += 4
      return true
    }
    if (this.src.startsWith("False", this.pos)) {
      this.pos += 5
      return false
    }
    return this.fail("a literal value (a quoted string, a number, True or False)")
  }
}

/**
 * Parses a signature string; the error names the 1-based column and what was expected there.
 *
 * @internal
 */
export const parse = (source: string): Either.Either<ParsedSignature, SignatureParseError> => {
  const p = new Parser(source)
  try {
    return Either.right(p.signature())
  } catch (e) {
    if (e instanceof Fail) {
      const column = e.pos + 1
      const found = e.pos < source.length ? `\`${source[e.pos]}\`` : "the end of the signature"
      const shown = source.length > 200 ? `${source.slice(0, 200)}... (${source.length} characters)` : source
      return Either.left(
        new SignatureParseError({
          message: `Invalid signature "${shown}": at column ${column} expected ${e.expected}, found ${found}.`,
          source,
          column,
          expected: e.expected
        })
      )
    }
    throw e
  }
}
