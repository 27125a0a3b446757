/**
 * The built-in PII scanners: small hand-written scanners with validation (Luhn, mod-97, SSN rules, calendar
 * dates, libphonenumber), no backtracking regexes. Each visits every character a bounded number of times.
 */
import { isValidPhoneNumber, type CountryCode } from "libphonenumber-js/max"
import { isIPv6 } from "node:net"
import { at, before, digitGroups, isAlnum, isAlpha, isDigit, isHex, isLower, isUpper, type Scan } from "./chars.js"

// ---------------------------------------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------------------------------------

const isLocalChar = (c: number): boolean =>
  isAlnum(c) || c === 46 /* . */ || c === 95 /* _ */ || c === 37 /* % */ || c === 43 /* + */ || c === 45 /* - */
const isDomainChar = (c: number): boolean => isAlnum(c) || c === 46 || c === 45

/** `local@domain.tld`: a local part of at most 64 characters, a domain of at most 253 with a letters-only TLD. */
export const email: Scan = (text, emit) => {
  const n = text.length
  let from = 0
  for (;;) {
    const i = text.indexOf("@", from)
    if (i < 0) return
    from = i + 1
    let s = i
    while (s > 0 && i - s < 64 && isLocalChar(text.charCodeAt(s - 1))) s--
    while (s < i && text.charCodeAt(s) === 46) s++
    if (s === i || text.charCodeAt(i - 1) === 46) continue
    let e = i + 1
    while (e < n && e - i <= 253 && isDomainChar(text.charCodeAt(e))) e++
    while (e > i + 1 && (text.charCodeAt(e - 1) === 46 || text.charCodeAt(e - 1) === 45)) e--
    if (!validDomain(text, i + 1, e)) continue
    emit(s, e)
    from = e
  }
}

const validDomain = (text: string, start: number, end: number): boolean => {
  let labels = 0
  let labelStart = start
  let lastLabelLetters = true
  for (let j = start; j <= end; j++) {
    if (j === end || text.charCodeAt(j) === 46) {
      if (j === labelStart) return false
      labels++
      lastLabelLetters = true
      for (let k = labelStart; k < j; k++) if (!isAlpha(text.charCodeAt(k))) lastLabelLetters = false
      if (lastLabelLetters && j - labelStart < 2) lastLabelLetters = false
      labelStart = j + 1
    }
  }
  return labels >= 2 && lastLabelLetters
}

// ---------------------------------------------------------------------------------------------------------
// Numbers: payment cards, SSNs, phones, IPv4, dates of birth
// ---------------------------------------------------------------------------------------------------------

/** Visits each maximal run of digit groups that starts at a word boundary; the scan resumes after the run. */
const eachRun = (
  text: string,
  isSeparator: (c: number) => boolean,
  maxGroups: number,
  maxChars: number,
  visit: (run: ReturnType<typeof digitGroups>, start: number) => void,
  unbounded?: (run: ReturnType<typeof digitGroups>, left: boolean, right: boolean) => void
) => {
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (!isDigit(c)) {
      i++
      continue
    }
    const prev = at(text, i - 1)
    const run = digitGroups(text, i, isSeparator, maxGroups, maxChars)
    const left = !isAlpha(prev) && prev !== 95
    const right = !isAlnum(at(text, run.end))
    if (left && right) visit(run, i)
    else unbounded?.(run, left, right)
    i = Math.max(run.end, i + 1)
  }
}

const digitsOf = (text: string, run: ReturnType<typeof digitGroups>): string => {
  let out = ""
  for (const [s, e] of run.groups) out += text.slice(s, e)
  return out
}

