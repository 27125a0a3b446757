/**
 * The type of a signature field, in the vocabulary DSPy prompts use (`str`, `int`, `float`, `bool`,
 * `list[T]`, `dict[K, V]`, `Literal['a', 'b']`, `Optional[T]`, structs). A `FieldType` is plain JSON data:
 * it is what the string form parses to, what a Schema is read into, what the saved JSON form stores, and
 * what the adapters use to write type names, type notes and JSON schemas.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as Media from "../media/Media.js"

/**
 * A literal value allowed by a `Literal[...]` type.
 *
 * @since 0.1.0
 * @category models
 */
export type LiteralValue = string | number | boolean

/**
 * One property of a struct type.
 *
 * @since 0.1.0
 * @category models
 */
export interface StructProperty {
  readonly name: string
  readonly type: FieldType
  readonly optional: boolean
  readonly description?: string | undefined
}

/**
 * A field type.
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
  | { readonly _tag: "image" }
  | { readonly _tag: "audio" }
  | { readonly _tag: "list"; readonly item: FieldType }
  | { readonly _tag: "dict"; readonly key: FieldType; readonly value: FieldType }
  | { readonly _tag: "literal"; readonly values: ReadonlyArray<LiteralValue> }
  | { readonly _tag: "optional"; readonly inner: FieldType }
  | { readonly _tag: "struct"; readonly name?: string | undefined; readonly properties: ReadonlyArray<StructProperty> }

/**
 * The deepest nesting of types a signature string or a saved signature may hold (`str` is 1, `list[str]` 2):
 * deeper input is refused with a typed error (`SignatureParseError`, `SignatureDecodeError`).
 *
 * @since 0.1.0
 * @category models
 */
export const maxDepth = 64

/**
 * The `str` type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const str: FieldType = { _tag: "str" }

/**
 * The `int` type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const int: FieldType = { _tag: "int" }

/**
 * The `float` type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const float: FieldType = { _tag: "float" }

/**
 * The `bool` type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bool: FieldType = { _tag: "bool" }

/**
 * Any JSON value (`Any`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const any: FieldType = { _tag: "any" }

/**
 * An image input (`Image`): a {@link Media.Image} value, sent to the LM as an image content part.
 *
 * @since 0.1.0
 * @category constructors
 */
export const image: FieldType = { _tag: "image" }

/**
 * An audio input (`Audio`): a {@link Media.Audio} value, sent to the LM as an audio content part.
 *
 * @since 0.1.0
 * @category constructors
 */
export const audio: FieldType = { _tag: "audio" }

/**
 * True for the media types (`Image`, `Audio`), also under `Optional[...]` or `list[...]`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isMedia = (type: FieldType): boolean =>
  type._tag === "image" ||
  type._tag === "audio" ||
  (type._tag === "optional" && isMedia(type.inner)) ||
  (type._tag === "list" && isMedia(type.item))

/**
 * `list[item]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const list = (item: FieldType): FieldType => ({ _tag: "list", item })

/**
 * `dict[key, value]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dict = (key: FieldType, value: FieldType): FieldType => ({ _tag: "dict", key, value })

/**
 * `Literal[...]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const literal = (values: ReadonlyArray<LiteralValue>): FieldType => ({ _tag: "literal", values })

/**
 * `Optional[inner]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const optional = (inner: FieldType): FieldType => ({ _tag: "optional", inner })

/**
 * A struct (a Pydantic model in DSPy).
 *
 * @since 0.1.0
 * @category constructors
 */
export const struct = (properties: ReadonlyArray<StructProperty>, name?: string): FieldType =>
  name === undefined ? { _tag: "struct", properties } : { _tag: "struct", name, properties }

// ---------------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------------

/**
 * Quotes a string for a `Literal[...]` type name the way Python's `repr` does (single quotes unless the
 * string holds a single quote and no double quote).
 *
 * @since 0.1.0
 * @category formatting
 */
