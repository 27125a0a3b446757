/**
 * JSON values for the cache: a checked deep copy on the way in (so later changes by the caller never reach the
 * cache, and anything that is not JSON is refused with the path at fault) and a fast deep copy on the way out
 * (so a hit is a fresh value the caller may mutate). Written for plain JSON trees: several times faster than
 * `structuredClone`, which has to handle every structured-cloneable type.
 */

/** A JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** Why a value is not JSON: the path (`$.choices[0].x`) and what is wrong there. */
export interface JsonProblem {
  readonly path: string
  readonly reason: string
}

/** Sets a member; `__proto__` (a legal JSON member name, as `JSON.parse` keeps it) as an own property. */
const put = (out: Record<string, Json>, k: string, v: Json): void => {
  if (k === "__proto__")
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
  else out[k] = v
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * A deep copy of `value` when it is JSON, else the first problem found. Object members whose value is
 * `undefined` are left out (as `JSON.stringify` does); `undefined` anywhere else, non-finite numbers, functions,
 * symbols, bigints, class instances (Date, Map, ...) and cycles are problems.
 */
export const checkedCopy = (value: unknown): { readonly ok: true; readonly value: Json } | JsonProblemResult => {
  const seen = new Set<object>()
  let problem: JsonProblem | undefined
  const go = (v: unknown, path: string): Json | undefined => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return v
      case "number":
        if (Number.isFinite(v)) return v === 0 ? 0 : v // -0 is 0 in JSON (and in L2/L3, which store JSON text)
        problem = { path, reason: `the number ${v} is not JSON` }
        return undefined
      case "object": {
        if (v === null) return null
        if (seen.has(v)) {
          problem = { path, reason: "the value refers to itself (a cycle)" }
          return undefined
        }
        if (Array.isArray(v)) {
          seen.add(v)
          const out = new Array<Json>(v.length)
          for (let i = 0; i < v.length; i++) {
            const item = go(v[i], `${path}[${i}]`)
            if (problem !== undefined) return undefined
            if (item === undefined) {
              problem = { path: `${path}[${i}]`, reason: "undefined is not JSON (use null)" }
              return undefined
            }
            out[i] = item
          }
          seen.delete(v)
          return out
        }
        if (!isPlainObject(v)) {
          const name = (v as { constructor?: { name?: string } }).constructor?.name ?? "unknown"
          problem = { path, reason: `a ${name} instance is not JSON (convert it to plain data first)` }
          return undefined
        }
        seen.add(v)
        const out: Record<string, Json> = {}
        for (const k of Object.keys(v)) {
          const member = (v as Record<string, unknown>)[k]
          if (member === undefined) continue
          const copied = go(member, `${path}.${k}`)
          if (problem !== undefined) return undefined
          put(out, k, copied as Json)
        }
        seen.delete(v)
        return out
      }
      default:
        problem = { path, reason: `a ${typeof v} is not JSON` }
        return undefined
    }
  }
  const copied = go(value, "$")
  if (problem !== undefined) return { ok: false, problem }
  if (copied === undefined) return { ok: false, problem: { path: "$", reason: "undefined is not JSON" } }
  return { ok: true, value: copied }
}

/** The failure branch of {@link checkedCopy}. */
export interface JsonProblemResult {
  readonly ok: false
  readonly problem: JsonProblem
}

/** A deep copy of a JSON value already known to be JSON (no checks). */
export const copyJson = (value: Json): Json => {
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) {
    const out = new Array<Json>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i] as Json)
    return out
  }
  const out: Record<string, Json> = {}
  const record = value as { readonly [key: string]: Json }
  for (const k of Object.keys(record)) put(out, k, copyJson(record[k] as Json))
  return out
}
