/**
 * Tolerant JSON reading for LM answers: code fences, prose around the JSON, trailing commas, missing
 * commas, single-quoted strings, unquoted keys, Python literals (`True`, `False`, `None`), comments, and
 * truncated objects and arrays (closed where they stop; a key without a value is dropped).
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"

class Reader {
  pos = 0
  truncated = false
  constructor(readonly src: string) {}

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
    if (c === "{") return Option.some(this.object())
    if (c === "[") return Option.some(this.array())
    if (c === '"' || c === "'") return Option.some(this.string(c))
    const num = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(this.src.slice(this.pos, this.pos + 64))
    if (num !== null) {
      this.pos += num[0].length
      return Option.some(Number(num[0]))
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos, this.pos + 64))
    if (word !== null) {
      const keywords: Record<string, unknown> = {
        true: true,
        True: true,
        false: false,
        False: false,
        null: null,
        None: null
      }
      if (word[0] in keywords) {
        this.pos += word[0].length
        return Option.some(keywords[word[0]])
      }
      // An unquoted string value: up to the next delimiter on the line.
      const m = /^[^,}\]\n]*/.exec(this.src.slice(this.pos))!
      this.pos += m[0].length
      return Option.some(m[0].trim())
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
    const m = /^[^:,{}[\]\s"']+/.exec(this.src.slice(this.pos))
    if (m === null) return Option.none()
    this.pos += m[0].length
    return Option.some(m[0])
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

const fence = /```[A-Za-z0-9_-]*[ \t]*\r?\n?([\s\S]*?)(?:```|$)/

/**
 * Removes a Markdown code fence around the text, when there is one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const stripFence = (text: string): string => {
  const m = fence.exec(text)
  return m === null ? text : m[1]!
}

/**
 * Reads a whole text as one JSON(-ish) value. Only whitespace may follow the value, so `"5 apples"` is not
 * the number 5.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Option.Option<unknown> => {
  const src = stripFence(text).trim()
  if (src.length === 0) return Option.none()
  const r = new Reader(src)
  const v = r.value()
  r.skip()
  return Option.isSome(v) && r.eof ? v : Option.none()
}

/**
 * Finds and reads the first JSON object in a text (prose around it, a code fence, a truncated end).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseObject = (text: string): Option.Option<Record<string, unknown>> => {
  const src = stripFence(text)
  const whole = parse(src)
  if (Option.isSome(whole) && isRecord(whole.value)) return Option.some(whole.value)
  let from = src.indexOf("{")
  while (from >= 0) {
    const r = new Reader(src.slice(from))
    const v = r.value()
    if (Option.isSome(v) && isRecord(v.value) && Object.keys(v.value).length > 0) return Option.some(v.value)
    from = src.indexOf("{", from + 1)
  }
  return Option.none()
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
