/**
 * Character classes of JavaScript regexes (`\d`, `\w`, `\s`, the line breaks `.` does not cross) and small
 * forward scans, for the linear scanners that replace backtracking regexes (`pnpm lint:regex`).
 */

/** `\d`: an ASCII digit. */
export const isDigit = (code: number): boolean => code >= 48 && code <= 57

/** `\w`: an ASCII letter, digit or underscore. */
export const isWord = (code: number): boolean =>
  isDigit(code) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95

/** A line terminator: what `.` does not match and where `^`/`$` match with the `m` flag. */
export const isLineBreak = (code: number): boolean => code === 10 || code === 13 || code === 0x2028 || code === 0x2029

/** `\s`: ECMAScript white space and line terminators. */
export const isSpace = (code: number): boolean =>
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

/** The end of the run of characters satisfying `test` that starts at `from`. */
export const runEnd = (text: string, from: number, test: (code: number) => boolean): number => {
  let i = from
  while (i < text.length && test(text.charCodeAt(i))) i++
  return i
}

/** The end of the run of `char` (one UTF-16 unit) that starts at `from`. */
export const charRunEnd = (text: string, from: number, char: number): number => {
  let i = from
  while (i < text.length && text.charCodeAt(i) === char) i++
  return i
}

/** Whether `text` holds a line terminator. */
export const hasLineBreak = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (isLineBreak(text.charCodeAt(i))) return true
  return false
}

/** The end of `-?\d+(?:\.\d+)?` at `from` (greedy; every use of it here never backtracks into it), or -1. */
export const numberEnd = (text: string, from: number): number => {
  const digits = text.charCodeAt(from) === 45 ? from + 1 : from
  const whole = runEnd(text, digits, isDigit)
  if (whole === digits) return -1
  if (text.charCodeAt(whole) !== 46) return whole
  const fraction = runEnd(text, whole + 1, isDigit)
  return fraction > whole + 1 ? fraction : whole
}
