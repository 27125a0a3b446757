/**
 * A signature declares what a module takes and gives: named input and output fields with types and
 * descriptions, plus instructions. Two forms build one:
 *
 * - the DSPy string form, `Signature.make("question, context: list[str] -> answer: int")`, whose field
 *   types are inferred from the string at the type level;
 * - the typed form on effect `Schema`:
 *   `Signature.make({ inputs: { question: Schema.String }, outputs: { answer: Schema.Int }, instructions })`
 *   gives a `Signature<{ readonly question: string }, { readonly answer: number }>`.
 *
 * Signatures are immutable values: every edit returns a new one.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { decodeUnknownEither } from "../internal/decode.js"
import { exceedsDepth } from "../internal/depth.js"
import * as FieldType from "./FieldType.js"
import * as Parser from "./internal/parser.js"
import type { ParseInputs, ParseOutputs } from "./internal/typeParser.js"
import {
  type FieldIssue,
  SignatureConflictError,
  SignatureDecodeError,
  SignatureEditError,
  type SignatureParseError,
  SignatureValidationError
} from "./SignatureError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-dspy/core/Signature")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The annotation that carries a field's prompt prefix (DSPy's `prefix`, e.g. `"Answer:"`).
 *
 * @since 0.1.0
 * @category annotations
 */
export const PrefixAnnotationId: unique symbol = Symbol.for("@effect-dspy/core/Signature/prefix")

/**
 * Whether a field is an input or an output.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldKind = "input" | "output"

/**
 * One field of a signature.
 *
 * `schema` validates a present value (for `Schema.optional` fields, the value without `undefined`);
 * `type` is its DSPy type, `typeName` the name prompts show. `optional` is true when the field may be
 * missing: a missing `Optional[T]` field reads as `null`, a missing `Schema.optional` field stays absent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Field {
  readonly name: string
  readonly kind: FieldKind
  readonly type: FieldType.FieldType
  readonly typeName: string
  readonly schema: Schema.Schema<unknown, unknown>
  readonly optional: boolean
  readonly description?: string
  readonly prefix: string
}

/**
 * A signature whose inputs have type `I` and outputs type `O`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signature<in out I = AnyFields, in out O = AnyFields> extends Pipeable {
  readonly [TypeId]: { readonly _I: (_: I) => I; readonly _O: (_: O) => O }
  /** A name for saved state and `response_format` (optional). */
  readonly name?: string
  readonly instructions: string
  readonly inputFields: ReadonlyArray<Field>
  readonly outputFields: ReadonlyArray<Field>
  /** Inputs then outputs. */
  readonly fields: ReadonlyArray<Field>
}

/**
 * Field values when nothing more precise is known.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyFields = { readonly [key: string]: unknown }

/**
 * Any signature.
 *
 * @since 0.1.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: the variance-neutral "any signature" type
export type Any = Signature<any, any>

/**
 * The input values of a signature.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Inputs<S> = S extends Signature<infer I, infer _O> ? I : never

/**
 * The output values of a signature.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Outputs<S> = S extends Signature<infer _I, infer O> ? O : never

type Simplify<A> = { [K in keyof A]: A[K] } & {}

class SignatureImpl implements Signature<AnyFields, AnyFields> {
  readonly [TypeId] = { _I: (_: AnyFields) => _, _O: (_: AnyFields) => _ }
  readonly name?: string
  readonly fields: ReadonlyArray<Field>
  constructor(
    name: string | undefined,
    readonly instructions: string,
    readonly inputFields: ReadonlyArray<Field>,
    readonly outputFields: ReadonlyArray<Field>
  ) {
    if (name !== undefined) this.name = name
    this.fields = [...inputFields, ...outputFields]
  }
  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable protocol
    return pipeArguments(this, arguments)
  }
  toJSON(): SignatureJson {
    return toJSON(this)
  }
  toString(): string {
    return `Signature(${this.inputFields.map((f) => f.name).join(", ")} -> ${this.outputFields.map((f) => f.name).join(", ")})`
  }
}

/**
 * True for signatures.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSignature = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

const build = <I, O>(
  name: string | undefined,
  instructions: string | undefined,
  inputs: ReadonlyArray<Field>,
  outputs: ReadonlyArray<Field>
): Signature<I, O> => {
  const seen = new Set<string>()
  for (const f of [...inputs, ...outputs]) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name)) {
      throw new SignatureEditError({
        message: `Field name "${f.name}" is not valid: use letters, digits and underscores, not starting with a digit.`,
        field: f.name
      })
    }
    if (seen.has(f.name)) {
      throw new SignatureConflictError({
        message: `Field \`${f.name}\` is declared twice: give each input and output field a distinct name.`,
        field: f.name
      })
    }
    seen.add(f.name)
  }
  const text = instructions ?? defaultInstructions(inputs, outputs)
  return new SignatureImpl(name, text, inputs, outputs) as unknown as Signature<I, O>
}

// ---------------------------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------------------------

/**
 * DSPy's default prefix for a field name: `question` -> `Question:`, `final_answer` -> `Final Answer:`,
 * `finalAnswer` -> `Final Answer:`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const inferPrefix = (name: string): string => {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .split("_")
    .filter((w) => w.length > 0)
  const titled = words.map((w) => (w.toUpperCase() === w && w.length > 1 ? w : w[0]!.toUpperCase() + w.slice(1)))
  return `${titled.join(" ")}:`
}

/**
 * DSPy's default instructions: ``Given the fields `a`, `b`, produce the fields `c`.``
 *
 * @since 0.1.0
 * @category formatting
 */