/** The Luhn checksum of a digit string. */
export const luhn = (digits: string): boolean => {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

const isSpaceOrDash = (c: number): boolean => c === 32 || c === 45

/**
 * Payment cards: 13-19 digits (groups joined by one kind of separator, spaces or dashes), a card network's first
 * digit, Luhn-valid. A longer run of groups (two numbers in a row) is read as consecutive groups, leftmost and
 * longest first.
 */
export const card: Scan = (text, emit) => {
  const windows = (run: ReturnType<typeof digitGroups>, left: boolean, right: boolean) => {
    if (run.tooLong) return
    const groups = run.groups
    const last = right ? groups.length - 1 : groups.length - 2
    let g = left && at(text, groups[0]![0] - 1) !== 45 ? 0 : 1
    while (g <= last) {
      let found = -1
      let digits = ""
      let through = g
      for (let h = g; h <= last; h++) {
        if (h > g + 1 && run.separators[h - 1] !== run.separators[g]) break
        digits += text.slice(groups[h]![0], groups[h]![1])
        if (digits.length > 19) break
        const first = digits.charCodeAt(0) - 48
        if (digits.length >= 13 && first >= 2 && first <= 6 && luhn(digits)) {
          found = groups[h]![1]
          through = h
        }
      }
      if (found > 0) {
        emit(groups[g]![0], found)
        g = through + 1
      } else g++
    }
  }
  eachRun(text, isSpaceOrDash, 16, 80, (run) => windows(run, true, true), windows)
}

/** Area numbers the SSA never assigns, and numbers published as examples. */
const invalidSsns = new Set(["078051120", "219099999", "123456789"])

/** The SSA's rules for a US Social Security number: area 001-899 but 666, group 01-99, serial 0001-9999. */
export const validSsn = (digits: string): boolean => {
  if (digits.length !== 9 || invalidSsns.has(digits)) return false
  const area = Number(digits.slice(0, 3))
  const group = Number(digits.slice(3, 5))
  const serial = Number(digits.slice(5))
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0
}

const ssnContext = ["ssn", "social security", "soc. sec", "ss#", "ss #"]

/** US SSNs: `AAA-GG-SSSS` (dashes or spaces), or nine digits right after a word like "SSN". */
export const ssn: Scan = (text, emit) =>
  eachRun(text, isSpaceOrDash, 4, 12, (run, start) => {
    if (run.tooLong) return
    const lengths = run.groups.map(([s, e]) => e - s)
    const grouped =
      lengths.length === 3 &&
      lengths[0] === 3 &&
      lengths[1] === 2 &&
      lengths[2] === 4 &&
      run.separators[0] === run.separators[1]
    const bare = lengths.length === 1 && lengths[0] === 9 && ssnContext.some((w) => before(text, start, 24).includes(w))
    if ((grouped || bare) && validSsn(digitsOf(text, run))) emit(start, run.end)
  })

const isDot = (c: number): boolean => c === 46

/** IPv4 addresses: four dot-separated numbers 0-255 without leading zeros. */
export const ipv4: Scan = (text, emit) =>
  eachRun(text, isDot, 5, 16, (run, start) => {
    if (run.tooLong || run.groups.length !== 4 || at(text, start - 1) === 46) return
    for (const [s, e] of run.groups) {
      if (e - s > 3 || (e - s > 1 && text.charCodeAt(s) === 48) || Number(text.slice(s, e)) > 255) return
    }
    emit(start, run.end)
  })

const isPhoneChar = (c: number): boolean =>
  isDigit(c) || c === 32 || c === 45 || c === 46 || c === 40 /* ( */ || c === 41 /* ) */ || c === 47 /* / */

/** libphonenumber's verdicts on recent candidates (it takes tens of microseconds a number). */
const phoneVerdicts = new Map<string, boolean>()

const validPhone = (candidate: string, region: string): boolean => {
  const key = `${region}:${candidate}`
  let verdict = phoneVerdicts.get(key)
  if (verdict === undefined) {
    verdict = isValidPhoneNumber(candidate, region as CountryCode)
    if (phoneVerdicts.size >= 4096) phoneVerdicts.clear()
    phoneVerdicts.set(key, verdict)
  }
  return verdict
}

/**
 * Phone numbers: a run of digits, spaces, dashes, dots, slashes and parentheses (optionally after `+`) with 7 to
 * 15 digits that libphonenumber accepts as a valid number (international with `+`, else of `region`).
 */
export const phone =
  (region: string): Scan =>
  (text, emit) => {
    const n = text.length
    let i = 0
    while (i < n) {
      const c = text.charCodeAt(i)
      const startsHere = isDigit(c) || ((c === 43 || c === 40) && isDigit(at(text, i + 1)))
      if (!startsHere) {
        i++
        continue
      }
      const prev = at(text, i - 1)
      let e = i + 1
      let digits = isDigit(c) ? 1 : 0
      let separatorsInRow = 0
      let opened = c === 40
      // At most 40 characters: the longest written phone number is shorter, and a longer run of digit groups
      // is read in windows (so the work per character stays bounded).
      while (e < n && e - i < 40) {
        const d = text.charCodeAt(e)
        if (!isPhoneChar(d)) break
        if (d === 40) opened = true
        if (isDigit(d)) {
          digits++
          separatorsInRow = 0
        } else if (++separatorsInRow > 2) break
        e++
      }
      while (e > i && !isDigit(text.charCodeAt(e - 1)) && text.charCodeAt(e - 1) !== 41) e--
      // A closing parenthesis belongs to the number only when it closes one opened inside it.
      if (text.charCodeAt(e - 1) === 41 && !opened) e--
      const runEnd = Math.max(e, i + 1)
      if (isAlnum(prev) || prev === 95 || prev === 43) {
        // Glued to a word on its left: skip this group of digits only.
        i++
        while (i < n && isDigit(text.charCodeAt(i))) i++
        continue
      }
      // The run may carry a trailing group that is not part of the number ("call +44 20 7946 0958 2x"): try
      // it whole, then without its last groups (a bounded number of tries).
      let matched = -1
      for (let tries = 0; tries < 4 && digits >= 7; ) {
        if (digits <= 15 && e - i <= 32 && !isAlnum(at(text, e))) {
          tries++
          if (validPhone(text.slice(i, e), region)) {
            matched = e
            break
          }
        }
        while (e > i && isDigit(text.charCodeAt(e - 1))) {
          e--
          digits--
        }
        while (e > i && !isDigit(text.charCodeAt(e - 1))) e--
      }
      if (matched > 0) emit(i, matched)
      i = matched > 0 ? matched : runEnd
    }
  }

const months = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december"
]
const birthContext = ["birth", "born", "dob", "d.o.b", "geb.", "geboren", "née le", "né le"]

