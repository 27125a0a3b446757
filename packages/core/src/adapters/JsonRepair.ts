/**
 * Tolerant JSON reading for LM answers: code fences, prose around the JSON, trailing commas, missing
 * commas, single-quoted strings, unquoted keys, Python literals (`True`, `False`, `None`), comments, and
 * truncated objects and arrays (closed where they stop; a key without a value is dropped). Text that is
 * valid JSON is read exactly (so a string holding a code fence or braces stays whole); reading is linear in
 * the text's length and nesting deeper than {@link maxDepth} reads as nothing.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"

/**
 * The deepest nesting of arrays and objects read: deeper JSON reads as nothing (callers report a typed
 * error), so no value too deep for recursive code downstream gets through.
 *
 * @since 0.1.0
 * @category models
 */
export const maxDepth = 256

class TooDeep {
  readonly _tag = "TooDeep"
}

const NUMBER = /-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/y
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y
const UNQUOTED = /[^,}\]\n]*/y
const KEY = /[^:,{}[\]\s"']+/y

const sticky = (re: RegExp, src: string, pos: number): string | undefined => {
  re.lastIndex = pos
  const m = re.exec(src)
  return m === null ? undefined : m[0]
}

class Reader {
  truncated = false
  depth = 0
  constructor(
    readonly src: string,
    public pos = 0
  ) {}

  get eof(): boolean {
    return this.pos >= this.src.length
  }

  skip(): void {
    for (;;) {
      while (!this.eof && /\s/.test(this.src[this.pos]!)) this.pos++
      if (this.src.startsWith("//", this.pos)) {
        const nl = this.src.indexOf("\n", this.pos)
        this.pos = nl < 0 ? this.src.length : nl + 1
      } else if (this.src.startsWith("/*", this.pos)) {
        const end = this.src.indexOf("*/", this.pos + 2)
        this.pos = end < 0 ? this.src.length : end + 2
      } else return
    }
  }

  value(): Option.Option<unknown> {
    this.skip()
    if (this.eof) {
      this.truncated = true
      return Option.none()
    }
    const c = this.src[this.pos]!
    if (c === "{" || c === "[") {
      if (++this.depth > maxDepth) throw new TooDeep()
      const v = c === "{" ? this.object() : this.array()
      this.depth--
      return Option.some(v)
    }
    if (c === '"' || c === "'") return Option.some(this.string(c))
    const num = sticky(NUMBER, this.src, this.pos)
    if (num !== undefined) {
      this.pos += num.length
      return Option.some(Number(num))
    }
    const word = sticky(WORD, this.src, this.pos)
    if (word !== undefined) {
      const keywords: Record<string, unknown> = {
        true: true,
        True: true,
        false: false,
        False: false,
        null: null,
        None: null
      }
      if (Object.hasOwn(keywords, word)) {
        this.pos += word.length
        return Option.some(keywords[word])
      }
      // An unquoted string value: up to the next delimiter on the line.
      const m = sticky(UNQUOTED, this.src, this.pos)!
      this.pos += m.length
      return Option.some(m.trim())
    }
    return Option.none()
  }

  string(quote: string): string {
    this.pos++
    let out = ""
    while (!this.eof) {
      const c = this.src[this.pos]!
      if (c === quote) {
        this.pos++
        return out
      }
      if (c === "\\") {
        const n = this.src[this.pos + 1]
        if (n === undefined) {
          this.pos++
          break
        }
        const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", "/": "/" }
        if (n === "u") {
          const hex = this.src.slice(this.pos + 2, this.pos + 6)
          if (/^[0-9a-fA-F]{4}$/.test(hex)) {
            out += String.fromCharCode(Number.parseInt(hex, 16))
            this.pos += 6
            continue
          }
          if (this.pos + 6 > this.src.length) {
            this.pos = this.src.length
            break
          }
        }
        out += simple[n] ?? n
        this.pos += 2
        continue
      }
      out += c
      this.pos++
    }
    this.truncated = true
    return out
  }

  key(): Option.Option<string> {
    this.skip()
    const c = this.src[this.pos]
    if (c === '"' || c === "'") return Option.some(this.string(c))
    const m = sticky(KEY, this.src, this.pos)
    if (m === undefined) return Option.none()
    this.pos += m.length
    return Option.some(m)
  }

  object(): Record<string, unknown> {
    this.pos++
    const out: Record<string, unknown> = {}
    for (;;) {
      this.skip()
      while (this.src[this.pos] === ",") {
        this.pos++
        this.skip()
      }
      if (this.eof) {
        this.truncated = true
        return out
      }
      if (this.src[this.pos] === "}") {
        this.pos++
        return out
      }
      const start = this.pos
      const key = this.key()
      if (Option.isNone(key)) {
        // Unreadable content: skip one character and try again.
        this.pos = start + 1
        continue
      }
      this.skip()
      if (this.src[this.pos] === ":" || this.src[this.pos] === "=") this.pos++
      else if (this.eof) {
        this.truncated = true
        return out
      }
      const value = this.value()
      if (Option.isNone(value)) {
        if (this.eof) return out
        this.pos++
        continue
      }
      setOwn(out, key.value, value.value)
    }
  }

  array(): Array<unknown> {
    this.pos++
    const out: Array<unknown> = []
    for (;;) {
      this.skip()
      while (this.src[this.pos] === ",") {
        this.pos++
        this.skip()
      }
      if (this.eof) {
        this.truncated = true
        return out
      }
      if (this.src[this.pos] === "]") {
        this.pos++
        return out
      }
      const value = this.value()
      if (Option.isNone(value)) {
        if (this.eof) return out
        this.pos++
        continue
      }
      out.push(value.value)
    }
  }
}

// Plain assignment of `__proto__` would replace the prototype instead of adding a key.
const setOwn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

// A fence opens at a line start: "```", an info string, spaces, the end of that line.
const fenceStart = (text: string): number => {
  let at = text.indexOf("```")
  while (at >= 0) {
    let i = at - 1
    while (i >= 0 && (text[i] === " " || text[i] === "\t")) i--
    if (i < 0 || text[i] === "\n") return at
    at = text.indexOf("```", at + 3)
  }
  return -1
}

/**
 * Removes a Markdown code fence around the text, when there is one: the text between the first fence that
 * opens a line and the next fence (or the end).
 *
 * @since 0.1.0
 * @category parsing
 */
export const stripFence = (text: string): string => {
  const at = fenceStart(text)
  if (at < 0) return text
  let i = at + 3
  while (i < text.length && /[A-Za-z0-9_-]/.test(text[i]!)) i++
  while (text[i] === " " || text[i] === "\t") i++
  if (text[i] === "\r") i++
  if (text[i] === "\n") i++
  const close = text.indexOf("```", i)
  return close < 0 ? text.slice(i) : text.slice(i, close)
}

// Nesting of brackets outside strings, up to the first place it passes the limit (linear).
const tooDeep = (text: string): boolean => {
  let depth = 0
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote !== undefined) {
      if (c === "\\") i++
      else if (c === quote) quote = undefined
    } else if (c === '"') quote = c
    else if (c === "{" || c === "[") {
      if (++depth > maxDepth) return true
    } else if (c === "}" || c === "]") depth = Math.max(0, depth - 1)
  }
  return false
}