export const defaultInstructions = (inputs: ReadonlyArray<Field>, outputs: ReadonlyArray<Field>): string => {
  const names = (fs: ReadonlyArray<Field>) => fs.map((f) => `\`${f.name}\``).join(", ")
  return `Given the fields ${names(inputs)}, produce the fields ${names(outputs)}.`
}

/**
 * Options of one field.
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldOptions {
  readonly description?: string
  readonly prefix?: string
}

/**
 * Annotates a schema with a field description and prefix, for the typed form:
 * `{ answer: Signature.field(Schema.Int, { description: "The sum" }) }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const field = <A, E>(schema: Schema.Schema<A, E>, options: FieldOptions): Schema.Schema<A, E> => {
  const annotations: Record<string | symbol, unknown> = {}
  if (options.description !== undefined) annotations[AST.DescriptionAnnotationId] = options.description
  if (options.prefix !== undefined) annotations[PrefixAnnotationId] = options.prefix
  return Schema.make<A, E, never>(AST.annotations(schema.ast, annotations))
}

/**
 * A field to add with {@link append}, {@link prepend} or {@link insert}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldSpec<A, K extends FieldKind> extends FieldOptions {
  readonly kind: K
  readonly schema: Schema.Schema<A, unknown>
  readonly optional?: boolean
}

/**
 * An input field spec.
 *
 * @since 0.1.0
 * @category constructors
 */
export const input = <A, E>(
  schema: Schema.Schema<A, E>,
  options?: FieldOptions & { readonly optional?: boolean }
): FieldSpec<A, "input"> => ({ ...options, kind: "input", schema: schema as Schema.Schema<A, unknown> })

/**
 * An output field spec.
 *
 * @since 0.1.0
 * @category constructors
 */
export const output = <A, E>(
  schema: Schema.Schema<A, E>,
  options?: FieldOptions & { readonly optional?: boolean }
): FieldSpec<A, "output"> => ({ ...options, kind: "output", schema: schema as Schema.Schema<A, unknown> })

const makeField = (
  name: string,
  kind: FieldKind,
  schema: Schema.Schema<unknown, unknown>,
  optional: boolean,
  options: FieldOptions
): Field => {
  const type = FieldType.fromAST(schema.ast)
  const description = options.description ?? FieldType.descriptionOf(schema.ast)
  const annotatedPrefix = schema.ast.annotations[PrefixAnnotationId]
  const prefix = options.prefix ?? (typeof annotatedPrefix === "string" ? annotatedPrefix : inferPrefix(name))
  const base = {
    name,
    kind,
    type,
    typeName: FieldType.typeName(type),
    schema,
    optional: optional || type._tag === "optional",
    prefix
  }
  return description === undefined ? base : { ...base, description }
}

const fieldFromType = (name: string, kind: FieldKind, type: FieldType.FieldType, options: FieldOptions): Field => {
  const base = {
    name,
    kind,
    type,
    typeName: FieldType.typeName(type),
    schema: FieldType.toSchema(type),
    optional: type._tag === "optional",
    prefix: options.prefix ?? inferPrefix(name)
  }
  return options.description === undefined ? base : { ...base, description: options.description }
}