const validDate = (year: number, month: number, day: number): boolean => {
  if (year < 1900 || year > 2100 || month < 1 || month > 12 || day < 1) return false
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return day <= days
}

const monthOf = (word: string): number => {
  const w = word.toLowerCase()
  if (w.length < 3) return 0
  for (let m = 0; m < 12; m++) if (months[m]!.startsWith(w) && (w.length === 3 || w === months[m])) return m + 1
  return 0
}

const isDateSeparator = (c: number): boolean => c === 45 || c === 47 || c === 46

/**
 * Dates of birth: a valid calendar date (`1985-03-12`, `03/12/1985`, `12.03.1985`, `12 March 1985`,
 * `March 12, 1985`) with a word like "born", "birth" or "DOB" in the 48 characters before it.
 */
export const dateOfBirth: Scan = (text, emit) => {
  // The birth words first (a few `indexOf` passes), then a date in the rest of their sentence, 48 characters at
  // most: the text between them is never parsed.
  const hits: Array<number> = []
  for (const word of birthContext) {
    const variants = [word, word[0]!.toUpperCase() + word.slice(1), word.toUpperCase()]
    for (const v of variants) {
      for (let k = text.indexOf(v); k >= 0; k = text.indexOf(v, k + 1)) hits.push(k + v.length)
    }
  }
  if (hits.length === 0) return
  hits.sort((a, b) => a - b)
  const n = text.length
  let done = 0
  for (const hit of hits) {
    let to = Math.min(n, hit + 48)
    for (let k = hit; k < to; k++) {
      const c = text.charCodeAt(k)
      if (c === 59 || c === 10 || c === 33 || c === 63 || (c === 46 && at(text, k + 1) === 32)) to = k
    }
    let i = Math.max(hit, done)
    while (i < to) {
      const c = text.charCodeAt(i)
      if (isDigit(c) && !isAlnum(at(text, i - 1))) {
        const numeric = numericDate(text, i)
        const named = numeric === undefined ? dayMonthYear(text, i) : undefined
        const found = numeric ?? named
        if (found !== undefined) {
          emit(i, found)
          done = found
          i = found
          continue
        }
        while (i < to && isDigit(text.charCodeAt(i))) i++
        continue
      }
      if (isAlpha(c) && !isAlpha(at(text, i - 1))) {
        let e = i
        while (e < n && e - i < 10 && isAlpha(text.charCodeAt(e))) e++
        const month = isAlpha(at(text, e)) ? 0 : monthOf(text.slice(i, e))
        const found = month > 0 ? dayAfter(text, e, month) : undefined
        if (found !== undefined) {
          emit(found[0], found[1])
          done = found[1]
          i = found[1]
          continue
        }
        while (i < to && isAlpha(text.charCodeAt(i))) i++
        continue
      }
      i++
    }
    done = Math.max(done, to)
  }
}

