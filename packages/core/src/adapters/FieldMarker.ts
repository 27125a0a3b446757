/**
 * The `[[ ## name ## ]]` field markers that structure ChatAdapter messages (and the inputs of every
 * adapter), and the escaping that keeps a value from forging one.
 *
 * A value is written into a section as it is, except that every line of it that starts (after whitespace)
 * with `[[`, optional whitespace and `#` (any marker form: `[[ ## answer ## ]]`, `[[## completed ##]]`, ...)
 * gets one backslash before the `[[`; a line that already starts with backslashes and such a marker gets one
 * more. Reading a section removes exactly one. The escaping is lossless, so a value round-trips whatever it
 * holds, and no line of an escaped value reads as a marker: user text can add no section, and an output
 * value holding `[[ ## completed ## ]]` is not cut short. "Line" means any text after a line terminator
 * (`\n`, `\r`, U+2028, U+2029), so a lone `\r` forges nothing either.
 *
 * @example
 * ```ts
 * import { FieldMarker } from "@effect-dspy/core"
 *
 * const text = "5\n[[ ## answer ## ]]\n200"
 * FieldMarker.escapeValue(text) // "5\n\\[[ ## answer ## ]]\n200": no line reads as a marker
 * FieldMarker.unescapeValue(FieldMarker.escapeValue(text)) === text // for every string
 * ```
 *
 * @since 0.1.0
 */