const fieldsFromStruct = (fields: Schema.Struct.Fields, kind: FieldKind): Array<Field> =>
  Object.entries(fields).map(([name, value]) => {
    if (Schema.isSchema(value)) return makeField(name, kind, value as Schema.Schema<unknown, unknown>, false, {})
    // A property signature (`Schema.optional(...)`, `Schema.propertySignature(...)`): read its encoded side.
    const psAst = (value as { readonly ast: Schema.PropertySignature.AST }).ast
    const decl = psAst._tag === "PropertySignatureDeclaration" ? psAst : psAst.from
    let type = decl.type
    if (decl.isOptional && type._tag === "Union") {
      const rest = type.types.filter((t) => t._tag !== "UndefinedKeyword")
      type = rest.length === 1 ? rest[0]! : AST.Union.make(rest)
    }
    const own = decl.annotations[AST.DescriptionAnnotationId]
    const prefix = decl.annotations[PrefixAnnotationId]
    const options: { description?: string; prefix?: string } = {}
    if (typeof own === "string") options.description = own
    if (typeof prefix === "string") options.prefix = prefix
    return makeField(name, kind, Schema.make(type), decl.isOptional, options)
  })

// ---------------------------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------------------------

/**
 * The typed form of a signature.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedSpec<I extends Schema.Struct.Fields, O extends Schema.Struct.Fields> {
  readonly inputs: I
  readonly outputs: O
  readonly instructions?: string
  readonly name?: string
}

/**
 * Options of the string form.
 *
 * @since 0.1.0
 * @category models
 */
export interface StringOptions {
  readonly instructions?: string
  readonly name?: string
  /** Field descriptions by field name. */
  readonly descriptions?: { readonly [field: string]: string }
}

/**
 * Parses the DSPy string form; a bad string fails with a {@link SignatureParseError} naming the column.
 * Types: `str` (the default), `int`, `float`, `bool`, `list[T]`, `dict[K, V]`, `Literal['a', 'b']`,
 * `Optional[T]`, `Any`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = <const S extends string>(
  source: S,
  options?: StringOptions
): Either.Either<Signature<ParseInputs<S>, ParseOutputs<S>>, SignatureParseError | SignatureEditError> =>
  Either.flatMap(Parser.parse(source), (parsed) => {
    const descriptions = options?.descriptions ?? {}
    const known = new Set([...parsed.inputs, ...parsed.outputs].map((f) => f.name))
    for (const name of Object.keys(descriptions)) {
      if (!known.has(name)) {
        return Either.left(
          new SignatureEditError({
            message: `A description names the field \`${name}\`, which the signature "${source}" does not have.`,
            field: name
          })
        )
      }
    }
    const opts = (name: string): FieldOptions =>
      descriptions[name] === undefined ? {} : { description: descriptions[name] }
    return Either.right(
      build<ParseInputs<S>, ParseOutputs<S>>(
        options?.name,
        options?.instructions,
        parsed.inputs.map((f) => fieldFromType(f.name, "input", f.type, opts(f.name))),
        parsed.outputs.map((f) => fieldFromType(f.name, "output", f.type, opts(f.name)))
      )
    )
  })

/**
 * Builds a signature from the string form (throwing a {@link SignatureParseError} on a bad string, as a
 * declaration would) or from the typed form.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <const S extends string>(source: S, options?: StringOptions): Signature<ParseInputs<S>, ParseOutputs<S>>
  <I extends Schema.Struct.Fields, O extends Schema.Struct.Fields>(
    spec: TypedSpec<I, O>
  ): Signature<Simplify<Schema.Struct.Type<I>>, Simplify<Schema.Struct.Type<O>>>
} = ((spec: string | TypedSpec<Schema.Struct.Fields, Schema.Struct.Fields>, options?: StringOptions) => {
  if (typeof spec === "string") {
    const result = parse(spec, options)
    if (Either.isLeft(result)) throw result.left
    return result.right
  }
  return build(
    spec.name,
    spec.instructions,
    fieldsFromStruct(spec.inputs, "input"),
    fieldsFromStruct(spec.outputs, "output")
  )
}) as never

// ---------------------------------------------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------------------------------------------

const copy = <I, O>(
  self: Signature<unknown, unknown> | Any,
  patch: { instructions?: string; inputs?: ReadonlyArray<Field>; outputs?: ReadonlyArray<Field>; name?: string }
): Signature<I, O> =>
  build(
    patch.name ?? self.name,
    patch.instructions ?? self.instructions,
    patch.inputs ?? self.inputFields,
    patch.outputs ?? self.outputFields
  )

/**
 * Replaces the instructions.
 *
 * @since 0.1.0
 * @category edits
 */