/** A numeric date starting at `start` (`1985-03-12`, `03/12/1985`, `12.03.1985`): its end, or undefined. */
const numericDate = (text: string, start: number): number | undefined => {
  const run = digitGroups(text, start, isDateSeparator, 4, 12)
  if (run.tooLong || run.groups.length !== 3 || run.separators[0] !== run.separators[1]) return undefined
  if (isAlnum(at(text, run.end))) return undefined
  const [a, b, c] = run.groups.map(([s, e]) => text.slice(s, e)) as [string, string, string]
  const ok =
    a.length === 4 && b.length <= 2 && c.length <= 2
      ? validDate(Number(a), Number(b), Number(c))
      : c.length === 4 && a.length <= 2 && b.length <= 2
        ? validDate(Number(c), Number(a), Number(b)) || validDate(Number(c), Number(b), Number(a))
        : false
  return ok ? run.end : undefined
}

/** `12 March 1985` starting at `start` (the day): its end, or undefined. */
const dayMonthYear = (text: string, start: number): number | undefined => {
  let e = start
  while (isDigit(at(text, e)) && e - start < 2) e++
  if (at(text, e) !== 32) return undefined
  let m = e + 1
  while (isAlpha(at(text, m)) && m - e < 11) m++
  const month = monthOf(text.slice(e + 1, m))
  if (month === 0) return undefined
  const found = dayBefore(text, e + 1, month)
  return found === undefined ? undefined : found[1]
}

const readNumber = (text: string, i: number, max: number): readonly [number, number] | undefined => {
  let e = i
  while (e < text.length && e - i < max && isDigit(text.charCodeAt(e))) e++
  if (e === i || isDigit(at(text, e))) return undefined
  return [Number(text.slice(i, e)), e]
}

/** `12 March 1985` (the month word at `monthStart`). */
const dayBefore = (text: string, monthStart: number, month: number): readonly [number, number] | undefined => {
  if (at(text, monthStart - 1) !== 32) return undefined
  let s = monthStart - 1
  while (s > 0 && isDigit(text.charCodeAt(s - 1)) && monthStart - 1 - s < 2) s--
  if (s === monthStart - 1 || isAlnum(at(text, s - 1))) return undefined
  const day = Number(text.slice(s, monthStart - 1))
  let e = monthStart
  while (isAlpha(at(text, e))) e++
  if (at(text, e) === 46) e++
  if (at(text, e) !== 32) return undefined
  const year = readNumber(text, e + 1, 4)
  if (year === undefined || !validDate(year[0], month, day)) return undefined
  return [s, year[1]]
}

