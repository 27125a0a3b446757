/**
 * The equations a reasoning text writes (`12 * 3 = 36`), read by a scanner instead of the global regex
 * `(?<!\d)(N)\s*([-+/*x×])\s*(N)\s*=\s*(N)` with N = `-?\d+(?:\.\d+)?`: the same matches, in order. recheck
 * cannot read the regex's lookbehind with its automaton, and its randomised fuzzer sometimes called it quadratic
 * (`pnpm lint:regex` flaked on it: V8 runs it in linear time); the scanner is linear by construction: an attempt
 * starts only at the start of a number (or a `-` before one), reads each part once without going back, and a
 * character is read by at most a few attempts.
 */

/** One equation: left operand, operator, right operand, result, as written. */
export type Equation = readonly [a: string, op: string, b: string, c: string]

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** JavaScript's `\s`. */
const isSpace = (c: number): boolean =>
  c === 32 ||
  (c >= 9 && c <= 13) ||
  c === 0xa0 ||
  c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 ||
  c === 0x2029 ||
  c === 0x202f ||
  c === 0x205f ||
  c === 0x3000 ||
  c === 0xfeff

const isOperator = (c: number): boolean =>
  c === 45 /* - */ || c === 43 /* + */ || c === 42 /* * */ || c === 47 /* / */ || c === 120 /* x */ || c === 0xd7

/** The end of the number `-?\d+(?:\.\d+)?` at `i` (greedy, as the regex takes it), or -1. */
const numberEnd = (t: string, i: number): number => {
  let j = i
  if (t.charCodeAt(j) === 45) j++
  if (!isDigit(t.charCodeAt(j))) return -1
  while (isDigit(t.charCodeAt(j))) j++
  if (t.charCodeAt(j) === 46 && isDigit(t.charCodeAt(j + 1))) {
    j += 2
    while (isDigit(t.charCodeAt(j))) j++
  }
  return j
}

const spaces = (t: string, i: number): number => {
  let j = i
  while (isSpace(t.charCodeAt(j))) j++
  return j
}

/** The equation starting at `i`, and where it ends. */
const at = (t: string, i: number): readonly [Equation, number] | undefined => {
  const aEnd = numberEnd(t, i)
  if (aEnd < 0) return undefined
  const opAt = spaces(t, aEnd)
  if (!isOperator(t.charCodeAt(opAt))) return undefined
  const bAt = spaces(t, opAt + 1)
  const bEnd = numberEnd(t, bAt)
  if (bEnd < 0) return undefined
  const eqAt = spaces(t, bEnd)
  if (t.charCodeAt(eqAt) !== 61) return undefined
  const cAt = spaces(t, eqAt + 1)
  const cEnd = numberEnd(t, cAt)
  if (cEnd < 0) return undefined
  return [[t.slice(i, aEnd), t[opAt]!, t.slice(bAt, bEnd), t.slice(cAt, cEnd)], cEnd]
}

/** Every equation of `text`, left to right, not overlapping (the regex's matches). */
export const all = (text: string): Array<Equation> => {
  const out: Array<Equation> = []
  let i = 0
  while (i < text.length) {
    const c = text.charCodeAt(i)
    // `(?<!\d)`: not inside a digit run.
    if ((c === 45 || isDigit(c)) && !(i > 0 && isDigit(text.charCodeAt(i - 1)))) {
      const found = at(text, i)
      if (found !== undefined) {
        out.push(found[0])
        i = found[1]
        continue
      }
    }
    i++
  }
  return out
}
