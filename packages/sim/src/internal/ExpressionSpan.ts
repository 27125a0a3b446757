/**
 * The bare arithmetic expression of a question, found by a linear scan. It replaces the regex
 * `(?:^|[^\w.])(\(*-?\d+(?:\.\d+)?(?:\s*[-+*\/x×÷]\s*\(*\s*-?\d+(?:\.\d+)?\s*\)*)+)`, which backtracks
 * cubically on a run of parentheses or blanks (recheck, through `pnpm lint:regex`). That regex never gives
 * back what a quantifier took once a match is possible, so the scan takes every run whole and gives the same
 * capture on any text.
 */
import { charRunEnd, isSpace, isWord, numberEnd, runEnd } from "./Scan.js"

const OPEN = 40
const CLOSE = 41

const isOperator = (code: number) =>
  code === 45 || code === 43 || code === 42 || code === 47 || code === 120 || code === 0xd7 || code === 0xf7

/** The end of one `\s*[-+*\/x×÷]\s*\(*\s*-?\d+(?:\.\d+)?\s*\)*` at `from`, or -1. */
const stepEnd = (text: string, from: number): number => {
  const op = runEnd(text, from, isSpace)
  if (!isOperator(text.charCodeAt(op))) return -1
  const operand = runEnd(text, charRunEnd(text, runEnd(text, op + 1, isSpace), OPEN), isSpace)
  const number = numberEnd(text, operand)
  return number < 0 ? -1 : charRunEnd(text, runEnd(text, number, isSpace), CLOSE)
}

/**
 * The leftmost expression (a number, then one or more operator-number steps, with parentheses) that starts
 * the text or follows a character other than a word character or `.`, as the regex's capture; undefined when
 * there is none.
 */
export const find = (text: string): string | undefined => {
  let start = 0
  while (start <= text.length) {
    const parens = charRunEnd(text, start, OPEN)
    const number = numberEnd(text, parens)
    let end = number < 0 ? -1 : stepEnd(text, number)
    if (end >= 0) {
      for (let next = stepEnd(text, end); next >= 0; next = stepEnd(text, end)) end = next
      return text.slice(start, end)
    }
    // A start inside the same run of `(` reaches the same number: it fails the same way.
    start = Math.max(start, parens) + 1
    while (start <= text.length) {
      const before = text.charCodeAt(start - 1)
      if (!isWord(before) && before !== 46) break
      start++
    }
  }
  return undefined
}