/** `March 12, 1985` (the month word ends at `monthEnd`). */
const dayAfter = (text: string, monthEnd: number, month: number): readonly [number, number] | undefined => {
  let e = monthEnd
  if (at(text, e) === 46) e++
  if (at(text, e) !== 32) return undefined
  const day = readNumber(text, e + 1, 2)
  if (day === undefined) return undefined
  e = day[1]
  if (at(text, e) === 44) e++
  if (at(text, e) !== 32) return undefined
  const year = readNumber(text, e + 1, 4)
  if (year === undefined || !validDate(year[0], month, day[0])) return undefined
  let s = monthEnd
  while (s > 0 && isAlpha(text.charCodeAt(s - 1))) s--
  return [s, year[1]]
}

// ---------------------------------------------------------------------------------------------------------
// IPv6
// ---------------------------------------------------------------------------------------------------------

const isIpv6Char = (c: number): boolean => isHex(c) || c === 58 /* : */ || c === 46

/** IPv6 addresses: a run of hex digits and colons (with an optional dotted IPv4 tail) that Node's parser accepts. */
export const ipv6: Scan = (text, emit) => {
  const n = text.length
  let from = 0
  for (;;) {
    const colon = text.indexOf(":", from)
    if (colon < 0) return
    let s = colon
    while (s > 0 && colon - s < 40 && isIpv6Char(text.charCodeAt(s - 1))) s--
    let e = colon + 1
    while (e < n && e - s < 46 && isIpv6Char(text.charCodeAt(e))) e++
    while (e > colon && text.charCodeAt(e - 1) === 46) e--
    from = Math.max(e, colon + 1)
    if (isAlnum(at(text, s - 1)) || isAlnum(at(text, e)) || at(text, e) === 58) continue
    let colons = 0
    let hexDigits = 0
    for (let k = s; k < e; k++) {
      const c = text.charCodeAt(k)
      if (c === 58) colons++
      else if (isHex(c)) hexDigits++
    }
    if (colons < 2 || hexDigits < 2) continue
    if (isIPv6(text.slice(s, e))) emit(s, e)
  }
}

// ---------------------------------------------------------------------------------------------------------
// IBAN
// ---------------------------------------------------------------------------------------------------------

/** The length of an IBAN by country (ISO 13616 registry). */
const ibanLengths: { readonly [country: string]: number } = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MR: 27,
  MT: 31,
  MU: 30,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SC: 31,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20
}

/** The ISO 7064 mod-97 check of an IBAN (upper-case letters and digits, country first): the remainder is 1. */
export const ibanChecksum = (iban: string): boolean => {
  const rearranged = iban.slice(4) + iban.slice(0, 4)
  let remainder = 0
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i)
    if (isDigit(c)) remainder = (remainder * 10 + (c - 48)) % 97
    else if (isUpper(c)) remainder = (remainder * 100 + (c - 55)) % 97
    else return false
  }
  return remainder === 1
}

