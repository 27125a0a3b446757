/**
 * Reading a prompt step's output fields from a plain LM reply: one field takes the reply (or its last
 * `Answer:` line), several are read from the JSON object in the reply; each value is coerced to its declared
 * type or the reply is refused with what was expected.
 */
import * as Either from "effect/Either"
import * as T from "./types.js"

const answerLine = (text: string): string => {
  const lines = text.split("\n")
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (line.toLowerCase().startsWith("answer:")) return line.slice("answer:".length).trim()
  }
  return text.trim()
}

const jsonIn = (text: string): unknown => {
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  if (start < 0 || end <= start) return undefined
  try {
    return JSON.parse(text.slice(start, end + 1)) as unknown
  } catch {
    return undefined
  }
}

const firstNumber = (text: string): number | undefined => {
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (
      (c >= "0" && c <= "9") ||
      (c === "-" && text[i + 1] !== undefined && text[i + 1]! >= "0" && text[i + 1]! <= "9")
    ) {
      let j = i + 1
      while (j < text.length && ((text[j]! >= "0" && text[j]! <= "9") || text[j] === ".")) j++
      const n = Number(text.slice(i, j))
      if (Number.isFinite(n)) return n
      i = j
    } else i++
  }
  return undefined
}

/** A value of the type from a piece of reply (text, or a JSON value already parsed). */
export const coerce = (value: unknown, type: T.Type): Either.Either<unknown, string> => {
  if (type._tag === "optional")
    return value === null || value === undefined ? Either.right(null) : coerce(value, type.inner)
  if (T.check(value, type)) return Either.right(value)
  const text = typeof value === "string" ? value.trim() : JSON.stringify(value)
  switch (type._tag) {
    case "str":
      return Either.right(text)
    case "int":
    case "float": {
      const n = firstNumber(text)
      if (n === undefined) return Either.left(`expected a number, the reply says "${text.slice(0, 80)}"`)
      return Either.right(type._tag === "int" ? Math.round(n) : n)
    }
    case "bool": {
      const t = text.toLowerCase()
      if (t.startsWith("true") || t.startsWith("yes")) return Either.right(true)
      if (t.startsWith("false") || t.startsWith("no")) return Either.right(false)
      return Either.left(`expected true or false, the reply says "${text.slice(0, 80)}"`)
    }
    case "literal": {
      const lower = text.toLowerCase()
      let best: { value: unknown; at: number } | undefined
      for (const v of type.values) {
        const at = lower.indexOf(String(v).toLowerCase())
        if (at >= 0 && (best === undefined || at < best.at)) best = { value: v, at }
      }
      return best === undefined
        ? Either.left(`expected one of ${type.values.map(String).join(", ")}, the reply says "${text.slice(0, 80)}"`)
        : Either.right(best.value)
    }
    default: {
      let v: unknown = value
      if (typeof value === "string") {
        try {
          v = JSON.parse(value.trim()) as unknown
        } catch {
          v = jsonIn(value)
        }
      }
      return v !== undefined && T.check(v, type)
        ? Either.right(v)
        : Either.left(`expected ${T.show(type)} (JSON), the reply says "${text.slice(0, 80)}"`)
    }
  }
}

/** The output fields from a reply. */
export const read = (
  reply: string,
  outputs: { readonly [name: string]: T.Type }
): Either.Either<{ readonly [name: string]: unknown }, string> => {
  const names = Object.keys(outputs)
  if (names.length === 1) {
    const name = names[0]!
    return Either.map(coerce(answerLine(reply), outputs[name]!), (v) => ({ [name]: v }))
  }
  const json = jsonIn(reply)
  if (typeof json !== "object" || json === null) {
    return Either.left(`expected a JSON object with ${names.join(", ")} in the reply`)
  }
  const out: Record<string, unknown> = {}
  for (const name of names) {
    const v = (json as Record<string, unknown>)[name]
    if (v === undefined) return Either.left(`the reply's JSON has no "${name}"`)
    const c = coerce(v, outputs[name]!)
    if (Either.isLeft(c)) return Either.left(`${name}: ${c.left}`)
    out[name] = c.right
  }
  return Either.right(out)
}
