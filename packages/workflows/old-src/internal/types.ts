/**
 * Field types for the reference checks: DSPy's notation parsed by core's signature parser, lookups along a
 * template's path, and whether a source type fits a target.
 */
import { FieldType, Signature } from "@effect-dspy/core"
import * as Either from "effect/Either"

export type Type = FieldType.FieldType

export const any: Type = { _tag: "any" }
export const str: Type = { _tag: "str" }

/** Parses a type in DSPy's notation (`list[str]`), or says why not. */
export const parseType = (text: string): Either.Either<Type, string> => {
  const parsed = Signature.parse(`x: ${text} -> y`)
  if (Either.isLeft(parsed)) return Either.left(`"${text}" is not a type (use str, int, float, bool, list[str], ...)`)
  const field = parsed.right.inputFields[0]
  return field === undefined ? Either.left(`"${text}" is not a type`) : Either.right(field.type)
}

/** A record of named fields as one struct type. */
export const struct = (fields: { readonly [name: string]: Type }): Type => ({
  _tag: "struct",
  properties: Object.entries(fields).map(([name, type]) => ({ name, type, optional: false }))
})

/** The type at `parts` inside `type`, `undefined` when there is no such field; `any` past what is known. */
export const at = (type: Type, parts: ReadonlyArray<string>): Type | undefined => {
  let t: Type = type
  for (const part of parts) {
    switch (t._tag) {
      case "any":
        return any
      case "optional":
        t = t.inner
        break
      default:
        break
    }
    switch (t._tag) {
      case "struct": {
        const p = t.properties.find((q) => q.name === part)
        if (p === undefined) return undefined
        t = p.type
        break
      }
      case "dict":
        t = t.value
        break
      case "list":
        if (!/^\d+$/.test(part)) return undefined
        t = t.item
        break
      case "any":
        return any
      default:
        return undefined
    }
  }
  return t
}

/** The fields of a struct type, by name (empty for other types). */
export const fieldsOf = (type: Type): ReadonlyArray<string> =>
  type._tag === "struct" ? type.properties.map((p) => p.name) : []

/** Whether a value of type `source` fits where `target` is expected (loosely: `any` fits everything). */
export const fits = (source: Type, target: Type): boolean => {
  if (source._tag === "any" || target._tag === "any") return true
  if (target._tag === "optional") return fits(source._tag === "optional" ? source.inner : source, target.inner)
  if (source._tag === "optional") return fits(source.inner, target)
  switch (target._tag) {
    case "str":
      return source._tag === "str" || (source._tag === "literal" && source.values.every((v) => typeof v === "string"))
    case "float":
      return source._tag === "float" || source._tag === "int"
    case "int":
      return source._tag === "int"
    case "bool":
      return source._tag === "bool"
    case "list":
      return source._tag === "list" && fits(source.item, target.item)
    case "dict":
      return source._tag === "dict" || source._tag === "struct"
    case "struct":
      return source._tag === "struct" || source._tag === "dict"
    case "literal":
      return source._tag === "literal" && source.values.every((v) => target.values.includes(v))
  }
}

/** A type in DSPy's notation, for messages. */
export const show = (type: Type): string => FieldType.typeName(type)

/** Whether a JSON value has the type (for run inputs). */
export const check = (value: unknown, type: Type): boolean => {
  switch (type._tag) {
    case "any":
      return true
    case "str":
      return typeof value === "string"
    case "int":
      return typeof value === "number" && Number.isInteger(value)
    case "float":
      return typeof value === "number"
    case "bool":
      return typeof value === "boolean"
    case "optional":
      return value === null || value === undefined || check(value, type.inner)
    case "list":
      return Array.isArray(value) && value.every((v) => check(v, type.item))
    case "dict":
      return typeof value === "object" && value !== null && !Array.isArray(value)
    case "struct":
      return typeof value === "object" && value !== null && !Array.isArray(value)
    case "literal":
      return type.values.includes(value as never)
  }
}
