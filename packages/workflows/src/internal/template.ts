/**
 * Templates: `{name.path}` placeholders over a scope (the run's inputs as `inputs`, each finished step's outputs
 * by its id, a map's item). `{{` and `}}` are literal braces. A binding that is exactly one placeholder keeps
 * the value's type; anything else renders to text.
 */

/** One placeholder: its reference (`inputs.query`) split into parts, and where it sits in the template. */
export interface Placeholder {
  readonly ref: string
  readonly parts: ReadonlyArray<string>
  readonly start: number
  readonly end: number
}

const isIdStart = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_"
const isIdChar = (c: string) =>
  isIdStart(c) || (c >= "0" && c <= "9") || c === "-" || c === "." || c === "[" || c === "]"

/**
 * The placeholders of a template, in order (a linear scan: `{` followed by an identifier path and `}`; other
 * braces, e.g. of a JSON example in a prompt, are text).
 */
export const placeholders = (template: string): ReadonlyArray<Placeholder> => {
  let known = parsed.get(template)
  if (known === undefined) {
    // Templates come from workflow files (a bounded set): each is scanned once, not at every step that binds it.
    if (parsed.size >= 10_000) parsed.clear()
    known = scan(template)
    parsed.set(template, known)
  }
  return known
}

const parsed = new Map<string, ReadonlyArray<Placeholder>>()

const scan = (template: string): ReadonlyArray<Placeholder> => {
  const out: Array<Placeholder> = []
  let i = 0
  while (i < template.length) {
    const c = template[i]!
    if (c === "{" && template[i + 1] === "{") {
      i += 2
      continue
    }
    if (c === "{" && i + 1 < template.length && isIdStart(template[i + 1]!)) {
      let j = i + 1
      while (j < template.length && isIdChar(template[j]!)) j++
      if (template[j] === "}") {
        const ref = template.slice(i + 1, j)
        out.push({ ref, parts: splitRef(ref), start: i, end: j + 1 })
        i = j + 1
        continue
      }
    }
    i++
  }
  return out
}

/** `a.b[2].c` as `["a", "b", "2", "c"]`. */
export const splitRef = (ref: string): ReadonlyArray<string> =>
  ref
    .replaceAll("[", ".")
    .replaceAll("]", "")
    .split(".")
    .filter((p) => p !== "")

/** Whether the template is exactly one placeholder (its value keeps its type). */
export const single = (template: string): Placeholder | undefined => {
  const all = placeholders(template)
  return all.length === 1 && all[0]!.start === 0 && all[0]!.end === template.length ? all[0] : undefined
}

/** The scope a template reads: names to values. */
export type Scope = { readonly [name: string]: unknown }

/** A value at `parts` in the scope: `found: false` when a part is missing. */
export const lookup = (
  scope: Scope,
  parts: ReadonlyArray<string>
): { readonly found: true; readonly value: unknown } | { readonly found: false; readonly missing: string } => {
  let value: unknown = scope
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, part)) {
      return { found: false, missing: parts.slice(0, k + 1).join(".") }
    }
    value = (value as Record<string, unknown>)[part]
  }
  return { found: true, value }
}

/** A value rendered into text (strings as they are, the rest as JSON). */
export const text = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value))

/**
 * A binding's value: a single placeholder keeps its value's type; a string with placeholders renders to text;
 * a literal (number, list, ...) is itself. Fails (`Left`) with the first reference that has no value.
 */
export const resolve = (
  binding: unknown,
  scope: Scope
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly missing: string } => {
  if (typeof binding !== "string") return { ok: true, value: binding }
  const one = single(binding)
  if (one !== undefined) {
    const found = lookup(scope, one.parts)
    return found.found ? { ok: true, value: found.value } : { ok: false, missing: one.ref }
  }
  const all = placeholders(binding)
  let out = ""
  let at = 0
  for (const p of all) {
    const found = lookup(scope, p.parts)
    if (!found.found) return { ok: false, missing: p.ref }
    out += unescapeBraces(binding.slice(at, p.start)) + text(found.value)
    at = p.end
  }
  return { ok: true, value: out + unescapeBraces(binding.slice(at)) }
}

const unescapeBraces = (s: string): string => s.replaceAll("{{", "{").replaceAll("}}", "}")