export const quoteLiteral = (s: string): string => {
  const hasSingle = s.includes("'")
  const hasDouble = s.includes('"')
  if (hasSingle && !hasDouble) return `"${s}"`
  if (hasSingle && hasDouble) return `'${s.replaceAll("'", "\\'")}'`
  return `'${s}'`
}

/**
 * Formats a literal value as Python would print it inside `Literal[...]`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const literalName = (value: LiteralValue): string =>
  typeof value === "string" ? quoteLiteral(value) : typeof value === "boolean" ? (value ? "True" : "False") : `${value}`

/**
 * The DSPy (Python) name of a type, as prompts show it: `int`, `list[str]`, `Literal['a', 'b']`.
 * A struct shows its identifier when it has one, else `dict`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const typeName = (type: FieldType): string => {
  switch (type._tag) {
    case "str":
    case "int":
    case "float":
    case "bool":
      return type._tag
    case "any":
      return "Any"
    case "image":
      return "Image"
    case "audio":
      return "Audio"
    case "list":
      return `list[${typeName(type.item)}]`
    case "dict":
      return `dict[${typeName(type.key)}, ${typeName(type.value)}]`
    case "literal":
      return `Literal[${type.values.map(literalName).join(", ")}]`
    case "optional":
      return `Optional[${typeName(type.inner)}]`
    case "struct":
      return type.name ?? "dict"
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON schema
// ---------------------------------------------------------------------------------------------------------------

/**
 * A JSON schema object.
 *
 * @since 0.1.0
 * @category models
 */
export type JsonSchema = { readonly [key: string]: unknown }

const literalSchema = (values: ReadonlyArray<LiteralValue>): JsonSchema => {
  const types = new Set(
    values.map((v) => (typeof v === "string" ? "string" : typeof v === "boolean" ? "boolean" : "number"))
  )
  const enumValues = [...values]
  return types.size === 1 ? { type: [...types][0], enum: enumValues } : { enum: enumValues }
}

/**
 * The JSON schema of a type, with `type` first and the other keys in alphabetical order (the order DSPy
 * shows in its type notes). With `strict`, every object lists all its properties as required and forbids
 * additional ones (OpenAI structured outputs); optional properties then accept `null`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const jsonSchema = (type: FieldType, options?: { readonly strict?: boolean }): JsonSchema => {
  const strict = options?.strict === true
  const go = (t: FieldType): JsonSchema => {
    switch (t._tag) {
      case "str":
        return { type: "string" }
      case "int":
        return { type: "integer" }
      case "float":
        return { type: "number" }
      case "bool":
        return { type: "boolean" }
      case "any":
        return {}
      case "image":
      case "audio":
        return { type: "string", contentMediaType: t._tag === "image" ? "image/*" : "audio/*" }
      case "list":
        return { type: "array", items: go(t.item) }
      case "dict":
        return { type: "object", additionalProperties: go(t.value) }
      case "literal":
        return literalSchema(t.values)
      case "optional":
        return { anyOf: [go(t.inner), { type: "null" }] }
      case "struct": {
        const properties: Record<string, unknown> = {}
        for (const p of t.properties) {
          const base = go(strict && p.optional && p.type._tag !== "optional" ? optional(p.type) : p.type)
          properties[p.name] = p.description === undefined ? base : { ...base, description: p.description }
        }
        const required = strict
          ? t.properties.map((p) => p.name)
          : t.properties.filter((p) => !p.optional).map((p) => p.name)
        const out: Record<string, unknown> = { type: "object" }
        if (strict) out.additionalProperties = false
        out.properties = properties
        out.required = required
        if (t.name !== undefined && !strict) out.title = t.name
        return out
      }
    }
  }
  return go(type)
}

/**
 * True when the type (or a part of it) is an open-ended mapping or `Any`, which OpenAI structured outputs
 * cannot express; the JSONAdapter then asks for `json_object` instead of `json_schema`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isOpenEnded = (type: FieldType): boolean => {
  switch (type._tag) {
    case "dict":
    case "any":
      return true
    case "list":
      return isOpenEnded(type.item)
    case "optional":
      return isOpenEnded(type.inner)
    case "struct":
      return type.properties.some((p) => isOpenEnded(p.type))
    default:
      return false
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Schema <-> FieldType
// ---------------------------------------------------------------------------------------------------------------

/** Values per `Schema.Literal(...)` call: spreading more arguments than the stack holds (about 100,000) throws. */
const literalChunk = 8_192

