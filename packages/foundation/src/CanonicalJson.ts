/**
 * The one canonical JSON of the system, for cache keys, fingerprints and checkpoint keys: the same value gives
 * the same text whatever the order its object keys were written in, in every process and run.
 *
 * The rules, beyond `JSON.stringify`'s:
 * - object keys are sorted (by UTF-16 code units, `Array.prototype.sort`'s order);
 * - members whose value is `undefined`, a function or a symbol are left out (in arrays they become `null`), as
 *   in JSON, so `{ a: 1, b: undefined }` and `{ a: 1 }` are the same;
 * - non-finite numbers become the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON would make them `null`,
 *   which would make `NaN` and `null` the same key); bigints become their decimal string;
 * - a value with `toJSON` (a `Date`, an `Example`) is replaced by what it returns, as in JSON;
 * - a value that contains itself cannot be written: it throws a `TypeError` naming the path.
 *
 * @example
 * ```ts
 * import { CanonicalJson } from "@effect-dspy/foundation"
 *
 * CanonicalJson.stringify({ b: 1, a: [true, undefined] }) // '{"a":[true,null],"b":1}'
 * CanonicalJson.sha256({ a: 1, b: 2 }) === CanonicalJson.sha256({ b: 2, a: 1 }) // true
 * ```
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"

/**
 * Sets a member as an own property. `__proto__` is a legal JSON member name (`JSON.parse` keeps it as an own
 * property); a plain assignment would set the copy's prototype instead and the member would vanish from the text.
 */
const put = (out: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  } else out[key] = value
}

/**
 * A copy in canonical form (sorted keys, the rules above applied); `JSON.stringify` of it is the canonical
 * text. One native `JSON.stringify` over a sorted copy is several times faster than building the string piece
 * by piece, and this runs on every cached LM call.
 */
const canonicalCopy = (value: unknown, ancestors: Array<object>, path: string, inArray: boolean): unknown => {
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? value : String(value)
    case "bigint":
      return value.toString()
    case "undefined":
    case "function":
    case "symbol":
      return inArray ? null : undefined
    case "object": {
      if (value === null) return null
      const withJson = value as { readonly toJSON?: unknown }
      if (typeof withJson.toJSON === "function") {
        return canonicalCopy((withJson.toJSON as () => unknown).call(value), ancestors, path, inArray)
      }
      if (ancestors.includes(value)) {
        throw new TypeError(`CanonicalJson: the value at ${path} contains itself; a cyclic value has no JSON form`)
      }
      ancestors.push(value)
      let out: unknown
      if (Array.isArray(value)) {
        const items = new Array<unknown>(value.length)
        for (let i = 0; i < value.length; i++) items[i] = canonicalCopy(value[i], ancestors, `${path}[${i}]`, true)
        out = items
      } else {
        const record = value as { readonly [key: string]: unknown }
        const keys = Object.keys(record).sort()
        const copy: Record<string, unknown> = {}
        for (const key of keys) {
          const member = canonicalCopy(record[key], ancestors, `${path}.${key}`, false)
          if (member !== undefined) put(copy, key, member)
        }
        out = copy
      }
      ancestors.pop()
      return out
    }
    default:
      return value
  }
}

/**
 * The canonical JSON text of a value (see the module's rules); `undefined` or a function alone gives `"null"`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const stringify = (value: unknown): string => JSON.stringify(canonicalCopy(value, [], "$", true))

/**
 * The canonical JSON of a record without some of its top-level keys (credentials that ride along on a request,
 * say): those keys take no part in the text.
 *
 * @since 0.1.0
 * @category encoding
 */
export const stringifyWithout = (record: object, excluded: ReadonlySet<string>): string => {
  const kept: Record<string, unknown> = {}
  for (const key of Object.keys(record)) {
    if (!excluded.has(key)) put(kept, key, (record as { readonly [key: string]: unknown })[key])
  }
  return stringify(kept)
}

// `crypto.hash` (Node >= 20.12) is a one-shot digest, about twice as fast as `createHash` for short inputs.
const oneShot = (crypto as { readonly hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash

/**
 * The hex sha256 of a text.
 *
 * @since 0.1.0
 * @category hashing
 */
export const sha256Hex = (text: string): string =>
  oneShot !== undefined ? oneShot("sha256", text, "hex") : crypto.createHash("sha256").update(text).digest("hex")

/**
 * The hex sha256 of a value's canonical JSON: a key or fingerprint that ignores key order.
 *
 * @since 0.1.0
 * @category hashing
 */
export const sha256 = (value: unknown): string => sha256Hex(stringify(value))