export const withInstructions: {
  (instructions: string): <I, O>(self: Signature<I, O>) => Signature<I, O>
  <I, O>(self: Signature<I, O>, instructions: string): Signature<I, O>
} = dual(2, <I, O>(self: Signature<I, O>, instructions: string): Signature<I, O> => copy(self, { instructions }))

/**
 * Sets the name.
 *
 * @since 0.1.0
 * @category edits
 */
export const withName: {
  (name: string): <I, O>(self: Signature<I, O>) => Signature<I, O>
  <I, O>(self: Signature<I, O>, name: string): Signature<I, O>
} = dual(2, <I, O>(self: Signature<I, O>, name: string): Signature<I, O> => copy(self, { name }))

/**
 * The signature after adding field `K` of type `A` as an input or an output.
 *
 * @since 0.1.0
 * @category type-level
 */
export type WithField<I, O, K extends string, A, Kind extends FieldKind> = Kind extends "input"
  ? Signature<Simplify<I & { readonly [k in K]: A }>, O>
  : Signature<I, Simplify<O & { readonly [k in K]: A }>>

const specToField = (name: string, spec: FieldSpec<unknown, FieldKind>): Field =>
  makeField(name, spec.kind, spec.schema, spec.optional === true, spec)

const insertAt = <I, O>(self: Signature<I, O>, index: number, name: string, spec: FieldSpec<unknown, FieldKind>) => {
  const list = spec.kind === "input" ? [...self.inputFields] : [...self.outputFields]
  const at = index < 0 ? list.length + 1 + index : index
  if (at < 0 || at > list.length) {
    throw new SignatureEditError({
      message: `Cannot insert \`${name}\` at index ${index}: the signature has ${list.length} ${spec.kind} fields (use 0..${list.length}, or -1 for the end).`,
      field: name
    })
  }
  list.splice(at, 0, specToField(name, spec))
  return spec.kind === "input" ? copy(self, { inputs: list }) : copy(self, { outputs: list })
}

/**
 * Inserts a field at `index` among the fields of its kind (negative indexes count from the end, -1 is the
 * end), as DSPy's `insert`. A name already used throws a {@link SignatureConflictError}.
 *
 * @since 0.1.0
 * @category edits
 */
export const insert: {
  <K extends string, A, Kind extends FieldKind>(
    index: number,
    name: K,
    spec: FieldSpec<A, Kind>
  ): <I, O>(self: Signature<I, O>) => WithField<I, O, K, A, Kind>
  <I, O, K extends string, A, Kind extends FieldKind>(
    self: Signature<I, O>,
    index: number,
    name: K,
    spec: FieldSpec<A, Kind>
  ): WithField<I, O, K, A, Kind>
} = dual(4, (self: Any, index: number, name: string, spec: FieldSpec<unknown, FieldKind>) =>
  insertAt(self, index, name, spec)
) as never

/**
 * Adds a field after the fields of its kind.
 *
 * @since 0.1.0
 * @category edits
 */
export const append: {
  <K extends string, A, Kind extends FieldKind>(
    name: K,
    spec: FieldSpec<A, Kind>
  ): <I, O>(self: Signature<I, O>) => WithField<I, O, K, A, Kind>
  <I, O, K extends string, A, Kind extends FieldKind>(
    self: Signature<I, O>,
    name: K,
    spec: FieldSpec<A, Kind>
  ): WithField<I, O, K, A, Kind>
} = dual(3, (self: Any, name: string, spec: FieldSpec<unknown, FieldKind>) => insertAt(self, -1, name, spec)) as never

/**
 * Adds a field before the fields of its kind (ChainOfThought prepends `reasoning` to the outputs).
 *
 * @since 0.1.0
 * @category edits
 */