/** `Schema.Literal` of any number of values: a union of chunks when there are many (no spread of them all). */
const literalsSchema = (values: ReadonlyArray<LiteralValue>): Schema.Schema.AnyNoContext => {
  if (values.length === 0) return Schema.Never as unknown as Schema.Schema.AnyNoContext
  if (values.length <= literalChunk) return Schema.Literal(...values)
  let members: Array<Schema.Schema.AnyNoContext> = []
  for (let i = 0; i < values.length; i += literalChunk)
    members.push(Schema.Literal(...values.slice(i, i + literalChunk)))
  // Unions of at most `literalChunk` members, nested as deep as needed.
  while (members.length > literalChunk) {
    const grouped: Array<Schema.Schema.AnyNoContext> = []
    for (let i = 0; i < members.length; i += literalChunk)
      grouped.push(Schema.Union(...members.slice(i, i + literalChunk)))
    members = grouped
  }
  return Schema.Union(...members)
}

/**
 * The effect Schema of a type: `int` is `Schema.Int`, `Optional[T]` is `T | null`, a struct is a
 * `Schema.Struct` whose optional properties are `Schema.optional`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toSchema = (type: FieldType): Schema.Schema<unknown> => {
  const go = (t: FieldType): Schema.Schema.AnyNoContext => {
    switch (t._tag) {
      case "str":
        return Schema.String
      case "int":
        return Schema.Int
      case "float":
        return Schema.Number
      case "bool":
        return Schema.Boolean
      case "any":
        return Schema.Unknown
      case "image":
        return Media.ImageSchema
      case "audio":
        return Media.AudioSchema
      case "list":
        return Schema.Array(go(t.item))
      case "dict":
        return Schema.Record({ key: Schema.String, value: go(t.value) })
      case "literal":
        return literalsSchema(t.values)
      case "optional":
        return Schema.NullOr(go(t.inner))
      case "struct": {
        const fields: Record<string, Schema.Schema.AnyNoContext | Schema.optional<Schema.Schema.AnyNoContext>> = {}
        for (const p of t.properties) {
          const s = go(p.type)
          const annotated = p.description === undefined ? s : s.annotations({ description: p.description })
          fields[p.name] = p.optional ? Schema.optional(annotated) : annotated
        }
        const s = Schema.Struct(fields)
        return t.name === undefined ? s : s.annotations({ identifier: t.name })
      }
    }
  }
  return go(type) as Schema.Schema<unknown>
}

const isNullish = (ast: AST.AST): boolean =>
  ast._tag === "UndefinedKeyword" || ast._tag === "VoidKeyword" || (ast._tag === "Literal" && ast.literal === null)

const isIntRefinement = (ast: AST.Refinement): boolean => {
  const json = AST.getJSONSchemaAnnotation(ast)
  if (Option.isSome(json) && (json.value as { readonly type?: unknown }).type === "integer") return true
  return Option.getOrUndefined(AST.getIdentifierAnnotation(ast)) === "Int"
}

const toLiteralValue = (u: unknown): LiteralValue | undefined =>
  typeof u === "string" || typeof u === "number" || typeof u === "boolean" ? u : undefined

/**
 * Reads a Schema's AST into a field type. Refinements read as their base type (except integer checks,
 * which read as `int`), transformations as their encoded side (what the LM writes), unions of literals as
 * `Literal[...]`, a union with `null`/`undefined` as `Optional[...]`, arrays as `list`, records as `dict`,
 * structs as structs; anything else is `Any`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromAST = (ast: AST.AST): FieldType => {
  const media = ast.annotations[Media.MediaKindAnnotationId]
  if (media === "image") return image
  if (media === "audio") return audio
  switch (ast._tag) {
    case "StringKeyword":
    case "TemplateLiteral":
      return str
    case "NumberKeyword":
      return float
    case "BooleanKeyword":
      return bool
    case "Literal": {
      const v = toLiteralValue(ast.literal)
      return v === undefined ? any : literal([v])
    }
    case "Enums": {
      const values = ast.enums.map(([, v]) => v)
      return literal(values)
    }
    case "Refinement":
      return isIntRefinement(ast) ? int : fromAST(ast.from)
    case "Transformation":
      return fromAST(ast.from)
    case "Union": {
      const present = ast.types.filter((t) => !isNullish(t))
      const nullable = present.length < ast.types.length
      let inner: FieldType
      if (present.length === 1) inner = fromAST(present[0]!)
      else {
        const values = present.map((t) => (t._tag === "Literal" ? toLiteralValue(t.literal) : undefined))
        inner = values.every((v) => v !== undefined) ? literal(values as Array<LiteralValue>) : any
      }
      return nullable ? optional(inner) : inner
    }
    case "TupleType":
      if (ast.elements.length === 0 && ast.rest.length === 1) return list(fromAST(ast.rest[0]!.type))
      return list(any)
    case "TypeLiteral": {
      if (ast.propertySignatures.length === 0 && ast.indexSignatures.length === 1) {
        const index = ast.indexSignatures[0]!
        return dict(fromAST(index.parameter), fromAST(index.type))
      }
      const properties = ast.propertySignatures.map((p): StructProperty => {
        const description = propertyDescription(p.annotations, p.type)
        const type = p.isOptional ? stripUndefined(p.type) : fromAST(p.type)
        const base = { name: String(p.name), type, optional: p.isOptional }
        return description === undefined ? base : { ...base, description }
      })
      return struct(properties, Option.getOrUndefined(AST.getIdentifierAnnotation(ast)))
    }
    case "Suspend":
      return any
    default:
      return any
  }
}

const stripUndefined = (ast: AST.AST): FieldType => {
  if (ast._tag === "Union") {
    const rest = ast.types.filter((t) => t._tag !== "UndefinedKeyword")
    if (rest.length === 1) return fromAST(rest[0]!)
    if (rest.length !== ast.types.length) return fromAST(AST.Union.make(rest))
  }
  return fromAST(ast)
}

// Effect's keywords and built-in filters carry default descriptions ("a string", "an integer", "a positive
// number") that are not the user's words; those are not field descriptions.
const keywordDescriptions = new Set(
  [
    AST.stringKeyword,
    AST.numberKeyword,
    AST.booleanKeyword,
    AST.unknownKeyword,
    AST.anyKeyword,
    AST.undefinedKeyword,
    AST.voidKeyword,
    AST.neverKeyword,
    AST.objectKeyword,
    AST.bigIntKeyword,
    AST.symbolKeyword
  ].flatMap((a) => Option.toArray(AST.getDescriptionAnnotation(a)))
)
const builtinFilterDescription =
  /^(an integer$|a (positive|negative|non-negative|non-positive|finite|valid|non empty|string|number|bigint|array) )/

/**
 * The user-written description of a schema: its `description` annotation, unless it is the default text of
 * an Effect keyword (`"a string"`) or built-in filter (`"an integer"`).
 *
 * @since 0.1.0
 * @category conversions
 */
export const descriptionOf = (ast: AST.AST): string | undefined => {
  const d = Option.getOrUndefined(AST.getDescriptionAnnotation(ast))
  if (d === undefined || keywordDescriptions.has(d)) return undefined
  if (ast._tag === "Refinement" && Option.isSome(AST.getSchemaIdAnnotation(ast)) && builtinFilterDescription.test(d))
    return undefined
  return d
}

const propertyDescription = (annotations: AST.Annotations, type: AST.AST): string | undefined => {
  const own = annotations[AST.DescriptionAnnotationId]
  if (typeof own === "string") return own
  if (type._tag === "Union") {
    const rest = type.types.filter((t) => t._tag !== "UndefinedKeyword")
    if (rest.length === 1) return descriptionOf(rest[0]!)
  }
  return descriptionOf(type)
}