// Valid JSON is read exactly, before any repair (fast, and a fence inside a string stays whole).
const strict = (text: string): Option.Option<unknown> => {
  const t = text.trim()
  const c = t[0]
  if (
    c === undefined ||
    !(c === "{" || c === "[" || c === '"' || c === "-" || (c >= "0" && c <= "9") || c === "t" || c === "f" || c === "n")
  ) {
    return Option.none()
  }
  if ((c === "{" || c === "[") && tooDeep(t)) return Option.none()
  try {
    return Option.some(JSON.parse(t) as unknown)
  } catch {
    return Option.none()
  }
}

const tolerant = <A>(read: () => A): Option.Option<A> => {
  try {
    return Option.some(read())
  } catch (e) {
    if (e instanceof TooDeep) return Option.none()
    throw e
  }
}

/**
 * Whether a text nests arrays or objects deeper than {@link maxDepth} (outside strings): such text reads as
 * nothing, and callers can say why.
 *
 * @since 0.1.0
 * @category parsing
 */
export const isTooDeep = (text: string): boolean => tooDeep(text)

/**
 * Reads a whole text as one JSON(-ish) value. Only whitespace may follow the value, so `"5 apples"` is not
 * the number 5.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Option.Option<unknown> => {
  const exact = strict(text)
  if (Option.isSome(exact)) return exact
  const src = stripFence(text).trim()
  if (src.length === 0) return Option.none()
  return Option.flatten(
    tolerant(() => {
      const r = new Reader(src)
      const v = r.value()
      r.skip()
      return Option.isSome(v) && r.eof ? v : Option.none()
    })
  )
}

/**
 * Finds and reads the first JSON object in a text (prose around it, a code fence, a truncated end).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseObject = (text: string): Option.Option<Record<string, unknown>> => {
  const exact = strict(text)
  if (Option.isSome(exact)) return isRecord(exact.value) ? Option.some(exact.value) : Option.none()
  const src = stripFence(text)
  const whole = parse(src)
  if (Option.isSome(whole) && isRecord(whole.value)) return Option.some(whole.value)
  // Candidates start at each "{" after the text the previous one read: every character is read once.
  let from = src.indexOf("{")
  while (from >= 0) {
    const start = from
    const r = new Reader(src, start)
    const v = tolerant(() => r.value())
    if (Option.isNone(v)) return Option.none()
    if (Option.isSome(v.value) && isRecord(v.value.value) && Object.keys(v.value.value).length > 0) {
      return Option.some(v.value.value)
    }
    from = src.indexOf("{", Math.max(start + 1, r.pos))
  }
  return Option.none()
}