export const prepend: {
  <K extends string, A, Kind extends FieldKind>(
    name: K,
    spec: FieldSpec<A, Kind>
  ): <I, O>(self: Signature<I, O>) => WithField<I, O, K, A, Kind>
  <I, O, K extends string, A, Kind extends FieldKind>(
    self: Signature<I, O>,
    name: K,
    spec: FieldSpec<A, Kind>
  ): WithField<I, O, K, A, Kind>
} = dual(3, (self: Any, name: string, spec: FieldSpec<unknown, FieldKind>) => insertAt(self, 0, name, spec)) as never

const requireField = (self: Any, name: string): Field => {
  const f = self.fields.find((x) => x.name === name)
  if (f === undefined) {
    throw new SignatureEditError({
      message: `The signature has no field \`${name}\` (it has ${self.fields.map((x) => `\`${x.name}\``).join(", ")}).`,
      field: name
    })
  }
  return f
}

/**
 * Removes a field; an unknown name throws a {@link SignatureEditError}.
 *
 * @since 0.1.0
 * @category edits
 */
export const remove: {
  <K extends string>(name: K): <I, O>(self: Signature<I, O>) => Signature<Simplify<Omit<I, K>>, Simplify<Omit<O, K>>>
  <I, O, K extends string>(self: Signature<I, O>, name: K): Signature<Simplify<Omit<I, K>>, Simplify<Omit<O, K>>>
} = dual(2, (self: Any, name: string) => {
  requireField(self, name)
  return copy(self, {
    inputs: self.inputFields.filter((f) => f.name !== name),
    outputs: self.outputFields.filter((f) => f.name !== name)
  })
}) as never

/**
 * Alias of {@link remove}, DSPy's `delete`.
 *
 * @since 0.1.0
 * @category edits
 */
export { remove as delete }

/**
 * Changes to one field. A new `schema` changes the field's type (the value types of the signature are then
 * only as precise as `Signature<AnyFields, AnyFields>` says; re-annotate if you need them).
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldPatch extends FieldOptions {
  readonly schema?: Schema.Schema.AnyNoContext
  readonly optional?: boolean
}

const patchField = (f: Field, patch: FieldPatch): Field => {
  const schema = (patch.schema as Schema.Schema<unknown, unknown> | undefined) ?? f.schema
  const typeChanged = patch.schema !== undefined
  const options: FieldOptions = {
    prefix: patch.prefix ?? f.prefix,
    ...(patch.description !== undefined
      ? { description: patch.description }
      : f.description !== undefined
        ? { description: f.description }
        : {})
  }
  if (!typeChanged) {
    const base = { ...f, prefix: options.prefix!, optional: patch.optional ?? f.optional }
    return options.description === undefined ? base : { ...base, description: options.description }
  }
  return makeField(f.name, f.kind, schema, patch.optional ?? false, options)
}

/**
 * Updates one field's description, prefix, schema or optionality.
 *
 * @since 0.1.0
 * @category edits
 */
export const withUpdatedField: {
  (name: string, patch: FieldPatch): <I, O>(self: Signature<I, O>) => Signature<I, O>
  <I, O>(self: Signature<I, O>, name: string, patch: FieldPatch): Signature<I, O>
} = dual(
  3,
  <I, O>(self: Signature<I, O>, name: string, patch: FieldPatch): Signature<I, O> =>
    withUpdatedFields(self, { [name]: patch })
)

/**
 * Updates several fields at once, by name.
 *
 * @since 0.1.0
 * @category edits
 */
export const withUpdatedFields: {
  (patches: { readonly [name: string]: FieldPatch }): <I, O>(self: Signature<I, O>) => Signature<I, O>
  <I, O>(self: Signature<I, O>, patches: { readonly [name: string]: FieldPatch }): Signature<I, O>
} = dual(2, <I, O>(self: Signature<I, O>, patches: { readonly [name: string]: FieldPatch }): Signature<I, O> => {
  for (const name of Object.keys(patches)) requireField(self, name)
  const apply = (f: Field) => (patches[f.name] === undefined ? f : patchField(f, patches[f.name]!))
  return copy(self, { inputs: self.inputFields.map(apply), outputs: self.outputFields.map(apply) })
})

/**
 * Merges two signatures: inputs of `self` then of `that`, outputs likewise. A field name declared by both
 * fails with a {@link SignatureConflictError} naming it. Instructions: when both are the defaults, the
 * default of the merged fields; otherwise the distinct instructions joined by a blank line.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge: {
  <I2, O2>(
    that: Signature<I2, O2>
  ): <I, O>(
    self: Signature<I, O>
  ) => Either.Either<Signature<Simplify<I & I2>, Simplify<O & O2>>, SignatureConflictError>
  <I, O, I2, O2>(
    self: Signature<I, O>,
    that: Signature<I2, O2>
  ): Either.Either<Signature<Simplify<I & I2>, Simplify<O & O2>>, SignatureConflictError>
} = dual(2, (self: Any, that: Any) => {
  const names = new Set(self.fields.map((f) => f.name))
  const clash = that.fields.find((f) => names.has(f.name))
  if (clash !== undefined) {
    const mine = requireField(self, clash.name)
    return Either.left(
      new SignatureConflictError({
        message: `Cannot merge: both signatures declare the field \`${clash.name}\` (${mine.kind} ${mine.typeName} and ${clash.kind} ${clash.typeName}); rename one of them.`,
        field: clash.name
      })
    )
  }
  const inputs = [...self.inputFields, ...that.inputFields]
  const outputs = [...self.outputFields, ...that.outputFields]
  const isDefault = (s: Any) => s.instructions === defaultInstructions(s.inputFields, s.outputFields)
  const texts = [self, that].filter((s) => !isDefault(s)).map((s) => s.instructions)
  const instructions = texts.length === 0 ? undefined : [...new Set(texts)].join("\n\n")
  return Either.right(build(self.name ?? that.name, instructions, inputs, outputs))
}) as never

