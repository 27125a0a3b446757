/**
 * PII detectors: each finds one kind of personal or secret data in text and validates what it finds (Luhn for
 * cards, mod-97 for IBANs, the SSA's rules for SSNs, calendar dates, libphonenumber for phones). The built-in
 * ones are small scanners that run in linear time on any input; {@link regex} and {@link make} add your own.
 *
 * @example
 * ```ts
 * import { Detector } from "@effect-dspy/core"
 *
 * const findings = Detector.scan("Write to ada@example.com or call +44 20 7946 0958.", Detector.builtins())
 * // [{ kind: "email", start: 9, end: 24 }, { kind: "phone", start: 33, end: 49 }]
 * ```
 *
 * @since 0.1.0
 */
import type { Scan } from "./internal/chars.js"
import * as Scanners from "./internal/scanners.js"

/**
 * The kinds the built-in detectors find.
 *
 * @since 0.1.0
 * @category models
 */
export type BuiltinKind = "email" | "phone" | "card" | "iban" | "ssn" | "ip" | "date_of_birth" | "api_key"

/**
 * Every built-in kind, in the order their detectors run (an earlier kind wins a tie on the same text).
 *
 * @since 0.1.0
 * @category constants
 */
export const builtinKinds: ReadonlyArray<BuiltinKind> = [
  "api_key",
  "email",
  "iban",
  "card",
  "ssn",
  "date_of_birth",
  "ip",
  "phone"
]

/**
 * One piece of PII: its kind and where it sits in the text (`[start, end)` in UTF-16 code units).
 *
 * @since 0.1.0
 * @category models
 */
export interface Finding {
  readonly kind: string
  readonly start: number
  readonly end: number
}

/**
 * A detector: a kind (upper-cased into placeholders such as `<EMAIL_1>`, so letters, digits and `_`) and a scan
 * that reports each match's `[start, end)`, left to right.
 *
 * @since 0.1.0
 * @category models
 */
export interface Detector {
  readonly kind: string
  readonly scan: (text: string, emit: (start: number, end: number) => void) => void
}

const detector = (kind: string, scan: Scan): Detector => ({ kind, scan })

/**
 * E-mail addresses.
 *
 * @since 0.1.0
 * @category detectors
 */
export const email: Detector = detector("email", Scanners.email)

/**
 * Phone numbers valid for libphonenumber: international (`+` and a country code) or of `region` (ISO 3166
 * alpha-2, default `"US"`).
 *
 * @since 0.1.0
 * @category detectors
 */
export const phone = (region = "US"): Detector => detector("phone", Scanners.phone(region))

/**
 * Payment card numbers (13 to 19 digits, Luhn-valid).
 *
 * @since 0.1.0
 * @category detectors
 */
export const card: Detector = detector("card", Scanners.card)

/**
 * IBANs (the country's length, mod-97 valid).
 *
 * @since 0.1.0
 * @category detectors
 */
export const iban: Detector = detector("iban", Scanners.iban)

/**
 * US Social Security numbers (`AAA-GG-SSSS`, or nine digits after "SSN"), valid by the SSA's rules.
 *
 * @since 0.1.0
 * @category detectors
 */
export const ssn: Detector = detector("ssn", Scanners.ssn)

/**
 * IPv4 and IPv6 addresses.
 *
 * @since 0.1.0
 * @category detectors
 */
export const ip: Detector = detector("ip", (text, emit) => {
  Scanners.ipv4(text, emit)
  Scanners.ipv6(text, emit)
})

/**
 * Dates of birth: valid calendar dates with "born", "birth", "DOB" (or the like) just before them.
 *
 * @since 0.1.0
 * @category detectors
 */
export const dateOfBirth: Detector = detector("date_of_birth", Scanners.dateOfBirth)

/**
 * API keys and tokens: known prefixes (`sk-`, `sk-ant-`, `ghp_`, `AKIA`, `xoxb-`, `AIza`, `glpat-`, ...) and
 * high-entropy strings.
 *
 * @since 0.1.0
 * @category detectors
 */
export const apiKey: Detector = detector("api_key", Scanners.apiKey)

/**
 * The built-in detectors (all, or those of `kinds`), in {@link builtinKinds} order.
 *
 * @since 0.1.0
 * @category detectors
 */
export const builtins = (options: { readonly kinds?: ReadonlyArray<string>; readonly region?: string } = {}) => {
  const all: { readonly [K in BuiltinKind]: Detector } = {
    api_key: apiKey,
    email,
    iban,
    card,
    ssn,
    date_of_birth: dateOfBirth,
    ip,
    phone: phone(options.region)
  }
  const wanted = options.kinds === undefined ? undefined : new Set(options.kinds)
  return builtinKinds.filter((k) => wanted === undefined || wanted.has(k)).map((k) => all[k])
}

