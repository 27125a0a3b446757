/**
 * Writing field values into prompts and reading them back from LM text, per field type.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Media from "../../media/Media.js"
import type * as Completion from "../../lm/Completion.js"
import * as FieldType from "../../signature/FieldType.js"
import type * as Signature from "../../signature/Signature.js"
import * as JsonRepair from "../JsonRepair.js"

/**
 * JSON as Python's `json.dumps(value, ensure_ascii=False)` writes it: `[1, 2]`, `{"a": 1}`.
 *
 * @internal
 */
export const pyJson = (value: unknown): string => {
  if (value === undefined || value === null) return "null"
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`
  if (typeof value === "object") {
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`)
      .join(", ")}}`
  }
  if (typeof value === "number" && !Number.isFinite(value))
    return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity"
  return JSON.stringify(value) ?? "null"
}

/** The value in its encoded (wire) form, through the field's schema when it encodes. */
export const encode = (field: Signature.Field, value: unknown): unknown => {
  if (value === undefined || value === null) return value
  const r = Schema.encodeUnknownEither(field.schema)(value)
  return Either.isRight(r) ? r.right : value
}

/** The JSON-compatible form of a value (undefined properties dropped). */
export const jsonable = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(jsonable)
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) {
        Object.defineProperty(out, k, { value: jsonable(v), enumerable: true, writable: true, configurable: true })
      }
    }
    return out
  }
  return value
}

const MARK = "\u0000media:"

/**
 * Where a media value stands in prompt text until the message is cut into content parts (see
 * `Prompt.toContent`): its sha256 between NUL characters, which no adapter escaping touches.
 *
 * @internal
 */
export const mediaMarker = (media: Media.Media): string => `${MARK}${media.sha256}\u0000`

/**
 * Text with media markers cut into content parts: text parts (trimmed, empty ones left out) and the media found
 * in `media` by sha256. Text without markers is returned as it is.
 *
 * @internal
 */
export const splitMedia = (
  text: string,
  media: ReadonlyMap<string, Media.Media>
): string | Array<Completion.ContentPart> => {
  if (!text.includes(MARK)) return text
  const parts: Array<Completion.ContentPart> = []
  let at = 0
  const pushText = (t: string) => {
    const trimmed = t.trim()
    if (trimmed !== "") parts.push({ type: "text", text: trimmed })
  }
  for (;;) {
    const start = text.indexOf(MARK, at)
    if (start < 0) break
    const end = text.indexOf("\u0000", start + MARK.length)
    if (end < 0) break
    const found = media.get(text.slice(start + MARK.length, end))
    if (found === undefined) {
      pushText(text.slice(at, end + 1))
    } else {
      pushText(text.slice(at, start))
      parts.push(Media.toPart(found))
    }
    at = end + 1
  }
  pushText(text.slice(at))
  return parts
}

/**
 * The media values of a record (top-level values and lists of them), by sha256.
 *
 * @internal
 */
export const mediaOf = (record: { readonly [key: string]: unknown }): Map<string, Media.Media> => {
  const out = new Map<string, Media.Media>()
  for (const v of Object.values(record)) {
    if (Media.isMedia(v)) out.set(v.sha256, v)
    else if (Array.isArray(v)) for (const x of v) if (Media.isMedia(x)) out.set(x.sha256, x)
  }
  return out
}

/**
 * A value as prompt text: strings as they are, `True`/`False`, `None`, numbers (a whole float as `5.0`),
 * lists, dicts and structs as JSON.
 *
 * @internal
 */
export const formatValue = (field: Signature.Field, value: unknown): string => {
  if (Media.isMedia(value)) return mediaMarker(value)
  if (Array.isArray(value) && value.length > 0 && value.every(Media.isMedia)) return value.map(mediaMarker).join("\n")
  const v = encode(field, value)
  if (v === undefined || v === null) return "None"
  if (typeof v === "string") return v
  if (typeof v === "boolean") return v ? "True" : "False"
  if (typeof v === "number") {
    const floaty = field.type._tag === "float" || (field.type._tag === "optional" && field.type.inner._tag === "float")
    const text = pyJson(v)
    return floaty && /^-?\d+$/.test(text) ? `${text}.0` : text
  }
  return pyJson(jsonable(v))
}

const boolWords: Record<string, boolean> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  "1": true,
  "0": false,
  on: true,
  off: false
}

/** Lax conversions toward the type (what Pydantic's lax mode accepts), before the schema decides. */
export const coerce = (type: FieldType.FieldType, v: unknown): unknown => {
  switch (type._tag) {
    case "int":
    case "float":
      // Trimmed first, and each digit run has one way to match: linear on any input (no backtracking).
      if (typeof v === "string" && /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(v.trim())) return Number(v)
      return v
    case "bool":
      if (typeof v === "string") return boolWords[v.trim().toLowerCase()] ?? v
      if (v === 1 || v === 0) return v === 1
      return v
    case "str":
      return typeof v === "number" || typeof v === "boolean" ? String(v) : v
    case "literal":
      return coerceLiteral(type.values, v)
    case "optional":
      return v === null || v === undefined ? null : coerce(type.inner, v)
    case "list":
      return Array.isArray(v) ? v.map((x) => coerce(type.item, x)) : v
    case "dict":
      if (typeof v === "object" && v !== null && !Array.isArray(v)) {
        const out: Record<string, unknown> = {}
        for (const [k, x] of Object.entries(v)) {
          Object.defineProperty(out, k, {
            value: coerce(type.value, x),
            enumerable: true,
            writable: true,
            configurable: true
          })
        }
        return out
      }
      return v
    case "struct":
      if (typeof v === "object" && v !== null && !Array.isArray(v)) {
        const out: Record<string, unknown> = { ...(v as Record<string, unknown>) }
        for (const p of type.properties) {
          const x = out[p.name]
          if (x === undefined) continue
          if (x === null && p.optional && p.type._tag !== "optional") delete out[p.name]
          else out[p.name] = coerce(p.type, x)
        }
        return out
      }
      return v
    case "any":
    case "image":
    case "audio":
      return v
  }
}

const coerceLiteral = (values: ReadonlyArray<FieldType.LiteralValue>, v: unknown): unknown => {
  if (values.includes(v as FieldType.LiteralValue)) return v
  if (typeof v !== "string") {
    const asText = typeof v === "number" || typeof v === "boolean" ? String(v) : undefined
    return asText !== undefined && values.includes(asText) ? asText : v
  }
  let s = v.trim()
  if ((s.startsWith("Literal[") || s.startsWith("str[")) && s.endsWith("]")) s = s.slice(s.indexOf("[") + 1, -1)
  if (s.length > 1 && s[0] === s[s.length - 1] && (s[0] === "'" || s[0] === '"')) s = s.slice(1, -1)
  for (const candidate of values) {
    if (candidate === s) return candidate
    if (typeof candidate !== "string" && (String(candidate) === s || FieldType.literalName(candidate) === s))
      return candidate
  }
  return v
}

const decodeWith = (field: Signature.Field, candidate: unknown): Either.Either<unknown, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(field.schema)(candidate), (e) =>
    ParseResult.TreeFormatter.formatErrorSync(e)
  )

const describe = (text: string): string =>
  text.length > 80 ? `${JSON.stringify(text.slice(0, 77))}...` : JSON.stringify(text)

/**
 * Reads a field's value from the LM's text (DSPy's `parse_value`): `str` fields take the text as it is;
 * `Literal` fields match a value (quotes and a `Literal[...]` wrapper tolerated); other types read the
 * text as (repaired) JSON or a Python literal, apply lax conversions (`"5"` -> 5, `"True"` -> true) and
 * decode with the field's schema.
 *
 * @internal
 */
export const decodeText = (field: Signature.Field, text: string): Either.Either<unknown, string> => {
  const type = field.type
  if (FieldType.isMedia(type)) return Either.left(`${field.typeName} fields are inputs only: an LM cannot answer one`)
  if (type._tag === "str") return decodeWith(field, text)
  if (type._tag === "literal") {
    const v = coerceLiteral(type.values, text)
    return Either.mapLeft(
      decodeWith(field, v),
      () => `${describe(text)} is not one of ${type.values.map(FieldType.literalName).join(", ")}`
    )
  }
  if (type._tag === "optional") {
    const t = text.trim()
    if (t === "" || t === "None" || t === "null") return Either.right(null)
    if (type.inner._tag === "str") return decodeWith(field, t)
  }
  const parsed = JsonRepair.parse(text)
  const candidate = Option.isSome(parsed) ? parsed.value : text
  return Either.mapLeft(
    decodeWith(field, coerce(type, candidate)),
    (problem) => `${describe(text)} is not a valid ${field.typeName}: ${problem}`
  )
}

/**
 * Reads a field's value from a JSON value (the JSONAdapter): a string for a non-string field is read as
 * text, anything else is converted and decoded.
 *
 * @internal
 */
export const decodeJson = (field: Signature.Field, value: unknown): Either.Either<unknown, string> => {
  if (typeof value === "string" && field.type._tag !== "str") return decodeText(field, value)
  if (field.type._tag === "str" && typeof value === "object" && value !== null) {
    return decodeWith(field, pyJson(value))
  }
  return Either.mapLeft(
    decodeWith(field, coerce(field.type, value)),
    (problem) => `${describe(pyJson(value))} is not a valid ${field.typeName}: ${problem}`
  )
}

/** Output fields not read: `Optional[...]` ones become null in `values`, required ones are returned. */
export const missingOutputs = (signature: Signature.Any, values: Record<string, unknown>): Array<string> => {
  const missing: Array<string> = []
  for (const f of signature.outputFields) {
    if (Object.hasOwn(values, f.name)) continue
    if (f.type._tag === "optional") values[f.name] = null
    else if (!f.optional) missing.push(f.name)
  }
  return missing
}
