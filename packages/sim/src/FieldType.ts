/**
 * Field types as prompts spell them (DSPy's Python names: `str`, `int`, `float`, `bool`, `list[str]`,
 * `dict[str, int]`, `Literal['a', 'b']`, `Optional[int]`, and `dict` with a JSON schema for structs), with
 * what the simulated LM needs: parsing a type name, a deterministic default value of a type, coercing a
 * value to a type, and rendering a value as prompt text.
 *
 * @since 0.1.0
 */
import type { Random } from "@effect-dspy/foundation"

/**
 * A parsed field type.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldType =
  | { readonly _tag: "str" }
  | { readonly _tag: "int" }
  | { readonly _tag: "float" }
  | { readonly _tag: "bool" }
  | { readonly _tag: "any" }
  | { readonly _tag: "literal"; readonly values: ReadonlyArray<string | number | boolean> }
  | { readonly _tag: "list"; readonly item: FieldType }
  | { readonly _tag: "dict"; readonly key: FieldType; readonly value: FieldType }
  | { readonly _tag: "object"; readonly schema: JsonSchema | undefined }
  | { readonly _tag: "optional"; readonly inner: FieldType }

/**
 * A JSON schema (the subset SimLM reads: type, properties, items, enum, required).
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonSchema {
  readonly type?: string | ReadonlyArray<string>
  readonly properties?: { readonly [key: string]: JsonSchema }
  readonly items?: JsonSchema
  readonly enum?: ReadonlyArray<unknown>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: boolean | JsonSchema
  readonly [key: string]: unknown
}

/**
 * The `str` type.
 *
 * @since 0.1.0
 * @category constants
 */
export const str: FieldType = { _tag: "str" }

/**
 * Parses a type name such as `list[dict[str, int]]` or `Literal['a', 'b']`. Unknown names become `any`
 * (rendered as a string), so a prompt with an unfamiliar type still gets an answer.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string, schema?: JsonSchema): FieldType => {
  const parser = new TypeParser(text.trim())
  try {
    const t = parser.type()
    if (t._tag === "object" && schema !== undefined) return { _tag: "object", schema }
    return t
  } catch {
    return schema !== undefined ? fromSchema(schema) : { _tag: "any" }
  }
}

/**
 * The field type a JSON schema describes.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromSchema = (schema: JsonSchema): FieldType => {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    return {
      _tag: "literal",
      values: schema.enum.filter(
        (v): v is string | number | boolean => typeof v === "string" || typeof v === "number" || typeof v === "boolean"
      )
    }
  }
  const anyOf = schema["anyOf"]
  if (Array.isArray(anyOf)) {
    const nonNull = (anyOf as Array<JsonSchema>).filter((s) => s.type !== "null")
    if (nonNull.length === 1) return { _tag: "optional", inner: fromSchema(nonNull[0]!) }
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type
  switch (type) {
    case "string":
      return str
    case "integer":
      return { _tag: "int" }
    case "number":
      return { _tag: "float" }
    case "boolean":
      return { _tag: "bool" }
    case "array":
      return { _tag: "list", item: schema.items !== undefined ? fromSchema(schema.items) : str }
    case "object":
      if (schema.properties !== undefined) return { _tag: "object", schema }
      if (typeof schema.additionalProperties === "object") {
        return { _tag: "dict", key: str, value: fromSchema(schema.additionalProperties) }
      }
      return { _tag: "object", schema: undefined }
    default:
      return { _tag: "any" }
  }
}

class TypeParser {
  private i = 0
  constructor(private readonly s: string) {}
  private ws(): void {
    while (this.i < this.s.length && this.s[this.i] === " ") this.i++
  }
  private ident(): string {
    this.ws()
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(this.s.slice(this.i))
    if (m === null) throw new Error(`type expected at ${this.i} in ${this.s}`)
    this.i += m[0].length
    return m[0]
  }
  private eat(c: string): boolean {
    this.ws()
    if (this.s[this.i] === c) {
      this.i++
      return true
    }
    return false
  }
  private args(): Array<FieldType> {
    const out: Array<FieldType> = []
    if (!this.eat("[")) return out
    do {
      out.push(this.type())
    } while (this.eat(","))
    if (!this.eat("]")) throw new Error("] expected")
    return out
  }
  private literal(): string | number | boolean {
    this.ws()
    const c = this.s[this.i]
    if (c === "'" || c === '"') {
      let j = this.i + 1
      let out = ""
      while (j < this.s.length && this.s[j] !== c) {
        if (this.s[j] === "\\" && j + 1 < this.s.length) j++
        out += this.s[j]
        j++
      }
      this.i = j + 1
      return out
    }
    const m = /^[^,\]]+/.exec(this.s.slice(this.i))
    if (m === null) throw new Error("literal expected")
    this.i += m[0].length
    const raw = m[0].trim()
    if (raw === "True") return true
    if (raw === "False") return false
    const n = Number(raw)
    return Number.isNaN(n) ? raw : n
  }
  type(): FieldType {
    const name = this.ident()
    switch (name) {
      case "str":
        return str
      case "int":
        return { _tag: "int" }
      case "float":
        return { _tag: "float" }
      case "bool":
        return { _tag: "bool" }
      case "Any":
      case "typing.Any":
        return { _tag: "any" }
      case "Literal": {
        const values: Array<string | number | boolean> = []
        if (!this.eat("[")) throw new Error("[ expected")
        do {
          values.push(this.literal())
        } while (this.eat(","))
        if (!this.eat("]")) throw new Error("] expected")
        return { _tag: "literal", values }
      }
      case "list":
      case "List":
      case "tuple":
      case "set": {
        const a = this.args()
        return { _tag: "list", item: a[0] ?? str }
      }
      case "dict":
      case "Dict": {
        const a = this.args()
        if (a.length === 0) return { _tag: "object", schema: undefined }
        return { _tag: "dict", key: a[0] ?? str, value: a[1] ?? { _tag: "any" } }
      }
      case "Optional": {
        const a = this.args()
        return { _tag: "optional", inner: a[0] ?? { _tag: "any" } }
      }
      case "Union": {
        const a = this.args().filter((t) => !(t._tag === "any"))
        return a[0] ?? { _tag: "any" }
      }
      case "None":
      case "NoneType":
        return { _tag: "any" }
      default: {
        // A user-defined struct name (e.g. `Order`): described by its JSON schema note.
        this.args()
        return { _tag: "object", schema: undefined }
      }
    }
  }
}

const WORDS = ["alpha", "amber", "beacon", "cedar", "delta", "ember", "harbor", "meadow", "orbit", "quartz"]

/**
 * A deterministic value of a type, for output fields SimLM has no task knowledge of. `hint` (the field
 * name) makes strings readable.
 *
 * @since 0.1.0
 * @category values
 */