/**
 * True for a valid detector kind: a lower-case letter, then lower-case letters, digits and `_`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isKind = (kind: string): boolean => {
  if (kind.length === 0 || kind.length > 40) return false
  for (let i = 0; i < kind.length; i++) {
    const c = kind.charCodeAt(i)
    const ok = (c >= 97 && c <= 122) || (i > 0 && ((c >= 48 && c <= 57) || c === 95))
    if (!ok) return false
  }
  return true
}

const checkKind = (kind: string) => {
  if (!isKind(kind))
    throw new TypeError(
      `Detector kind "${kind}" is not valid: use lower-case letters, digits and "_" (it becomes <${kind.toUpperCase()}_1>)`
    )
}

/**
 * A detector from a function that returns the `[start, end)` of each match. The function is yours to keep
 * linear.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (kind: string, find: (text: string) => Iterable<readonly [number, number]>): Detector => {
  checkKind(kind)
  return detector(kind, (text, emit) => {
    for (const [start, end] of find(text)) if (end > start && start >= 0 && end <= text.length) emit(start, end)
  })
}

/**
 * A detector from a regular expression (run with the `g` flag). JavaScript regexes backtrack: give one that
 * `recheck` finds safe (no nested quantifiers), or use {@link make} with a scanner.
 *
 * @since 0.1.0
 * @category constructors
 */
export const regex = (kind: string, pattern: RegExp): Detector => {
  checkKind(kind)
  const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`)
  return detector(kind, (text, emit) => {
    global.lastIndex = 0
    for (const m of text.matchAll(global)) if (m[0].length > 0) emit(m.index, m.index + m[0].length)
  })
}

/**
 * An allow-list: values never reported. An entry starting with `@` allows every e-mail address of that domain
 * (`"@example.com"`); any other entry allows that exact value (ignoring case).
 *
 * @since 0.1.0
 * @category models
 */
export type AllowList = ReadonlyArray<string>

const allowed = (value: string, exact: ReadonlySet<string>, domains: ReadonlyArray<string>): boolean => {
  const lower = value.toLowerCase()
  if (exact.has(lower)) return true
  for (const d of domains) if (lower.endsWith(d)) return true
  return false
}

/**
 * A scanner over several detectors with an allow-list: non-overlapping findings, left to right (on overlap the
 * earlier start wins, then the longer match, then the earlier detector).
 *
 * @since 0.1.0
 * @category constructors
 */
export const scanner = (
  detectors: ReadonlyArray<Detector>,
  allow: AllowList = []
): ((text: string) => ReadonlyArray<Finding>) => {
  const exact = new Set(allow.filter((a) => !a.startsWith("@")).map((a) => a.toLowerCase()))
  const domains = allow.filter((a) => a.startsWith("@")).map((a) => a.toLowerCase())
  const filtering = exact.size > 0 || domains.length > 0
  return (text) => {
    const found: Array<Finding & { readonly order: number }> = []
    for (let d = 0; d < detectors.length; d++) {
      const { kind, scan } = detectors[d]!
      scan(text, (start, end) => {
        if (!filtering || !allowed(text.slice(start, end), exact, domains)) found.push({ kind, start, end, order: d })
      })
    }
    if (found.length === 0) return []
    found.sort((a, b) => a.start - b.start || b.end - a.end || a.order - b.order)
    const out: Array<Finding> = []
    let reached = 0
    for (const f of found) {
      if (f.start < reached) continue
      out.push({ kind: f.kind, start: f.start, end: f.end })
      reached = f.end
    }
    return out
  }
}

/**
 * The findings of the detectors in a text (see {@link scanner}).
 *
 * @since 0.1.0
 * @category scanning
 */
export const scan = (text: string, detectors: ReadonlyArray<Detector>, allow: AllowList = []): ReadonlyArray<Finding> =>
  scanner(detectors, allow)(text)

/**
 * The Luhn checksum of a digit string (payment cards).
 *
 * @since 0.1.0
 * @category validation
 */
export const luhn: (digits: string) => boolean = Scanners.luhn

/**
 * The ISO 7064 mod-97 check of a compact upper-case IBAN.
 *
 * @since 0.1.0
 * @category validation
 */
export const ibanChecksum: (iban: string) => boolean = Scanners.ibanChecksum

/**
 * The SSA's rules for a nine-digit US Social Security number.
 *
 * @since 0.1.0
 * @category validation
 */
export const validSsn: (digits: string) => boolean = Scanners.validSsn
