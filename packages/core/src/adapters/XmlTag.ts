/**
 * The `<name>` / `</name>` tags that structure XMLAdapter messages, and the escaping that keeps a value from
 * forging one (the XML counterpart of {@link FieldMarker}).
 *
 * A tag is `<`, an optional `/`, one or more word characters (`A-Z a-z 0-9 _`) and `>`. A value is written as it
 * is, except that every tag in it gets one more backslash before its `<` (`<answer>` becomes `\<answer>`,
 * `\<answer>` becomes `\\<answer>`); reading removes exactly one. The escaping is lossless, so a value
 * round-trips whatever it holds, and a structural tag is one with no backslash before it: no tag of an escaped
 * value is structural, so user text can open or close no field. Scanning is linear in the text's length.
 *
 * @example
 * ```ts
 * import { XmlTag } from "@effect-dspy/core"
 *
 * const text = "5</answer><answer>200"
 * XmlTag.escapeValue(text) // "5\\</answer>\\<answer>200": no structural tag
 * XmlTag.unescapeValue(XmlTag.escapeValue(text)) === text // for every string
 * ```
 *
 * @since 0.1.0
 */

const isWord = (c: string | undefined): boolean =>
  c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c === "_")

/**
 * A tag found in a text: its name, whether it closes, and where it starts and ends (`end` is after the `>`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Tag {
  readonly name: string
  readonly closing: boolean
  readonly start: number
  readonly end: number
}

/**
 * The tag starting at `at` (where the text has a `<`), or undefined.
 *
 * @since 0.1.0
 * @category parsing
 */
export const tagAt = (text: string, at: number): Tag | undefined => {
  if (text[at] !== "<") return undefined
  let i = at + 1
  const closing = text[i] === "/"
  if (closing) i++
  const nameStart = i
  while (isWord(text[i])) i++
  if (i === nameStart || text[i] !== ">") return undefined
  return { name: text.slice(nameStart, i), closing, start: at, end: i + 1 }
}

/**
 * The opening tag of a field: `<name>`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const open = (name: string): string => `<${name}>`

/**
 * The closing tag of a field: `</name>`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const close = (name: string): string => `</${name}>`

/**
 * Escapes a value: one more backslash before the `<` of every tag in it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const escapeValue = (value: string): string => {
  if (!value.includes("<")) return value
  let out = ""
  let from = 0
  for (let i = value.indexOf("<"); i >= 0; i = value.indexOf("<", i + 1)) {
    if (tagAt(value, i) === undefined) continue
    out += `${value.slice(from, i)}\\`
    from = i
  }
  return out + value.slice(from)
}

/**
 * Reverses {@link escapeValue}: `unescapeValue(escapeValue(s)) === s` for every string `s`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const unescapeValue = (text: string): string => {
  if (!text.includes("\\<")) return text
  let out = ""
  let from = 0
  for (let i = text.indexOf("\\<"); i >= 0; i = text.indexOf("\\<", i + 1)) {
    if (tagAt(text, i + 1) === undefined) continue
    out += text.slice(from, i)
    from = i + 1
  }
  return out + text.slice(from)
}

/**
 * The structural tags of a text (those with no backslash before them), in order.
 *
 * @since 0.1.0
 * @category parsing
 */
export const structuralTags = (text: string): Array<Tag> => {
  const out: Array<Tag> = []
  for (let i = text.indexOf("<"); i >= 0; i = text.indexOf("<", i + 1)) {
    if (i > 0 && text[i - 1] === "\\") continue
    const tag = tagAt(text, i)
    if (tag !== undefined) out.push(tag)
  }
  return out
}

/**
 * A field read from a message: its name and its value (trimmed, unescaped).
 *
 * @since 0.1.0
 * @category models
 */
export interface Element {
  readonly name: string
  readonly value: string
}

/**
 * The elements of a message in order: each structural `<name>` with the text up to the next structural
 * `</name>` (DSPy's `<(\w+)>(.*?)</\1>`); reading goes on after the closing tag. An opening tag never closed is
 * skipped. Linear in the text's length.
 *
 * @since 0.1.0
 * @category parsing
 */
export const elements = (text: string): Array<Element> => {
  const tags = structuralTags(text)
  // The closing tags of each name in order, with a cursor that only moves forward.
  const closers = new Map<string, { readonly at: Array<Tag>; next: number }>()
  for (const t of tags) {
    if (!t.closing) continue
    const c = closers.get(t.name)
    if (c === undefined) closers.set(t.name, { at: [t], next: 0 })
    else c.at.push(t)
  }
  const out: Array<Element> = []
  let pos = 0
  for (const t of tags) {
    if (t.closing || t.start < pos) continue
    const c = closers.get(t.name)
    if (c === undefined) continue
    while (c.next < c.at.length && c.at[c.next]!.start < t.end) c.next++
    const end = c.at[c.next]
    if (end === undefined) continue
    out.push({ name: t.name, value: unescapeValue(text.slice(t.end, end.start).trim()) })
    pos = end.end
  }
  return out
}

/**
 * A field as the XMLAdapter writes it: `<name>`, the escaped value on its own lines, `</name>`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const element = (name: string, value: string): string => `${open(name)}\n${escapeValue(value)}\n${close(name)}`

/**
 * Incremental {@link unescapeValue} for text arriving in pieces: `push` returns the text that can be told apart
 * so far, `end` the rest; the concatenation equals `unescapeValue` of the whole. A held back `\<name` is
 * released as soon as a character decides it, so each character is handled a bounded number of times.
 *
 * @since 0.1.0
 * @category models
 */
export interface Unescaper {
  readonly push: (text: string) => string
  readonly end: () => string
}

/**
 * A fresh {@link Unescaper}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnescaper = (): Unescaper => {
  // `held` is "" or a run of backslashes, possibly followed by "<", "</", "<name" or "</name".
  let held = ""
  let stage: "none" | "slashes" | "lt" | "slash" | "name" = "none"
  const step = (c: string): string => {
    switch (stage) {
      case "none":
        if (c === "\\") {
          held = c
          stage = "slashes"
          return ""
        }
        return c
      case "slashes":
        if (c === "\\") {
          held += c
          return ""
        }
        if (c === "<") {
          held += c
          stage = "lt"
          return ""
        }
        break
      case "lt":
        if (c === "/") {
          held += c
          stage = "slash"
          return ""
        }
        if (isWord(c)) {
          held += c
          stage = "name"
          return ""
        }
        break
      case "slash":
        if (isWord(c)) {
          held += c
          stage = "name"
          return ""
        }
        break
      case "name":
        if (isWord(c)) {
          held += c
          return ""
        }
        if (c === ">") {
          const out = `${held.slice(1)}>`
          held = ""
          stage = "none"
          return out
        }
        break
    }
    const out = held
    held = ""
    stage = "none"
    return out + step(c)
  }
  return {
    push: (text) => {
      let out = ""
      for (const c of text) out += step(c)
      return out
    },
    end: () => {
      const out = held
      held = ""
      stage = "none"
      return out
    }
  }
}