/** IBANs: a country's length of letters and digits (optionally in groups of four) with a valid mod-97 check. */
export const iban: Scan = (text, emit) => {
  const n = text.length
  for (let i = 0; i + 4 <= n; i++) {
    if (!isUpper(text.charCodeAt(i)) || !isUpper(text.charCodeAt(i + 1)) || isAlnum(at(text, i - 1))) continue
    if (!isDigit(text.charCodeAt(i + 2)) || !isDigit(text.charCodeAt(i + 3))) continue
    const length = ibanLengths[text.slice(i, i + 2)]
    if (length === undefined) continue
    let compact = ""
    let e = i
    while (e < n && compact.length < length) {
      const c = text.charCodeAt(e)
      if (isDigit(c) || isUpper(c)) compact += text[e]
      else if (isLower(c)) compact += text[e]!.toUpperCase()
      else if (!(c === 32 && compact.length % 4 === 0 && compact.length > 0 && isAlnum(at(text, e + 1)))) break
      e++
    }
    if (compact.length === length && !isAlnum(at(text, e)) && ibanChecksum(compact)) {
      emit(i, e)
      i = e - 1
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// API keys and tokens
// ---------------------------------------------------------------------------------------------------------

const isTokenChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 45
const isSecretChar = (c: number): boolean => isTokenChar(c) || c === 43 || c === 47 || c === 61

/** Known key prefixes and the fewest characters that follow them in a real key. */
const keyPrefixes: ReadonlyArray<readonly [string, number]> = [
  ["sk-ant-", 20],
  ["sk-proj-", 20],
  ["sk-", 20],
  ["sk_live_", 16],
  ["sk_test_", 16],
  ["rk_live_", 16],
  ["pk_live_", 16],
  ["ghp_", 30],
  ["gho_", 30],
  ["ghu_", 30],
  ["ghs_", 30],
  ["ghr_", 30],
  ["github_pat_", 30],
  ["glpat-", 20],
  ["xoxb-", 10],
  ["xoxp-", 10],
  ["xoxa-", 10],
  ["xoxr-", 10],
  ["xoxs-", 10],
  ["AKIA", 16],
  ["ASIA", 16],
  ["AIza", 30],
  ["hf_", 30],
  ["npm_", 30]
]

const prefixStarts = new Set(keyPrefixes.map(([p]) => p.charCodeAt(0)))
const shortestKey = Math.min(24, ...keyPrefixes.map(([p, n]) => p.length + n))

/** Shannon entropy in bits per character of `text[start, end)` (code units below 128; others count as one). */
const entropy = (text: string, start: number, end: number, counts: Int32Array): number => {
  counts.fill(0)
  for (let k = start; k < end; k++) counts[text.charCodeAt(k) & 127]!++
  const n = end - start
  let h = 0
  for (let k = 0; k < 128; k++) {
    const c = counts[k]!
    if (c > 0) {
      const p = c / n
      h -= p * Math.log2(p)
    }
  }
  return h
}

/**
 * API keys and tokens: a known prefix (`sk-`, `sk-ant-`, `ghp_`, `AKIA`, `xoxb-`, ...) followed by enough key
 * characters, or a high-entropy string (24-512 characters mixing upper case, lower case and digits, over
 * 4 bits of entropy per character).
 */
export const apiKey: Scan = (text, emit) => {
  const n = text.length
  const counts = new Int32Array(128)
  let i = 0
  while (i < n) {
    if (!isSecretChar(text.charCodeAt(i)) || isSecretChar(at(text, i - 1))) {
      i++
      continue
    }
    let e = i
    while (e < n && isSecretChar(text.charCodeAt(e))) e++
    if (e - i < shortestKey) {
      i = e
      continue
    }
    const prefixed = prefixStarts.has(text.charCodeAt(i)) ? keyPrefixes.find(([p]) => text.startsWith(p, i)) : undefined
    if (prefixed !== undefined) {
      let k = i + prefixed[0].length
      while (k < e && isTokenChar(text.charCodeAt(k))) k++
      if (k - i - prefixed[0].length >= prefixed[1]) {
        emit(i, k)
        i = e
        continue
      }
    }
    const length = e - i
    if (length >= 24 && length <= 512) {
      let upper = 0
      let lower = 0
      let digits = 0
      for (let k = i; k < e; k++) {
        const c = text.charCodeAt(k)
        if (isUpper(c)) upper++
        else if (isLower(c)) lower++
        else if (isDigit(c)) digits++
      }
      if (upper > 0 && lower > 0 && digits >= 2 && entropy(text, i, e, counts) > 4) emit(i, e)
    }
    i = e
  }
}