// ---------------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------------

const validateFields = (
  fields: ReadonlyArray<Field>,
  kind: FieldKind,
  values: unknown
): Either.Either<AnyFields, SignatureValidationError> => {
  const issues: Array<FieldIssue> = []
  const out: Record<string, unknown> = {}
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    return Either.left(
      new SignatureValidationError({
        message: `Expected the ${kind} values as an object with the fields ${fields.map((f) => `\`${f.name}\``).join(", ")}.`,
        kind,
        issues: [
          { field: "*", problem: `expected an object, got ${Array.isArray(values) ? "an array" : String(values)}` }
        ]
      })
    )
  }
  const record = values as Record<string, unknown>
  for (const f of fields) {
    const v = record[f.name]
    if (v === undefined) {
      if (!f.optional) issues.push({ field: f.name, problem: `missing (expected ${f.typeName})` })
      continue
    }
    const result = Schema.validateEither(f.schema)(v)
    if (Either.isLeft(result)) {
      issues.push({ field: f.name, problem: ParseResult.TreeFormatter.formatErrorSync(result.left) })
    } else out[f.name] = v
  }
  if (issues.length > 0) {
    return Either.left(
      new SignatureValidationError({
        message: `Invalid ${kind} values: ${issues.map((i) => `\`${i.field}\`: ${i.problem}`).join("; ")}.`,
        kind,
        issues
      })
    )
  }
  return Either.right(out)
}

/**
 * Checks input values against the input fields: every required field present, every value of its type.
 * Returns the declared fields only.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateInputs = <I, O>(
  self: Signature<I, O>,
  values: unknown
): Either.Either<I, SignatureValidationError> =>
  validateFields(self.inputFields, "input", values) as Either.Either<I, SignatureValidationError>

/**
 * Checks output values against the output fields.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateOutputs = <I, O>(
  self: Signature<I, O>,
  values: unknown
): Either.Either<O, SignatureValidationError> =>
  validateFields(self.outputFields, "output", values) as Either.Either<O, SignatureValidationError>

// ---------------------------------------------------------------------------------------------------------------
// JSON form
// ---------------------------------------------------------------------------------------------------------------

const LiteralValueSchema = Schema.Union(Schema.String, Schema.Number, Schema.Boolean)

/**
 * The JSON form of a field type.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FieldTypeJson: Schema.Schema<FieldType.FieldType> = Schema.Union(
  Schema.Struct({ _tag: Schema.Literal("str", "int", "float", "bool", "any", "image", "audio") }),
  Schema.Struct({ _tag: Schema.Literal("list"), item: Schema.suspend(() => FieldTypeJson) }),
  Schema.Struct({
    _tag: Schema.Literal("dict"),
    key: Schema.suspend(() => FieldTypeJson),
    value: Schema.suspend(() => FieldTypeJson)
  }),
  Schema.Struct({ _tag: Schema.Literal("literal"), values: Schema.Array(LiteralValueSchema) }),
  Schema.Struct({ _tag: Schema.Literal("optional"), inner: Schema.suspend(() => FieldTypeJson) }),
  Schema.Struct({
    _tag: Schema.Literal("struct"),
    name: Schema.optional(Schema.String),
    properties: Schema.Array(
      Schema.Struct({
        name: Schema.String,
        type: Schema.suspend(() => FieldTypeJson),
        optional: Schema.Boolean,
        description: Schema.optional(Schema.String)
      })
    )
  })
)

/**
 * The saved form of a signature. Field types are stored as {@link FieldType.FieldType} trees, so custom
 * refinements and transformations of typed-form schemas are not kept (the loaded field validates the type).
 *
 * @since 0.1.0
 * @category schemas
 */
export const SignatureJson = Schema.Struct({
  name: Schema.optional(Schema.String),
  instructions: Schema.String,
  fields: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      kind: Schema.Literal("input", "output"),
      type: FieldTypeJson,
      typeName: Schema.String,
      optional: Schema.Boolean,
      description: Schema.optional(Schema.String),
      prefix: Schema.String
    })
  )
})

/**
 * The saved form of a signature.
 *
 * @since 0.1.0
 * @category schemas
 */
export type SignatureJson = typeof SignatureJson.Type

/**
 * The stable JSON form (fields in order, inputs first).
 *
 * @since 0.1.0
 * @category conversions
 */
export const toJSON = (self: Any): SignatureJson => {
  const fields = self.fields.map((f) => {
    const base = { name: f.name, kind: f.kind, type: f.type, typeName: f.typeName, optional: f.optional }
    const withDesc = f.description === undefined ? base : { ...base, description: f.description }
    return { ...withDesc, prefix: f.prefix }
  })
  return self.name === undefined
    ? { instructions: self.instructions, fields }
    : { name: self.name, instructions: self.instructions, fields }
}

/**
 * Reads a signature back from its JSON form.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromJSON = (json: unknown): Either.Either<Any, SignatureDecodeError> =>
  // Each type level is at most 3 JSON levels (struct, properties, property); 3 more above the first type.
  exceedsDepth(json, 3 * FieldType.maxDepth + 3)
    ? Either.left(
        new SignatureDecodeError({
          message: `Not a saved signature: its field types nest deeper than ${FieldType.maxDepth} levels.`,
          issue: `nested deeper than ${FieldType.maxDepth} type levels`
        })
      )
    : fromJSONShallow(json)

const fromJSONShallow = (json: unknown): Either.Either<Any, SignatureDecodeError> =>
  Either.flatMap(
    Either.mapLeft(decodeUnknownEither(SignatureJson)(json), (e) => {
      const issue = ParseResult.TreeFormatter.formatErrorSync(e)
      return new SignatureDecodeError({ message: `Not a saved signature: ${issue}`, issue })
    }),
    (data) => {
      const toField = (f: SignatureJson["fields"][number]): Field => {
        const options =
          f.description === undefined ? { prefix: f.prefix } : { prefix: f.prefix, description: f.description }
        const base = fieldFromType(f.name, f.kind, f.type, options)
        return { ...base, optional: f.optional || base.optional }
      }
      try {
        return Either.right(
          build(
            data.name,
            data.instructions,
            data.fields.filter((f) => f.kind === "input").map(toField),
            data.fields.filter((f) => f.kind === "output").map(toField)
          )
        )
      } catch (e) {
        const issue = e instanceof Error ? e.message : String(e)
        return Either.left(new SignatureDecodeError({ message: `Not a valid signature: ${issue}`, issue }))
      }
    }
  )

/**
 * The signature as a DSPy string (`"question: str, k: int -> answer: str"`), for display.
 *
 * @since 0.1.0
 * @category formatting
 */
export const toSignatureString = (self: Any): string => {
  const side = (fs: ReadonlyArray<Field>) => fs.map((f) => `${f.name}: ${f.typeName}`).join(", ")
  return `${side(self.inputFields)} -> ${side(self.outputFields)}`
}

/**
 * Finds a field by name.
 *
 * @since 0.1.0
 * @category getters
 */
export const getField = (self: Any, name: string): Field | undefined => self.fields.find((f) => f.name === name)