export const defaultValue = (type: FieldType, rng: Random.Random, hint: string, depth = 0): unknown => {
  switch (type._tag) {
    case "str":
    case "any":
      return `${hint.replace(/_/g, " ")}: ${rng.pick(WORDS)!} ${rng.pick(WORDS)!}`
    case "int":
      return rng.between(0, 100)
    case "float":
      return Math.round(rng.next() * 1000) / 1000
    case "bool":
      return rng.chance(0.5)
    case "literal":
      return type.values.length === 0 ? "" : rng.pick(type.values)!
    case "optional":
      return defaultValue(type.inner, rng, hint, depth)
    case "list": {
      const n = depth > 2 ? 0 : rng.between(1, 3)
      return Array.from({ length: n }, (_, i) => defaultValue(type.item, rng, `${hint} ${i + 1}`, depth + 1))
    }
    case "dict": {
      const n = depth > 2 ? 0 : rng.between(1, 2)
      const out: Record<string, unknown> = {}
      for (let i = 0; i < n; i++) {
        const key =
          type.key._tag === "literal" && type.key.values.length > 0
            ? String(rng.pick(type.key.values)!)
            : `${rng.pick(WORDS)!}_${i + 1}`
        out[key] = defaultValue(type.value, rng, key, depth + 1)
      }
      return out
    }
    case "object": {
      const out: Record<string, unknown> = {}
      const props = type.schema?.properties
      if (props === undefined) {
        out["value"] = defaultValue(str, rng, hint, depth + 1)
        return out
      }
      for (const [key, schema] of Object.entries(props)) {
        out[key] = depth > 3 ? null : defaultValue(fromSchema(schema), rng, key, depth + 1)
      }
      return out
    }
  }
}

/**
 * Coerces a value to a type where that is meaningful (a numeric string to a number, a number to text), so
 * the rendered answer always decodes to the declared type.
 *
 * @since 0.1.0
 * @category values
 */
export const coerce = (type: FieldType, value: unknown, rng: Random.Random, hint: string): unknown => {
  switch (type._tag) {
    case "str":
    case "any":
      return typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value)
    case "int": {
      const n = typeof value === "number" ? value : Number(String(value).replace(/[^0-9.eE+-]/g, ""))
      return Number.isFinite(n) ? Math.round(n) : (defaultValue(type, rng, hint) as number)
    }
    case "float": {
      const n = typeof value === "number" ? value : Number(String(value).replace(/[^0-9.eE+-]/g, ""))
      return Number.isFinite(n) ? n : (defaultValue(type, rng, hint) as number)
    }
    case "bool":
      if (typeof value === "boolean") return value
      return /^(true|yes|1)$/i.test(String(value).trim())
    case "literal": {
      const hit = type.values.find((v) => String(v).toLowerCase() === String(value).toLowerCase())
      return hit ?? defaultValue(type, rng, hint)
    }
    case "optional":
      return value === null ? null : coerce(type.inner, value, rng, hint)
    case "list":
      return Array.isArray(value)
        ? value.map((v, i) => coerce(type.item, v, rng, `${hint} ${i + 1}`))
        : [coerce(type.item, value, rng, hint)]
    case "dict":
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value)
        ? value
        : defaultValue(type, rng, hint)
  }
}

/**
 * Renders a value the way prompts write it: strings as they are, numbers as text, booleans as `True` /
 * `False`, anything else as JSON.
 *
 * @since 0.1.0
 * @category values
 */
export const render = (value: unknown): string => {
  if (typeof value === "string") return value
  if (typeof value === "number") return String(value)
  if (typeof value === "boolean") return value ? "True" : "False"
  if (value === null || value === undefined) return "None"
  return JSON.stringify(value)
}

/**
 * Reads a value written in a prompt (a demo's output) as its type: numbers, booleans and JSON decoded, text
 * left as it is.
 *
 * @since 0.1.0
 * @category values
 */
export const read = (type: FieldType, text: unknown): unknown => {
  if (typeof text !== "string") return text
  const t = text.trim()
  switch (type._tag) {
    case "int":
    case "float": {
      const n = Number(t.replace(/,/g, ""))
      return Number.isFinite(n) ? n : t
    }
    case "bool":
      return /^true$/i.test(t) ? true : /^false$/i.test(t) ? false : t
    case "list":
    case "dict":
    case "object":
      try {
        return JSON.parse(t)
      } catch {
        return t
      }
    default:
      return t
  }
}

/**
 * True for the numeric types.
 *
 * @since 0.1.0
 * @category guards
 */
export const isNumeric = (type: FieldType): boolean =>
  type._tag === "int" || type._tag === "float" || (type._tag === "optional" && isNumeric(type.inner))
