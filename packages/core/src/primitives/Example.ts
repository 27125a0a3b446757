/**
 * An example: a record of named fields (inputs and labels), as DSPy's `Example`. Immutable: every change
 * returns a new example. `withInputs(...keys)` marks which fields are inputs; `inputs()` and `labels()`
 * split the record accordingly. Examples compare by value (`Equal.equals`), so a training example can be
 * found and removed from a list of demos.
 *
 * ```ts
 * const ex = Example.make({ question: "2 + 3?", answer: "5" }).withInputs("question")
 * ex.inputs().toRecord() // { question: "2 + 3?" }
 * ex.labels().toRecord() // { answer: "5" }
 * ```
 *
 * @since 0.1.0
 */
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import { CanonicalJson } from "@effect-dspy/foundation"
import { ExampleInputsNotSet } from "../CoreError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-dspy/core/Example")

/**
 * Field values of an example.
 *
 * @since 0.1.0
 * @category models
 */
export type Fields = { readonly [key: string]: unknown }

/**
 * The errors of this module (defined with every error of the package in `CoreError`).
 *
 * @since 0.1.0
 * @category errors
 */
export { ExampleInputsNotSet }

// Examples compare and hash by the canonical JSON of their fields (foundation's `CanonicalJson`).
const canonical = CanonicalJson.stringify

/**
 * An example with fields `A`, whose input keys are `K`.
 *
 * @since 0.1.0
 * @category models
 */
export class Example<A extends Fields = Fields, K extends keyof A & string = never> implements Equal.Equal, Pipeable {
  readonly [TypeId] = TypeId
  /** The input keys, or `undefined` when `withInputs` was never called. */
  readonly inputKeys: ReadonlyArray<K> | undefined
  readonly #fields: A

  constructor(fields: A, inputKeys?: ReadonlyArray<K>) {
    this.#fields = Object.freeze({ ...fields })
    this.inputKeys = inputKeys === undefined ? undefined : Object.freeze([...new Set(inputKeys)])
  }

  /** The value of a field. */
  get<F extends keyof A>(key: F): A[F] {
    return this.#fields[key]
  }

  /** True when the example has the field. */
  has(key: string): boolean {
    return Object.hasOwn(this.#fields, key)
  }

  /** The field names, in insertion order. */
  keys(): ReadonlyArray<keyof A & string> {
    return Object.keys(this.#fields) as Array<keyof A & string>
  }

  /** A copy of the fields as a plain object. */
  toRecord(): A {
    return { ...this.#fields }
  }

  /** Marks the given fields as inputs (replacing any earlier choice). */
  withInputs<const Keys extends ReadonlyArray<keyof A & string>>(...keys: Keys): Example<A, Keys[number]> {
    return new Example<A, Keys[number]>(this.#fields, keys)
  }

  /** The input fields only; throws {@link ExampleInputsNotSet} when `withInputs` was never called. */
  inputs(): Example<Pick<A, K>, K> {
    if (this.inputKeys === undefined) {
      throw new ExampleInputsNotSet({
        message: "This example has no input keys: call `.withInputs(...keys)` first to say which fields are inputs."
      })
    }
    const out: Record<string, unknown> = {}
    for (const k of this.inputKeys) if (this.has(k)) out[k] = this.#fields[k]
    return new Example(out as Pick<A, K>, this.inputKeys)
  }

  /** The non-input fields (the labels); every field when no input keys were set. */
  labels(): Example<Omit<A, K>> {
    const inputs = new Set<string>(this.inputKeys ?? [])
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(this.#fields)) if (!inputs.has(k)) out[k] = v
    return new Example(out as Omit<A, K>)
  }

  /** A copy with fields added or replaced (input keys kept). */
  with<B extends Fields>(fields: B): Example<Omit<A, keyof B> & B, K & keyof (Omit<A, keyof B> & B) & string> {
    return new Example({ ...this.#fields, ...fields } as Omit<A, keyof B> & B, this.inputKeys as never)
  }

  /** A copy without the given fields (they also leave the input keys). */
  without<const D extends keyof A & string>(...keys: ReadonlyArray<D>): Example<Omit<A, D>, Exclude<K, D>> {
    const drop = new Set<string>(keys)
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(this.#fields)) if (!drop.has(k)) out[k] = v
    const inputKeys = this.inputKeys?.filter((k) => !drop.has(k)) as ReadonlyArray<Exclude<K, D>> | undefined
    return new Example(out as Omit<A, D>, inputKeys)
  }

  /** The saved form: `{ fields, inputKeys? }`. */
  toJSON(): ExampleJson {
    return this.inputKeys === undefined
      ? { fields: this.toRecord() }
      : { fields: this.toRecord(), inputKeys: [...this.inputKeys] }
  }

  toString(): string {
    return `Example(${JSON.stringify(this.#fields)}${this.inputKeys === undefined ? "" : ` inputs=${this.inputKeys.join(",")}`})`
  }

  [Equal.symbol](that: Equal.Equal): boolean {
    return (
      that instanceof Example &&
      canonical(this.#fields) === canonical(that.toRecord()) &&
      canonical(this.inputKeys === undefined ? undefined : [...this.inputKeys].sort()) ===
        canonical(that.inputKeys === undefined ? undefined : [...that.inputKeys].sort())
    )
  }

  [Hash.symbol](): number {
    return Hash.cached(this, Hash.string(canonical(this.#fields)))
  }

  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable protocol
    return pipeArguments(this, arguments)
  }
}

/**
 * Any example, whatever its fields and input keys.
 *
 * @since 0.1.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: the variance-neutral "any example" type
export type Any = Example<any, any>

/**
 * Builds an example from its fields.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const A extends Fields>(fields: A): Example<A> => new Example(fields)

/**
 * True for examples.
 *
 * @since 0.1.0
 * @category guards
 */
export const isExample = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

/**
 * The saved form of an example.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExampleJson = Schema.Struct({
  fields: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  inputKeys: Schema.optional(Schema.Array(Schema.String))
})

/**
 * The saved form of an example.
 *
 * @since 0.1.0
 * @category schemas
 */
export type ExampleJson = typeof ExampleJson.Type

/**
 * Reads an example back from its saved form.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromJSON = (json: ExampleJson): Example<Fields, string> =>
  new Example<Fields, string>(json.fields, json.inputKeys)

/**
 * The fields of an example or a plain record, as a plain record (adapters take either).
 *
 * @since 0.1.0
 * @category conversions
 */
export const toRecord = (u: Any | Fields): Fields => (isExample(u) ? u.toRecord() : u)