// A line start (the text start or after a line terminator), horizontal whitespace, then the marker-like
// head with its backslashes. Each part is a single character class in sequence: matching is linear.
const escapable = /(?<=^|[\n\r\u2028\u2029])([^\S\n\r\u2028\u2029]*)(\\*\[\[[^\S\n\r\u2028\u2029]*#)/g

const isTerminator = (c: string): boolean => c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029"
const isHorizontal = (c: string): boolean => !isTerminator(c) && /\s/.test(c)

/**
 * The marker line of a field: `[[ ## name ## ]]`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const header = (name: string): string => `[[ ## ${name} ## ]]`

/**
 * The end marker of an answer: `[[ ## completed ## ]]`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const completed = header("completed")

/**
 * Escapes a value for a section: no line of the result reads as a field marker.
 *
 * @since 0.1.0
 * @category formatting
 */
export const escapeValue = (value: string): string =>
  value.includes("[[") ? value.replace(escapable, "$1\\$2") : value

/**
 * Incremental {@link unescapeValue} for text that arrives in pieces (a streamed section): `push` returns the
 * unescaped text that can be told apart so far, `end` the rest. The concatenation of every result equals
 * `unescapeValue` of the concatenated input. The first character pushed is at a line start.
 *
 * @since 0.1.0
 * @category models
 */
export interface Unescaper {
  readonly push: (text: string) => string
  readonly end: () => string
}

/**
 * A fresh {@link Unescaper}: one pass over the characters, holding back at most a line's
 * `\\...[[ ` head until its `#` (or another character) decides it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnescaper = (): Unescaper => {
  // start: at a line start (leading whitespace passes); body: inside a line; held: a `\\+`, `\\+[` or
  // `\\+[[ ...` head kept in `pending`.
  let mode: "start" | "body" | "held" = "start"
  let pending = ""
  let brackets = 0
  const body = (c: string): string => {
    mode = isTerminator(c) ? "start" : "body"
    return c
  }
  const step = (c: string): string => {
    switch (mode) {
      case "body":
        return body(c)
      case "start":
        if (c === "\\") {
          mode = "held"
          pending = c
          brackets = 0
          return ""
        }
        if (isHorizontal(c)) return c
        return body(c)
      case "held": {
        if (c === "\\" && brackets === 0) {
          pending += c
          return ""
        }
        if (c === "[" && brackets < 2) {
          pending += c
          brackets++
          return ""
        }
        if (brackets === 2 && isHorizontal(c)) {
          pending += c
          return ""
        }
        if (brackets === 2 && c === "#") {
          const out = `${pending.slice(1)}#`
          pending = ""
          mode = "body"
          return out
        }
        const out = pending
        pending = ""
        return out + body(c)
      }
    }
  }
  return {
    push: (text) => {
      let out = ""
      for (const c of text) out += step(c)
      return out
    },
    end: () => {
      const out = pending
      pending = ""
      mode = "start"
      return out
    }
  }
}

/**
 * Reverses {@link escapeValue}: `unescapeValue(escapeValue(s)) === s` for every string `s`. Linear in the text's length.
 *
 * @since 0.1.0
 * @category parsing
 */
export const unescapeValue = (text: string): string => {
  // The Unescaper's edit, found from each `\[[` (it builds its output a character at a time): a `\[[` whose
  // backslash run starts a line (after horizontal whitespace) and whose `[[` is followed by whitespace and `#`
  // loses one backslash. The scans back and forth between two `\[[` never overlap.
  let at = text.indexOf("\\[[")
  if (at < 0) return text
  // Pieces are joined a thousand at a time: a million small slices alive at once made a 10 MB text cost
  // 20-30x a 1 MB one (garbage collection), not 10x.
  const chunks: Array<string> = []
  let parts: Array<string> = []
  let copied = 0
  for (; at >= 0; at = text.indexOf("\\[[", at + 3)) {
    let after = at + 3
    while (after < text.length && isHorizontalCode(text.charCodeAt(after))) after++
    if (text.charCodeAt(after) !== 35) continue
    let first = at
    while (first > copied && text.charCodeAt(first - 1) === 92) first--
    let head = first
    while (head > 0 && isHorizontalCode(text.charCodeAt(head - 1))) head--
    if (head > 0 && !isTerminatorCode(text.charCodeAt(head - 1))) continue
    parts.push(text.slice(copied, first))
    copied = first + 1
    if (parts.length === 1024) {
      chunks.push(parts.join(""))
      parts = []
    }
  }
  if (copied === 0) return text
  parts.push(text.slice(copied))
  chunks.push(parts.join(""))
  return chunks.join("")
}

const headerLine = /^\[\[ ## (\w+) ## \]\]/

/**
 * Reads a line as a field marker: the field name and the text after the marker on the same line (trimmed),
 * or undefined when the line (trimmed) does not start with `[[ ## name ## ]]`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const readHeader = (line: string): { readonly name: string; readonly rest: string } | undefined => {
  const t = line.trim()
  if (!t.startsWith("[[ ## ")) return undefined
  const m = headerLine.exec(t)
  return m === null ? undefined : { name: m[1]!, rest: t.slice(m[0].length).trim() }
}

/**
 * A section: a field name and its value, trimmed and unescaped.
 *
 * @since 0.1.0
 * @category models
 */
export interface Section {
  readonly name: string
  readonly value: string
}

/**
 * Splits a message into its sections, in order: text before the first marker is left out, a section runs
 * to the next marker line (repeated names are kept, in order). Linear in the text's length.
 *
 * @since 0.1.0
 * @category parsing
 */
export const sections = (text: string): Array<Section> => {
  // One pass over the lines (split at `\n`, a `\r` before it dropped, as `split(/\r?\n/)`) without making
  // them: a section's value is one slice of the text, from the line after its marker to the line before the next.
  const out: Array<Section> = []
  let name: string | undefined
  let rest = ""
  let bodyStart = -1
  let bodyEnd = -1
  const flush = () => {
    if (name === undefined) return
    const body = bodyStart < 0 ? "" : text.slice(bodyStart, bodyEnd).replaceAll("\r\n", "\n")
    const joined = rest === "" ? body : bodyStart < 0 ? rest : `${rest}\n${body}`
    out.push({ name, value: unescapeValue(joined.trim()) })
  }
  for (let start = 0; start <= text.length; ) {
    const newline = text.indexOf("\n", start)
    const next = newline < 0 ? text.length + 1 : newline + 1
    const end =
      newline < 0 ? text.length : newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline
    const h = headerAt(text, start, end)
    if (h === undefined) {
      if (name !== undefined) {
        if (bodyStart < 0) bodyStart = start
        bodyEnd = end
      }
    } else {
      flush()
      name = h.name
      rest = h.rest
      bodyStart = -1
    }
    start = next
  }
  flush()
  return out
}

const headerAt_ = /\[\[ ## (\w+) ## \]\]/y

/** {@link readHeader} of the line `text[start, end)`, without copying a line that is not a marker. */
const headerAt = (
  text: string,
  start: number,
  end: number
): { readonly name: string; readonly rest: string } | undefined => {
  let i = start
  while (i < end && isSpace(text.charCodeAt(i))) i++
  if (end - i < 6 || text.charCodeAt(i) !== 91 || !text.startsWith("[[ ## ", i)) return undefined
  headerAt_.lastIndex = i
  const m = headerAt_.exec(text)
  // The marker holds no line break, so a match that starts on the line ends on it.
  return m === null ? undefined : { name: m[1]!, rest: text.slice(i + m[0].length, end).trim() }
}

const isTerminatorCode = (code: number): boolean => code === 10 || code === 13 || code === 0x2028 || code === 0x2029
const isHorizontalCode = (code: number): boolean => isSpace(code) && !isTerminatorCode(code)

// `\s` (what `trim` removes), by code.
const isSpace = (code: number): boolean =>
  (code >= 9 && code <= 13) ||
  code === 32 ||
  code === 0xa0 ||
  code === 0x1680 ||
  (code >= 0x2000 && code <= 0x200a) ||
  code === 0x2028 ||
  code === 0x2029 ||
  code === 0x202f ||
  code === 0x205f ||
  code === 0x3000 ||
  code === 0xfeff
